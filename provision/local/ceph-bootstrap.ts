/**
 * The Ceph part's imperative side, without cephadm: keys, monmap and `ceph-mon --mkfs`; mgr keys and the prometheus
 * module; per OSD `ceph osd new` + `ceph-osd --mkfs` on a sparse bluestore file; the spec's pools, replica sizes
 * and client keys. Every step looks at what exists first, so a warm `lab up` changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mgrPrometheusPort } from '../../helpers/lab/defaults.ts';
import type { Lab } from '../../helpers/lab/model.ts';
import { inNode, startTier } from './bootstrap.ts';
import {
  cephConf, cephDir, cephLayout, cephSpec, clientCaps, clientKeyring, clientOwner, mgrDir, monDir, osdBlock, osdDir, poolSize, publicAddress,
} from './ceph.ts';
import type { LabPaths } from './paths.ts';
import type { Daemon } from './render.ts';
import { run, waitUntil, type Progress } from './sh.ts';

function owner(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`system user ${user} does not exist (is its package installed?)`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function chownTo(path: string, user: string, group = user): void {
  chownSync(path, owner(user).uid, owner(group).gid);
}

/** The ceph CLI as client.admin, from inside the first MON's node (the public network is isolated from the host). */
export function cephCli(lab: Lab, paths: LabPaths) {
  const mon = cephLayout(lab).mons[0]!;
  return (args: string[], timeout = 60_000) => inNode(lab, mon, undefined, ['ceph', '-c', cephConf(paths), '--connect-timeout', '20', ...args], timeout);
}

/** A keyring as the CLI prints it, with the final newline Ceph's parser needs (execa strips it). */
const keyringText = (out: string) => `${out.trimEnd()}\n`;

async function json<T>(ceph: ReturnType<typeof cephCli>, args: string[]): Promise<T> {
  return JSON.parse(await ceph([...args, '-f', 'json'])) as T;
}


async function monStores(lab: Lab, paths: LabPaths, fsid: string): Promise<string> {
  const l = cephLayout(lab);
  const dir = cephDir(paths);
  const monKeyring = join(dir, 'ceph.mon.keyring');
  const admin = clientKeyring(paths, 'client.admin');
  const made: string[] = [];
  if (!existsSync(admin)) {
    await run('ceph-authtool', ['--create-keyring', admin, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mds', 'allow *', '--cap', 'mgr', 'allow *']);
    made.push('admin key');
  }
  if (!existsSync(monKeyring)) {
    await run('ceph-authtool', ['--create-keyring', `${monKeyring}.new`, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await run('ceph-authtool', [`${monKeyring}.new`, '--import-keyring', admin]);
    await run('mv', [`${monKeyring}.new`, monKeyring]);
    made.push('mon key');
  }
  for (const n of l.mons) {
    const data = monDir(paths, n);
    if (existsSync(join(data, 'store.db'))) continue;
    rmSync(data, { recursive: true, force: true });
    mkdirSync(data, { recursive: true });
    chownTo(data, 'ceph');
    const monmap = join(dir, 'monmap');
    await run('monmaptool', ['--create', '--clobber', '--fsid', fsid, ...l.mons.flatMap((m) => ['--addv', m.hostname, `[v2:${publicAddress(lab, m)}:3300,v1:${publicAddress(lab, m)}:6789]`]), monmap]);
    chownTo(monmap, 'ceph');
    chownTo(monKeyring, 'ceph');
    await run('ceph-mon', ['--mkfs', '-c', cephConf(paths), '--cluster', 'ceph', '-i', n.hostname, '--monmap', monmap, '--keyring', monKeyring, '--setuser', 'ceph', '--setgroup', 'ceph']);
    made.push(`mon.${n.hostname} store`);
  }
  return made.length ? `made ${made.join(', ')}` : 'present';
}

async function mgrKeys(lab: Lab, paths: LabPaths): Promise<string> {
  const ceph = cephCli(lab, paths);
  const made: string[] = [];
  for (const n of cephLayout(lab).mgrs) {
    const key = join(mgrDir(paths, n), 'keyring');
    if (existsSync(key) && readFileSync(key, 'utf8').endsWith('\n')) continue;
    mkdirSync(dirname(key), { recursive: true });
    writeFileSync(key, keyringText(await ceph(['auth', 'get-or-create', `mgr.${n.hostname}`, 'mon', 'allow profile mgr', 'osd', 'allow *', 'mds', 'allow *'])), { mode: 0o600 });
    chownTo(key, 'ceph');
    chownTo(dirname(key), 'ceph');
    made.push(`mgr.${n.hostname}`);
  }
  // The prometheus module serves on the mgr node's API address (where the spec's scrape target points).
  const mgr = cephLayout(lab).mgrs[0];
  const notes: string[] = [];
  const want: Record<string, string> = { 'mgr/prometheus/server_addr': mgr?.apiAddress ?? '::', 'mgr/prometheus/server_port': String(mgrPrometheusPort(lab)) };
  for (const [k, v] of Object.entries(want)) {
    const have = (await ceph(['config', 'get', 'mgr', k]).catch(() => '')).trim();
    if (have !== v) {
      // --force: before a mgr has run, the mon does not know the module's options yet.
      await ceph(['config', 'set', 'mgr', k, v, '--force']);
      notes.push(`${k}=${v}`);
    }
  }
  const modules = await json<{ enabled_modules: string[] }>(ceph, ['mgr', 'module', 'ls']);
  if (!modules.enabled_modules.includes('prometheus')) {
    await ceph(['mgr', 'module', 'enable', 'prometheus', '--force']);
    notes.push('prometheus module on');
  }
  return [made.length ? `keys for ${made.join(', ')}` : 'keys present', ...notes].join(', ');
}

/** `ceph osd new` with the OSD's own uuid and the spec's id, its key, and `ceph-osd --mkfs` onto the block file. */
/** Central config, as on a cephadm cluster (`ceph config set osd osd_memory_target …`): the spec's memory target. */
async function centralConfig(lab: Lab, paths: LabPaths): Promise<string> {
  const ceph = cephCli(lab, paths);
  const want: [string, string, string | undefined][] = [['osd', 'osd_memory_target', cephSpec(lab).osdMemoryTargetBytes?.toString()]];
  const notes: string[] = [];
  for (const [who, k, v] of want) {
    if (v === undefined) continue;
    if ((await ceph(['config', 'get', who, k])).trim() !== v) {
      await ceph(['config', 'set', who, k, v]);
      notes.push(`${who} ${k}=${v}`);
    }
  }
  return notes.join(', ') || 'as the spec says';
}

async function osdStores(lab: Lab, paths: LabPaths): Promise<string> {
  const ceph = cephCli(lab, paths);
  const made: string[] = [];
  for (const o of cephLayout(lab).osds) {
    const data = osdDir(paths, o.node, o.id);
    const done = join(data, 'stackgate-mkfs-done');
    if (existsSync(done)) continue;
    const uuidFile = `${data}.uuid`;
    mkdirSync(dirname(data), { recursive: true });
    chownTo(dirname(data), 'ceph');
    const uuid = existsSync(uuidFile) ? readFileSync(uuidFile, 'utf8').trim() : randomUUID();
    writeFileSync(uuidFile, `${uuid}\n`);
    // A half-made store from an interrupted run is made again from scratch.
    rmSync(data, { recursive: true, force: true });
    rmSync(osdBlock(paths, o.node, o.id), { force: true });
    mkdirSync(data, { recursive: true });
    chownTo(data, 'ceph');
    const id = (await ceph(['osd', 'new', uuid, String(o.id)])).trim();
    if (id !== String(o.id)) throw new Error(`ceph osd new ${uuid} ${o.id} gave osd.${id}: osd.${o.id} is taken by another OSD`);
    const key = join(data, 'keyring');
    writeFileSync(key, keyringText(await ceph(['auth', 'get-or-create', `osd.${o.id}`, 'mon', 'allow profile osd', 'mgr', 'allow profile osd', 'osd', 'allow *'])), { mode: 0o600 });
    chownTo(key, 'ceph');
    await inNode(lab, o.node, undefined, ['ceph-osd', '-c', cephConf(paths), '--cluster', 'ceph', '-i', String(o.id), '--mkfs', '--osd-uuid', uuid, '--setuser', 'ceph', '--setgroup', 'ceph'], 180_000);
    writeFileSync(done, `${uuid}\n`);
    made.push(`osd.${o.id} on ${o.node.name}`);
  }
  return made.length ? `made ${made.join(', ')}` : 'present';
}

async function osdsUp(lab: Lab, paths: LabPaths): Promise<string> {
  const ceph = cephCli(lab, paths);
  const n = cephLayout(lab).osds.length;
  let seen = '';
  await waitUntil(`${n} OSDs up and in`, 180_000, async () => {
    const s = await json<{ num_osds: number; num_up_osds: number; num_in_osds: number }>(ceph, ['osd', 'stat']);
    seen = `${s.num_up_osds}/${s.num_osds} up, ${s.num_in_osds} in`;
    return s.num_up_osds >= n && s.num_in_osds >= n ? true : seen;
  });
  return seen;
}

async function pools(lab: Lab, paths: LabPaths): Promise<string> {
  const ceph = cephCli(lab, paths);
  const notes: string[] = [];
  const have = new Map((await json<{ pool_name: string; size: number; application_metadata: Record<string, unknown> }[]>(ceph, ['osd', 'pool', 'ls', 'detail'])).map((p) => [p.pool_name, p]));
  // Pools are independent, and each CLI call costs a second of start-up: all pools side by side.
  await Promise.all(
    (cephSpec(lab).pools ?? []).map(async (pool) => {
      const size = poolSize(lab, pool);
      const p = have.get(pool.name);
      if (!p) {
        await ceph(['osd', 'pool', 'create', pool.name]);
        notes.push(`created ${pool.name}`);
      }
      if (p?.size !== size) {
        await ceph(['osd', 'pool', 'set', pool.name, 'size', String(size), ...(size === 1 ? ['--yes-i-really-mean-it'] : [])]);
        if (p) notes.push(`${pool.name} size ${p.size} → ${size}`);
      }
      const app = pool.application ?? 'rbd';
      if (!p || !(app in p.application_metadata)) {
        const mon = cephLayout(lab).mons[0]!;
        if (app === 'rbd') await inNode(lab, mon, undefined, ['rbd', '-c', cephConf(paths), 'pool', 'init', pool.name], 120_000);
        else await ceph(['osd', 'pool', 'application', 'enable', pool.name, app]);
        if (p) notes.push(`${pool.name} application ${app}`);
      }
    }),
  );
  return notes.join(', ') || 'all present with their sizes';
}

async function clients(lab: Lab, paths: LabPaths): Promise<string> {
  const ceph = cephCli(lab, paths);
  const notes: string[] = [];
  for (const client of Object.keys(cephSpec(lab).clients ?? {})) {
    const caps = clientCaps(lab, client);
    const capArgs = ['mon', caps.mon, 'osd', caps.osd, ...(caps.mgr ? ['mgr', caps.mgr] : [])];
    const existing = await json<{ caps: Record<string, string> }[]>(ceph, ['auth', 'get', client]).catch(() => undefined);
    if (!existing) {
      await ceph(['auth', 'get-or-create', client, ...capArgs]);
      notes.push(`created ${client}`);
    } else if (JSON.stringify(existing[0]?.caps ?? {}) !== JSON.stringify(Object.fromEntries([['mgr', caps.mgr], ['mon', caps.mon], ['osd', caps.osd]].filter(([, v]) => v)))) {
      await ceph(['auth', 'caps', client, ...capArgs]);
      notes.push(`caps of ${client}`);
    }
    const file = clientKeyring(paths, client);
    const key = keyringText(await ceph(['auth', 'get', client]));
    if (!existsSync(file) || readFileSync(file, 'utf8') !== key) writeFileSync(file, key, { mode: 0o640 });
    chownTo(file, 'root', clientOwner(client));
  }
  return notes.join(', ') || 'all present';
}

/** Bring Ceph up (or keep it up): MONs, MGRs with the prometheus module, OSDs, pools, client keys, health. */
export async function upCeph(lab: Lab, paths: LabPaths, fsid: string, daemons: readonly Daemon[], changedList: readonly string[], p: Progress): Promise<void> {
  const started = Date.now();
  // Every Ceph daemon reads the one ceph.conf: when it changed, all of them restart.
  const changed = new Set(changedList.some((c) => daemons.some((d) => d.program === c)) ? daemons.map((d) => d.program) : []);
  const of = (service: RegExp) => daemons.filter((d) => service.test(d.service));
  mkdirSync(cephDir(paths), { recursive: true, mode: 0o755 });
  await p.step('Ceph: keys, monmap and MON stores', () => monStores(lab, paths, fsid));
  await p.step('Ceph: MON running', () => startTier(lab, paths, of(/^ceph-mon$/), changed, 90_000));
  const ceph = cephCli(lab, paths);
  await p.step('Ceph: MON quorum', async () => {
    await waitUntil('MON quorum', 60_000, async () => ((await json<{ quorum_names: string[] }>(ceph, ['quorum_status'])).quorum_names.length === cephLayout(lab).mons.length ? true : 'no quorum'));
    await ceph(['mon', 'enable-msgr2']);
    return cephLayout(lab).mons.map((n) => `mon.${n.hostname}`).join(', ');
  });
  await p.step('Ceph: MGR keys and the prometheus module', () => mgrKeys(lab, paths));
  await p.step('Ceph: MGR running, prometheus module serving', () => startTier(lab, paths, of(/^ceph-mgr$/), changed, 120_000));
  await p.step('Ceph: central config (osd_memory_target)', () => centralConfig(lab, paths));
  await p.step('Ceph: OSD stores (bluestore on a sparse file)', () => osdStores(lab, paths));
  await p.step('Ceph: OSDs running', () => startTier(lab, paths, of(/^ceph-osd-\d+$/), changed, 120_000));
  await p.step('Ceph: OSDs up and in', () => osdsUp(lab, paths));
  await p.step('Ceph: pools (application, replica size)', () => pools(lab, paths));
  await p.step('Ceph: client keys', () => clients(lab, paths));
  await p.step('Ceph: health', async () => {
    let status = '';
    await waitUntil('HEALTH_OK', 120_000, async () => {
      const h = await json<{ status: string; checks: Record<string, { summary: { message: string } }> }>(ceph, ['health']);
      status = [h.status, ...Object.entries(h.checks).map(([k, v]) => `${k}: ${v.summary.message}`)].join('; ');
      return h.status === 'HEALTH_OK' ? true : status;
    }).catch(() => undefined); // a warning is reported (and judged by storage.ceph-health), not fatal here
    return `${status} (Ceph part ${((Date.now() - started) / 1000).toFixed(1)} s)`;
  });
}
