import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/lab/load.ts';
import type { Lab, LabNode, Nic } from '../../helpers/lab/model.ts';

/** Every path the local provider writes, under `.stackgate/<lab>/` at the repository root. */
export interface LabPaths {
  readonly root: string;
  readonly certificates: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly ssh: string;
  readonly sshKey: string;
  readonly authorizedKeys: string;
  readonly knownHosts: string;
  readonly nodes: string;
  readonly logs: string;
  readonly run: string;
  /** A node's /tmp: world-writable, emptied by a reboot and made again at boot (a tmpfs mounted at boot). */
  readonly volatile: (node: string) => string;
  /**
   * A node's /run/netns for the daemons that make network namespaces (the OVN metadata agent): a shared bind mount of
   * itself, bound over /run/netns in those daemons' mount namespace, as each machine of a real cloud has its own.
   */
  readonly netns: (node: string) => string;
  readonly supervisor: string;
  readonly supervisorConf: string;
  readonly supervisorSock: string;
  readonly supervisorPid: string;
  readonly passwords: string;
  /** The lab secrets under Kolla's names (passwords.yml), the file the spec's credentials.secretsFile names. */
  readonly kollaPasswords: string;
  readonly topology: string;
  /** The programs that start when their node boots (systemd's enabled units): all of them once `up` went through. */
  readonly bootEnabled: string;
  node(node: string, ...rest: string[]): string;
  log(node: string, service: string): string;
  hostKey(node: string): string;
}

export function labPaths(labName: string, base = join(repoRoot, '.stackgate')): LabPaths {
  const root = join(base, labName);
  const certificates = join(root, 'certificates');
  const ssh = join(root, 'ssh');
  const supervisor = join(root, 'supervisor');
  return {
    root,
    certificates,
    caCert: join(certificates, 'ca/root.crt'),
    caKey: join(certificates, 'private/root/root.key'),
    ssh,
    sshKey: join(ssh, 'id_ed25519'),
    authorizedKeys: join(ssh, 'authorized_keys'),
    knownHosts: join(ssh, 'known_hosts'),
    nodes: join(root, 'nodes'),
    logs: join(root, 'logs'),
    run: join(root, 'run'),
    volatile: (node: string) => join(root, 'run', `${node}-tmp`),
    netns: (node: string) => join(root, 'run', `${node}-netns`),
    supervisor,
    supervisorConf: join(supervisor, 'supervisord.conf'),
    supervisorSock: join(supervisor, 'supervisor.sock'),
    supervisorPid: join(supervisor, 'supervisord.pid'),
    passwords: join(root, 'passwords.json'),
    kollaPasswords: join(root, 'passwords.yml'),
    topology: join(root, 'topology.json'),
    bootEnabled: join(root, 'boot', 'enabled.json'),
    node: (node, ...rest) => join(root, 'nodes', node, ...rest),
    log: (node, service) => join(root, 'logs', node, `${service}.log`),
    hostKey: (node) => join(ssh, 'hostkeys', `${node}_ed25519`),
  };
}

const hash = (text: string, n: number) => createHash('sha256').update(text).digest('hex').slice(0, n);

/** A Linux interface name (at most 15 characters): the readable one when it fits, a stable hash otherwise. */
export function ifName(readable: string, seed: string): string {
  return readable.length <= 15 && /^[A-Za-z0-9_.-]+$/.test(readable) ? readable : `sg${hash(seed, 13)}`;
}

/** The network namespace that is a node. */
export function netnsName(lab: Lab, node: LabNode | string): string {
  return `${lab.name}-${typeof node === 'string' ? node : node.name}`;
}

/** The host bridge that is a network. */
export function bridgeName(lab: Lab, network: string): string {
  return ifName(`sg-${network}`, `${lab.name}/bridge/${network}`);
}

/** The host end of the veth pair whose namespace end is a node's interface. */
/** The veth a bridged NIC sits on, once its name went to an OVS bridge (the tunnel NIC of a chassis, tunnelNicOnBridge). */
export const underlayName = (nic: string) => `${nic}-phy`.slice(0, 15);

export function hostVethName(lab: Lab, node: LabNode, nic: Nic): string {
  return ifName(`${node.name}-${nic.name}`, `${lab.name}/veth/${node.name}/${nic.name}`);
}
