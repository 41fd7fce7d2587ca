import { sshUser } from '../lab/defaults.ts';
import type { Lab } from '../lab/model.ts';

/**
 * How a service's command runs on a node, per deployer: inside its Kolla container, or on the host where the
 * distribution's packages put it (the embedded lab, hand-built labs).
 */
const KOLLA_CONTAINER: Record<string, string> = {
  'ovs-vsctl': 'openvswitch_vswitchd',
  'ovs-appctl': 'openvswitch_vswitchd',
  'ovn-sbctl': 'ovn_northd',
  'ovn-nbctl': 'ovn_northd',
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
