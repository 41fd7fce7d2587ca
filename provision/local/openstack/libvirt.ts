/**
 * libvirtd and virtlogd beside nova-compute on every compute node, each node's pair its own, and the libvirt secret
 * RBD volumes open with.
 */
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { quote } from '../../../helpers/node/quote.ts';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { cephConf, clientKeyring } from '../ceph/common.ts';
import { daemon, type Component, type Daemon, type LabContext } from '../component.ts';
import { head } from '../config.ts';
import type { LabPaths } from '../paths.ts';
import { run } from '../sh.ts';
import { guestsRun, layout, novaRbd, openstackSecrets, rbdClient, secretsFile } from './common.ts';
import { novaCephConf } from './nova.ts';
import { ovsRun } from './ovn.ts';

/** A compute node's libvirt: libvirtd.conf, and what libvirt keeps (domains, secrets, QEMU's state). */
export const libvirtDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'libvirt');

/** Its runtime directory (sockets, pid files, QEMU monitors), in the lab's run dir, which a reboot clears. */
export const libvirtRun = (paths: LabPaths, node: LabNode) => `${paths.run}/${node.name}-libvirt`;

/** How nova-compute and virsh reach the node's own libvirtd: its socket (libvirt's uri.html, `socket` parameter). */
export const libvirtUri = (paths: LabPaths, node: LabNode) => `qemu+unix:///system?socket=${libvirtRun(paths, node)}/libvirt-sock`;

/** virsh against the node's own libvirtd. */
export const virsh = (paths: LabPaths, node: LabNode) => (args: readonly string[]) =>
  run('virsh', ['-c', libvirtUri(paths, node), ...args]);

/**
 * The paths libvirt (system mode) has compiled in, each bound to the node's own directory: qemu.conf's location
 * cannot be overridden (libvirtd(8)), and the QEMU and secret drivers keep domains, driver locks and secrets, and
 * libvirtd finds virtlogd's socket, under them. Two libvirtds on one host would share all of it.
 */
export function libvirtMounts(paths: LabPaths, node: LabNode): readonly (readonly [string, string])[] {
  const dir = libvirtDir(paths, node);
  return [
    [libvirtRun(paths, node), '/run/libvirt'],
    [`${dir}/lib`, '/var/lib/libvirt'],
    [`${dir}/cache`, '/var/cache/libvirt'],
    [join(paths.logs, node.name, 'libvirt'), '/var/log/libvirt'],
    [`${dir}/qemu`, '/etc/libvirt/qemu'],
    [`${dir}/secrets`, '/etc/libvirt/secrets'],
  ];
}

/** libvirtd's TCP port (libvirtd.conf tcp_port, its default): Nova's qemu+tcp://<address>/system reaches it. */
export const LIBVIRT_TCP_PORT = 16509;

/** Where the target's QEMU takes the migration stream in (qemu.conf migration_port_min/max, their defaults). */
export const QEMU_MIGRATION_PORTS = '49152:49215';

/** The iptables chain in a compute node's namespace that lets only the other compute nodes reach libvirtd's TCP port. */
export const MIGRATION_CHAIN = 'sg-libvirt-migration';

/**
 * Where a compute node takes live migrations in, on every compute node with guests: libvirtd listening on the node's
 * API (management) address, where Nova sends the other node's libvirtd (live_migration_inbound_addr, scheme tcp:
 * qemu+tcp://<address>/system) and QEMU's migration stream (tcp://<address>); the other compute nodes' addresses are
 * the only ones let in (none while there is one compute node). The listener is there whatever the count, so that a
 * compute node joining or leaving changes only the peers' program, never a running libvirtd or nova-compute.
 */
export interface MigrationListener {
  readonly address: string;
  readonly port: number;
  /** The other compute nodes' API addresses, the only ones let in. */
  readonly peers: readonly string[];
}

export function migrationListener(lab: Lab, node: LabNode): MigrationListener | undefined {
  const compute = layout(lab).compute;
  if (!guestsRun(lab) || !compute.some((n) => n.name === node.name)) return undefined;
  const peers = compute.filter((n) => n.name !== node.name).map((n) => n.apiAddress!);
  return { address: node.apiAddress!, port: LIBVIRT_TCP_PORT, peers };
}

/**
 * Run before libvirtd starts, in the node's namespace: the migration chain made when missing (dropping everything
 * until the peers' program fills it) and hooked into INPUT once for libvirtd's port and QEMU's incoming migration
 * ports on the listener's address. An existing chain is left as it is: a restart of libvirtd keeps the peers.
 *
 * Only connection requests (`--syn`) go through the chain. QEMU's ports lie inside the kernel's ephemeral range
 * (32768-60999): hooked whole, the answer to a connection the node itself opened from one of those 64 ports was
 * dropped, and nova-compute's request to Cinder's API timed out after 130 s (a volume attach failed in CI). The
 * hooks without `--syn` that an earlier `up` made are removed.
 */
export function migrationHooks(l: MigrationListener): string[] {
  const ipt = 'iptables -w';
  const hook = (ports: string, syn: boolean) =>
    `INPUT -p tcp -d ${l.address} --dport ${ports}${syn ? ' --syn' : ''} -j ${MIGRATION_CHAIN}`;
  const ports = [String(l.port), QEMU_MIGRATION_PORTS];
  return [
    `{ ! ${ipt} -N ${MIGRATION_CHAIN} 2>/dev/null || ${ipt} -A ${MIGRATION_CHAIN} -j DROP; }`,
    ...ports.map((p) => `while ${ipt} -D ${hook(p, false)} 2>/dev/null; do :; done`),
    ...ports.map((p) => `{ ${ipt} -C ${hook(p, true)} 2>/dev/null || ${ipt} -I ${hook(p, true)}; }`),
  ];
}

/**
 * The peers' program: the chain replaced in one iptables-restore commit (a RETURN per other compute node, a DROP for
 * the rest; declaring the chain flushes it, and --noflush leaves every other chain), then it stays, as a oneshot unit
 * with RemainAfterExit would, so that supervisor counts it running and a change of peers restarts only it.
 */
export function migrationPeers(l: MigrationListener): string[] {
  const rules = [
    '*filter',
    `:${MIGRATION_CHAIN} - [0:0]`,
    ...l.peers.map((p) => `-A ${MIGRATION_CHAIN} -s ${p} -j RETURN`),
    `-A ${MIGRATION_CHAIN} -j DROP`,
    'COMMIT',
  ];
  return ['/bin/sh', '-c', `printf '%s\\n' ${rules.map(quote).join(' ')} | iptables-restore -w --noflush && exec sleep infinity`];
}

/**
 * argv run with the node's libvirt paths bound. Each program already has a mount namespace of its own (`ip netns
 * exec` unshares one and makes / a slave), so the binds reach neither the host nor another node.
 */
function withMounts(paths: LabPaths, node: LabNode, argv: readonly string[], before: readonly string[] = []): string[] {
  const binds = libvirtMounts(paths, node).map(([from, to]) => `mkdir -p ${to} && mount --bind ${quote(from)} ${to}`);
  return ['/bin/sh', '-c', [...binds, ...before, 'exec "$@"'].join(' && '), 'libvirt-mounts', ...argv];
}

/** A host UUID per node: libvirt tells hosts apart by it (a migration to a host with its own UUID is refused). */
export function hostUuid(lab: Lab, node: LabNode): string {
  const h = createHash('sha256').update(`${lab.name}/${node.name}/libvirt`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The usage name of the lab's libvirt secret: libvirt allows one secret per usage in a daemon. */
const rbdSecretUsage = (lab: Lab, client: string) => `stackgate ${lab.name} ${client}`;

/** Where a libvirt run on the host itself (before each node had its own) kept the lab's secret. */
export const HOST_SECRETS_DIR = '/etc/libvirt/secrets';

/** Nova's ceph.conf and keyring on a compute node, readable by nova, as Kolla's /etc/ceph in nova_compute. */
async function novaCephFiles(paths: LabPaths, node: LabNode, client: string, conf: string, keyring: string): Promise<void> {
  const gid = Number((await run('id', ['-g', 'nova'])).trim());
  const dir = dirname(novaCephConf(paths, node));
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  chownSync(dir, 0, gid);
  const own = join(dir, `ceph.${client}.keyring`);
  writeFileSync(own, readFileSync(keyring), { mode: 0o640 });
  chownSync(own, 0, gid);
  const text = readFileSync(conf, 'utf8').replace(/^keyring = .*\$cluster\.\$name\.keyring$/m, `keyring = ${dir}/$cluster.$name.keyring`);
  writeFileSync(novaCephConf(paths, node), text, { mode: 0o644 });
}

/** Define the secret in one node's libvirtd, replacing one of the same usage under another UUID (older state). */
async function defineSecret(lab: Lab, paths: LabPaths, node: LabNode, client: string, uuid: string, key: string): Promise<void> {
  const v = virsh(paths, node);
  const dir = mkdtempSync(join(paths.root, 'libvirt-secret-'));
  try {
    const usage = rbdSecretUsage(lab, client);
    writeFileSync(join(dir, 'secret.xml'), `<secret ephemeral='no' private='no'><uuid>${uuid}</uuid><usage type='ceph'><name>${usage}</name></usage></secret>\n`);
    writeFileSync(join(dir, 'key'), key, { mode: 0o600 });
    for (const line of (await v(['secret-list'])).split('\n')) {
      const [other, type, ...name] = line.trim().split(/\s+/);
      if (other && other !== uuid && type === 'ceph' && name.join(' ') === usage) await v(['secret-undefine', other]);
    }
    await v(['secret-define', join(dir, 'secret.xml')]);
    await v(['secret-set-value', '--secret', uuid, '--file', join(dir, 'key')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The libvirt secret QEMU opens RBD volumes with: the Cinder client's key under the UUID cinder.conf and nova.conf
 * name (rbd_secret_uuid), defined in every compute node's libvirtd. One UUID for all of them, as Kolla's
 * cinder_rbd_secret_uuid: Cinder names one secret in every volume's connection info, whichever host attaches it.
 * libvirt keeps it (ephemeral='no'); defining it again with the same UUID updates it.
 */
export async function rbdSecret(lab: Lab, paths: LabPaths, compute: readonly LabNode[], uuid: string, conf: string, keyring: string): Promise<string> {
  const client = rbdClient(lab);
  if (!client) return 'no RBD client';
  const key = readFileSync(keyring, 'utf8').match(/^\s*key\s*=\s*(\S+)/m)?.[1];
  if (!key) throw new Error(`no key in ${keyring}`);
  const nova = novaRbd(lab);
  for (const node of compute) {
    // rbd import/stat run as nova: a ceph.conf whose keyring nova may read.
    if (nova) await novaCephFiles(paths, node, client.client, conf, keyring);
    await defineSecret(lab, paths, node, client.client, uuid, key);
  }
  const where = compute.map((n) => n.name).join(', ');
  return `${client.client} key as libvirt secret ${uuid} on ${where}${nova ? `; Nova's disks in pool ${nova.pool}` : ''}`;
}

function renderLibvirt({ lab, paths }: LabContext): Daemon[] {
  return layout(lab).compute.flatMap((node) => {
    const dir = libvirtDir(paths, node);
    const runDir = libvirtRun(paths, node);
    const conf = `${dir}/libvirtd.conf`;
    const dirs = libvirtMounts(paths, node).map(([from]) => ({ path: from }));
    const listener = migrationListener(lab, node);
    return [
      daemon(node, 'virtlogd', { argv: withMounts(paths, node, ['/usr/sbin/virtlogd', '--pid-file', `${runDir}/virtlogd.pid`]), dirs }),
      daemon(node, 'libvirtd', {
        // libvirt plugs the guest's tap into br-int with ovs-vsctl, which finds the node's ovsdb-server by OVS_RUNDIR.
        argv: withMounts(paths, node, [
          '/usr/bin/env', `OVS_RUNDIR=${ovsRun(paths, node)}`, '/usr/sbin/libvirtd', '--config', conf, '--pid-file', `${runDir}/libvirtd.pid`,
          // listen_tcp is honoured only with --listen (libvirtd(8)), when libvirtd is not socket-activated.
          ...(listener ? ['--listen'] : []),
        ], listener ? migrationHooks(listener) : []),
        files: [
          {
            path: conf,
            content: [
              head(lab, node, 'libvirtd.conf'),
              // nova-compute (group libvirt) connects over the UNIX socket; no polkit here.
              'unix_sock_group = "libvirt"',
              'unix_sock_ro_perms = "0777"',
              'unix_sock_rw_perms = "0770"',
              'auth_unix_ro = "none"',
              'auth_unix_rw = "none"',
              'log_outputs = "3:stderr"',
              `host_uuid = "${hostUuid(lab, node)}"`,
              ...(listener
                ? [
                    // Live migration: the other compute nodes' libvirtd connect here (Nova's
                    // qemu+tcp://<address>/system), without auth, on this node's management address inside its
                    // namespace, never on the host's interfaces; the chain MIGRATION_CHAIN (made before libvirtd
                    // starts) lets only them in.
                    'listen_tls = 0',
                    'listen_tcp = 1',
                    `listen_addr = "${listener.address}"`,
                    `tcp_port = "${listener.port}"`,
                    'auth_tcp = "none"',
                  ]
                : []),
              '',
            ].join('\n'),
          },
        ],
        dirs: [{ path: dir }, ...dirs],
        // No TCP health probe on the listener: the probes run from the host, which the migration chain keeps out.
      }),
      ...(listener ? [daemon(node, 'migration-peers', { argv: migrationPeers(listener) })] : []),
    ];
  });
}

/** `lab down`: the secret's files, libvirtd being stopped (each node's, and one a host-wide libvirt kept). */
async function removeSecret({ lab, paths }: LabContext): Promise<string> {
  const uuid = existsSync(secretsFile(paths)) ? openstackSecrets(paths).rbdSecretUuid : undefined;
  if (!uuid) return 'no libvirt secret';
  const dirs = [...layout(lab).compute.map((n) => `${libvirtDir(paths, n)}/secrets`), HOST_SECRETS_DIR];
  const files = dirs.flatMap((d) => [`${uuid}.xml`, `${uuid}.base64`].map((f) => join(d, f))).filter((f) => existsSync(f));
  for (const f of files) rmSync(f, { force: true });
  return files.length ? `removed libvirt secret ${uuid} (${files.length} files)` : 'no libvirt secret';
}

export const libvirt: Component = {
  name: 'libvirt',
  after: ['ceph-pools', 'openvswitch'],
  needed: (lab) => guestsRun(lab) && layout(lab).compute.length > 0,
  packages: () => [
    'libvirt-daemon-system', 'nova-compute-qemu', 'qemu-utils', 'qemu-block-extra', 'sudo',
    // The migration chain in each compute node's namespace.
    'iptables',
  ],
  render: renderLibvirt,
  configure: async (c) => {
    const client = rbdClient(c.lab);
    if (!client) return;
    const { lab, paths } = c;
    await c.step(`libvirt secret for RBD volumes and disks (${client.client})`, () =>
      rbdSecret(lab, paths, layout(lab).compute, openstackSecrets(paths).rbdSecretUuid, cephConf(paths), clientKeyring(paths, client.client)));
  },
  stop: removeSecret,
  keeps: ({ lab, paths }) => layout(lab).compute.flatMap((n) => ['qemu', 'secrets', 'lib'].map((d) => `${libvirtDir(paths, n)}/${d}`)),
};
