import { sshUser } from '../lab/defaults.ts';
import type { Lab } from '../lab/model.ts';
import { shellLine } from './quote.ts';
import type { SshHost } from './ssh.ts';

/**
 * How a service's command runs on a node, per deployer: inside its Kolla container, or on the host where the
 * distribution's packages put it (the embedded lab, hand-built labs).
 */
const KOLLA_CONTAINER: Record<string, string> = {
  'ovs-vsctl': 'openvswitch_vswitchd',
  'ovs-appctl': 'openvswitch_vswitchd',
  'ovn-sbctl': 'ovn_northd',
  'ovn-nbctl': 'ovn_northd',
  'ovn-northd': 'ovn_northd',
  ceph: 'cephadm',
  named: 'bind',
};

export function inService(lab: Lab, tool: string, command: string): string {
  if (lab.deployer.kind !== 'kolla') return command;
  const container = KOLLA_CONTAINER[tool];
  if (!container) return command;
  if (container === 'cephadm') return `cephadm shell -- ${command}`;
  return `docker exec ${container} ${command}`;
}

/**
 * A Ceph command (`ceph …`, `rbd …`) as the lab's Ceph deployer runs it on a Ceph node: inside `cephadm shell` where
 * cephadm deployed Ceph (as root: through sudo when the lab's SSH user is not root), on the node itself where the
 * distribution's packages did (the embedded lab: its sshd points CEPH_CONF at the lab's ceph.conf).
 */
export function inCeph(lab: Lab, command: string): string {
  if (lab.ceph?.deployer !== 'cephadm') return command;
  const sudo = sshUser(lab) === 'root' ? '' : 'sudo ';
  return `${sudo}cephadm shell -- ${command}`;
}

/** A shell script run as root on a node: as it is where the lab's SSH user is root, else through `sudo -n sh -c`. */
export const asRoot = (lab: Lab, script: string): string =>
  (sshUser(lab) === 'root' ? script : shellLine(['sudo', '-n', 'sh', '-c', script]));

/**
 * Where the deployer's client runs (deployer.client): a node of the lab or a host beside it, as SSH reaches it; an
 * error naming the spec field when the spec does not say.
 */
export function deployerClient(lab: Lab): SshHost {
  const c = lab.deployer.client;
  if (c?.node) return lab.node(c.node);
  if (c?.host) return { name: c.host.name, managementAddress: c.host.address };
  throw new Error(`lab ${lab.name}: deployer.client names no node or host where the ${lab.deployer.kind} client runs`);
}

/** `juju status` of the lab's model as JSON (deployer.client.model, else the client's current model). */
export function jujuStatusCommand(lab: Lab): string {
  const model = lab.deployer.client?.model;
  return model ? shellLine(['juju', 'status', '--format=json', '-m', model]) : 'juju status --format=json';
}
