/** sshd on every node with an address (the checks log in with the lab key), and known_hosts for the lab's clients. */
import { existsSync, readFileSync } from 'node:fs';
import { DEFAULTS, sshPort } from '../../../helpers/lab/defaults.ts';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { cephConf, cephDue } from '../ceph/common.ts';
import type { Component, Daemon, LabContext, RenderedFile } from '../component.ts';
import type { LabPaths } from '../paths.ts';
import { nodeAddresses } from './roles.ts';

export function renderSshd(paths: LabPaths, node: LabNode, env: Readonly<Record<string, string>> = {}, port: number = DEFAULTS.sshPort): string {
  // sshd takes the first SetEnv line only: every variable goes on that one line.
  // SHLVL=1: the nodes share the host's accounts, and bash sources ~/.bashrc for a command sent over SSH only in a
  // top-level shell. The host's rc files are not the node's, and can cost half a second per command (pyenv init).
  const setEnv = Object.entries({ SHLVL: '1', OVS_RUNDIR: `${paths.run}/${node.name}-ovs`, OVN_RUNDIR: `${paths.run}/${node.name}-ovs`, ...env }).map(([k, v]) => `${k}=${v}`).join(' ');
  const listen = [...new Set([node.managementAddress, node.apiAddress].filter((a): a is string => !!a))];
  return `# Rendered by stackgate (local provider) for ${node.name}; do not edit.
${listen.map((a) => `ListenAddress ${a}:${port}`).join('\n')}
HostKey ${paths.hostKey(node.name)}
PidFile ${paths.run}/${node.name}-sshd.pid
AuthorizedKeysFile ${paths.authorizedKeys}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The lab key lives in the repository's state directory, whose owner need not be root.
StrictModes no
PrintMotd no
AcceptEnv LANG LC_*
# All nodes share one filesystem: point OVS/OVN clients in a node's sessions at that node's own daemons (and the
# ceph CLI at the lab's ceph.conf when the lab runs Ceph).
SetEnv ${setEnv}
Subsystem sftp /usr/lib/openssh/sftp-server
`;
}

function renderSshdDaemon(lab: Lab, paths: LabPaths, node: LabNode): Daemon {
  const conf = paths.node(node.name, 'sshd', 'sshd_config');
  // The node's boot configuration, where compute.restart-policy reads it: its units and which of them are enabled.
  const boot = { STACKGATE_SUPERVISOR_CONF: paths.supervisorConf, STACKGATE_BOOT_ENABLED: paths.bootEnabled };
  const env: Record<string, string> = { ...boot, ...(cephDue(lab) ? { CEPH_CONF: cephConf(paths) } : {}) };
  return {
    node: node.name,
    service: 'sshd',
    program: `${node.name}-sshd`,
    argv: ['/usr/sbin/sshd', '-D', '-e', '-f', conf],
    files: [{ path: conf, content: renderSshd(paths, node, env, sshPort(lab)) }],
    dirs: [{ path: paths.node(node.name, 'sshd') }, { path: '/run/sshd', mode: 0o755 }],
    health: [{ kind: 'tcp', host: (node.managementAddress ?? node.apiAddress)!, port: sshPort(lab) }],
  };
}

/** known_hosts lines for every node: its addresses and FQDN with its host key. */
export function renderKnownHosts(lab: Lab, hostKeys: Record<string, string>): string {
  const domain = lab.spec.dns?.domain;
  return lab.nodes
    .filter((n) => hostKeys[n.name])
    .map((n) => {
      // ssh looks a host up as [name]:port when the port is not 22.
      const port = sshPort(lab);
      const names = [n.hostname, ...(domain ? [`${n.hostname}.${domain}`] : []), ...nodeAddresses(n)].map((h) => (port === 22 ? h : `[${h}]:${port}`));
      return `${names.join(',')} ${hostKeys[n.name]!.trim().split(/\s+/).slice(0, 2).join(' ')}`;
    })
    .join('\n') + '\n';
}


const sshNodes = (lab: Lab) => lab.nodes.filter((n) => n.managementAddress || n.apiAddress);

export const sshd: Component = {
  name: 'sshd',
  after: ['pki'],
  needed: (lab) => sshNodes(lab).length > 0,
  packages: () => ['openssh-server', 'openssh-client'],
  render: ({ lab, paths }: LabContext) => sshNodes(lab).map((n) => renderSshdDaemon(lab, paths, n)),
  files: ({ lab, paths }: LabContext): RenderedFile[] => {
    const pub = (n: LabNode) => `${paths.hostKey(n.name)}.pub`;
    const keys = Object.fromEntries(lab.nodes.filter((n) => existsSync(pub(n))).map((n) => [n.name, readFileSync(pub(n), 'utf8')]));
    return [{ path: paths.knownHosts, content: renderKnownHosts(lab, keys) }];
  },
};
