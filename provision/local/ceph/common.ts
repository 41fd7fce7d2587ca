/**
 * The embedded lab's Ceph (storage phase 2) from the lab spec's storage.ceph section: Debian's Ceph packages without
 * cephadm — one MON and one MGR per spec node, one file-backed bluestore OSD per spec OSD entry (OSD id = its index
 * in storage.ceph.osds, so osd.N is always the same node), each in its node's namespace on the Ceph public network
 * (the spec's storage network). What the Ceph components share: layout, ceph.conf, the CLI, the fsid.
 */
import { randomUUID } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import type { CephSpec } from '../../../helpers/lab/spec.ts';
import type { Component, Daemon, RenderedFile } from '../component.ts';
import { ini, userIds } from '../config.ts';
import { inNode } from '../exec.ts';
import type { LabPaths } from '../paths.ts';

/** Debian 12 packages of the Ceph part (Ceph 16.2 pacific), installed with --no-install-recommends. */
export const CEPH_PACKAGES = ['ceph-mon', 'ceph-mgr', 'ceph-osd', 'ceph-common'] as const;

/** Size of each OSD's sparse bluestore file when the spec names no OSD disk (the host's disk is shared, sparse). */
export const DEFAULT_OSD_GIB = 10;

/**
 * Whether the embedded lab runs Ceph: the spec has a Ceph deployed from packages (not cephadm or charms) and the
 * storage phase has reached Ceph's phase.
 */
export function cephDue(lab: Lab): boolean {
  const c = lab.ceph;
  return lab.deployer.kind === 'packages' && !!c && (c.deployer ?? 'packages') === 'packages' && lab.storagePhase >= c.phase;
}

export function cephSpec(lab: Lab): CephSpec {
  if (!lab.ceph) throw new Error(`lab ${lab.name}: the spec has no storage.ceph`);
  return lab.ceph;
}

// ---------------------------------------------------------------- where things are

export const cephDir = (paths: LabPaths) => join(paths.root, 'ceph');
/** The cluster's ceph.conf: every node and every client of the lab reads this one (sshd sets CEPH_CONF to it). */
export const cephConf = (paths: LabPaths) => join(cephDir(paths), 'ceph.conf');
/** A client's keyring, as ceph.conf's `keyring = …/$cluster.$name.keyring` finds it. */
export const clientKeyring = (paths: LabPaths, client: string) => join(cephDir(paths), `ceph.${client}.keyring`);
export const cephRun = (paths: LabPaths) => join(paths.run, 'ceph');
export const fsidFile = (paths: LabPaths) => join(cephDir(paths), 'fsid');

export const monDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'ceph', `mon-${node.hostname}`);
export const mgrDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'ceph', `mgr-${node.hostname}`);
export const osdDir = (paths: LabPaths, node: LabNode, id: number) => paths.node(node.name, 'ceph', `osd-${id}`);
/** The bluestore block file sits beside osd_data, not inside it. */
export const osdBlock = (paths: LabPaths, node: LabNode, id: number) => paths.node(node.name, 'ceph', `osd-${id}.block`);

/** The cluster's fsid, made once and kept in the state dir. */
export function ensureFsid(paths: LabPaths): string {
  const f = fsidFile(paths);
  if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  const fsid = randomUUID();
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, `${fsid}\n`);
  return fsid;
}

// ---------------------------------------------------------------- layout from the spec

export interface CephOsd {
  readonly id: number;
  readonly node: LabNode;
  readonly sizeGiB: number;
}

export interface CephLayout {
  readonly mons: readonly LabNode[];
  readonly mgrs: readonly LabNode[];
  readonly osds: readonly CephOsd[];
  /** The Ceph public network (the spec's storage network; the API network when it has none). */
  readonly publicNetwork: string;
  /** The replication network when the spec has a storage-replication network. */
  readonly clusterNetwork: string | undefined;
}

/** A node's address on the Ceph public network. */
export function publicAddress(lab: Lab, node: LabNode): string {
  const net = lab.networkFor('storage') ?? lab.networkFor('api') ?? lab.networkFor('management');
  const a = (net && node.addresses[net.name]) ?? node.apiAddress;
  if (!a) throw new Error(`lab ${lab.name}: node ${node.name} has no address on the Ceph public network ${net?.name ?? '(none)'}`);
  return a;
}

export function cephLayout(lab: Lab): CephLayout {
  const c = cephSpec(lab);
  const pub = lab.networkFor('storage') ?? lab.networkFor('api') ?? lab.networkFor('management');
  if (!pub) throw new Error(`lab ${lab.name}: no network for Ceph's public network`);
  const repl = lab.networkFor('storage-replication');
  return {
    mons: c.mons.map((n) => lab.node(n)),
    mgrs: (c.mgrs ?? c.mons).map((n) => lab.node(n)),
    osds: c.osds.map((o, id) => {
      const node = lab.node(o.node);
      const disk = o.disk ? node.disks.find((d) => d.name === o.disk) : undefined;
      return { id, node, sizeGiB: disk?.sizeGiB ?? DEFAULT_OSD_GIB };
    }),
    publicNetwork: pub.cidr.text,
    clusterNetwork: repl?.cidr.text,
  };
}

/** The replica count the spec wants for a pool. */
export function poolSize(lab: Lab, pool: { size?: number }): number {
  return pool.size ?? cephSpec(lab).poolDefaultSize ?? 3;
}

/**
 * Kolla's (and Ceph's OpenStack guide's) caps for a client: `profile rbd` on each of its pools, read-only on a pool
 * another client lists first (the pool that client owns: client.cinder reads glance's images).
 */
export function clientCaps(lab: Lab, client: string): { mon: string; osd: string; mgr: string } {
  const clients = cephSpec(lab).clients ?? {};
  const pools = clients[client] ?? [];
  const ownedElsewhere = new Set(Object.entries(clients).filter(([c]) => c !== client).map(([, p]) => p[0]).filter((p): p is string => !!p && p !== pools[0]));
  const rw = pools.filter((p) => !ownedElsewhere.has(p));
  return {
    mon: 'profile rbd',
    osd: pools.map((p) => (ownedElsewhere.has(p) ? `profile rbd-read-only pool=${p}` : `profile rbd pool=${p}`)).join(', '),
    mgr: rw.map((p) => `profile rbd pool=${p}`).join(', '),
  };
}

/** The system user that reads a client's keyring (the service that uses it). */
export function clientOwner(client: string): string {
  const svc = client.replace(/^client\./, '');
  return svc.startsWith('cinder') ? 'cinder' : svc.startsWith('glance') ? 'glance' : svc.startsWith('nova') ? 'nova' : 'root';
}

// ---------------------------------------------------------------- ceph.conf

export function renderCephConf(lab: Lab, paths: LabPaths, fsid: string): string {
  const c = cephSpec(lab);
  const l = cephLayout(lab);
  const monAddr = (n: LabNode) => `[v2:${publicAddress(lab, n)}:3300,v1:${publicAddress(lab, n)}:6789]`;
  const daemonLog = { log_to_file: false, log_to_stderr: true, err_to_stderr: true, mon_cluster_log_to_file: false };
  const sections: Record<string, Record<string, string | number | boolean | undefined>> = {
    global: {
      fsid,
      mon_initial_members: l.mons.map((n) => n.hostname).join(', '),
      mon_host: l.mons.map(monAddr).join(','),
      public_network: l.publicNetwork,
      cluster_network: l.clusterNetwork,
      auth_cluster_required: 'cephx',
      auth_service_required: 'cephx',
      auth_client_required: 'cephx',
      auth_allow_insecure_global_id_reclaim: false,
      osd_pool_default_size: c.poolDefaultSize,
      run_dir: cephRun(paths),
      // The nodes share the host's disk, which is not the lab's to judge: warn only when it is nearly full.
      mon_data_avail_warn: 5,
      mon_data_avail_crit: 2,
    },
    client: { keyring: `${cephDir(paths)}/$cluster.$name.keyring`, admin_socket: '', log_file: '/dev/null' },
    mon: { ...daemonLog },
    mgr: { ...daemonLog },
    osd: {
      ...daemonLog,
      osd_objectstore: 'bluestore',
      bluestore_block_create: true,
    },
  };
  for (const n of l.mons) sections[`mon.${n.hostname}`] = { host: n.hostname, mon_data: monDir(paths, n), keyring: `${monDir(paths, n)}/keyring`, public_addr: publicAddress(lab, n) };
  for (const n of l.mgrs) sections[`mgr.${n.hostname}`] = { host: n.hostname, mgr_data: mgrDir(paths, n), keyring: `${mgrDir(paths, n)}/keyring` };
  for (const o of l.osds) {
    sections[`osd.${o.id}`] = {
      host: o.node.hostname,
      osd_data: osdDir(paths, o.node, o.id),
      keyring: `${osdDir(paths, o.node, o.id)}/keyring`,
      bluestore_block_path: osdBlock(paths, o.node, o.id),
      bluestore_block_size: o.sizeGiB * 1024 ** 3,
      public_addr: publicAddress(lab, o.node),
    };
  }
  return ini(sections, `# Rendered by stackgate (local provider) for ${lab.name}: Ceph ${c.release ?? ''} (packages, no cephadm); do not edit.`);
}


// ---------------------------------------------------------------- shared by the Ceph components

export const cephDaemon = (node: LabNode, service: string, argv: string[], d: Partial<Daemon> = {}): Daemon =>
  ({ node: node.name, service, program: `${node.name}-${service}`, manual: true, argv, files: [], dirs: [], health: [], ...d });

/**
 * The sections of an INI text a Ceph daemon reads ([global], its type's and its own, e.g. [osd] and [osd.2]), in
 * order: what restarts it when ceph.conf changes. A new OSD's section leaves every other daemon alone.
 */
export function cephSectionsOf(content: string, type: 'mon' | 'mgr' | 'osd', id: string): string {
  const wanted = new Set(['global', type, `${type}.${id}`]);
  let keep = false;
  return content
    .split('\n')
    .filter((line) => {
      const section = /^\[([^\]]+)\]\s*$/.exec(line);
      if (section) keep = wanted.has(section[1]!);
      return keep && line.trim() !== '';
    })
    .join('\n');
}

/** The arguments every Ceph daemon starts with, and the one ceph.conf they all read (each restarts for its sections). */
export function cephArgs(
  lab: Lab, paths: LabPaths, type: 'mon' | 'mgr' | 'osd', id: string,
): { argv: string[]; conf: RenderedFile & { mode: number } } {
  const conf = {
    path: cephConf(paths), content: renderCephConf(lab, paths, readFsid(paths)), mode: 0o644,
    relevant: (content: string) => cephSectionsOf(content, type, id),
  };
  return { argv: ['-f', '--cluster', 'ceph', '--id', id, '--setuser', 'ceph', '--setgroup', 'ceph', '-c', conf.path], conf };
}

export const cephRunDir = (paths: LabPaths) => ({ path: cephRun(paths), owner: 'ceph' });

/** The fsid made by the keys hook; rendering before it exists is a bug of the caller. */
export function readFsid(paths: LabPaths): string {
  if (!existsSync(fsidFile(paths))) throw new Error(`no Ceph fsid in ${fsidFile(paths)}: the Ceph keys were not made`);
  return readFileSync(fsidFile(paths), 'utf8').trim();
}

export function chownTo(path: string, user: string, group = user): void {
  chownSync(path, userIds(user).uid, userIds(group).gid);
}

/** The ceph CLI as client.admin, from inside the first MON's node (the public network is isolated from the host). */
export function cephCli(lab: Lab, paths: LabPaths) {
  const mon = cephLayout(lab).mons[0]!;
  const conf = cephConf(paths);
  return (args: string[], timeout = 60_000) =>
    inNode(lab, mon, undefined, ['ceph', '-c', conf, '--connect-timeout', '20', ...args], timeout);
}

/** A keyring as the CLI prints it, with the final newline Ceph's parser needs (execa strips it). */
export const keyringText = (out: string) => `${out.trimEnd()}\n`;

export async function cephJson<T>(ceph: ReturnType<typeof cephCli>, args: string[]): Promise<T> {
  return JSON.parse(await ceph([...args, '-f', 'json'])) as T;
}

/** What the Ceph components have in common: needed when Ceph is due, from the Ceph packages. */
export const cephBase: Pick<Component, 'needed' | 'packages'> = {
  needed: (lab) => cephDue(lab),
  packages: () => CEPH_PACKAGES,
};

