/**
 * ARC-04, the lab survives reboots. Before anything is rebooted the layer makes durable things: a volume written from
 * inside the run's guest, an image, a Ceph object, a Keystone token, Prometheus history. Then each node is power-cycled
 * hard in turn and, last, the whole lab; after each reboot it reads everything back. Each check judges one kind of
 * thing over every reboot and names the reboot after which it did not come back.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { check, type CheckContext } from '../../helpers/gate/check.ts';
import { persistence } from '../../helpers/lab/defaults.ts';
import { prometheusOf, query } from '../../helpers/prometheus/client.ts';
import { backendsNow, volumeTypes, Volumes } from '../../helpers/openstack/volumes.ts';
import { partitions } from '../../helpers/openstack/guest.ts';
import { waitFor } from '../../helpers/openstack/wait.ts';
import {
  CephObject, cephProblems, guestRunsAfterBoot, hardReboot, readBack, rounds, sha256, tokenValid, vipProblems,
  WRITTEN_KIB, type Reboot,
} from './durable.ts';

/** A thing read back: what was seen, or why it could not be read. */
type Seen<T> = { ok: T } | { error: string };
const seen = <T>(p: Promise<T>): Promise<Seen<T>> => p.then((ok) => ({ ok }), (e: unknown) => ({ error: (e as Error).message }));

interface Before {
  server?: Seen<{ id: string; name: string; disk: string; volume: string; sum: string }>;
  image?: Seen<{ id: string; name: string; sum: string }>;
  object?: Seen<CephObject>;
  token: string;
  /** Unix seconds at which Prometheus had samples, and how many series of `up`. */
  history?: Seen<{ at: number; series: number }>;
}

interface After {
  readonly reboot: Reboot;
  vips: Seen<string[]>;
  ceph?: Seen<string[]>;
  object?: Seen<string>;
  server?: Seen<{ status: string; sum: string }>;
  image?: Seen<string>;
  token: Seen<{ status: number }>;
  history?: Seen<number>;
}

interface Story {
  readonly before: Before;
  readonly after: After[];
}

let story: Promise<Story> | undefined;
/** Undone after the file, before the ledger removes the cloud resources (hooks after a file run last-first). */
const removals: (() => Promise<void>)[] = [];

/** The guest's answers may take this long after its host is back (a TCG boot, then DHCP and the metadata key). */
const GUEST_BACK_MS = 240_000;

async function prepare(ctx: CheckContext): Promise<Before> {
  const { lab, cloud, tenant, node } = ctx;
  const c = await cloud();
  const before: Before = { token: c.token };
  const t = await tenant();
  const rbd = lab.ceph ? backendsNow(lab).due.find((b) => b.driver === 'ceph') : undefined;
  const guest = !lab.spec.capabilities?.lacks?.['guest-dataplane'] && lab.spec.compute?.guestImage;
  const mon = lab.ceph?.mons[0];
  const jobs: Promise<unknown>[] = [];
  if (guest) {
    jobs.push(seen((async () => {
      const { server } = await t.server();
      const volumes = new Volumes(c, t.ledger);
      const type = rbd ? (await volumeTypes(c)).find((x) => x.name === (rbd.volumeType ?? rbd.name))?.name : undefined;
      const v = await volumes.create('persist-volume', { size: 1, ...(type ? { volume_type: type } : {}) });
      const disks = partitions(await t.guestRuns('cat /proc/partitions'));
      await volumes.attach(v, server.id);
      removals.push(async () => void (await volumes.detach(v, server.id)));
      const { value } = await waitFor(async () => partitions(await t.guestRuns('cat /proc/partitions')), {
        what: `volume ${v.name} as a disk in guest ${server.name}`,
        timeoutMs: 60_000,
        intervalMs: 2000,
        state: (p) => [...p.keys()].join(' '),
        done: (p) => [...p.keys()].some((d) => !disks.has(d)),
      });
      const disk = [...value.keys()].find((d) => !disks.has(d))!;
      const write = `dd if=/dev/urandom of=/dev/${disk} bs=1024 count=${WRITTEN_KIB} 2>/dev/null && sync && ${readBack(disk)}`;
      const sum = (await t.guestRuns(write)).split(/\s/)[0]!;
      return { id: server.id, name: server.name, disk, volume: v.name, sum };
    })()).then((s) => (before.server = s)));
  }
  jobs.push(seen(t.image().then((i) => ({ id: i.id, name: i.name, sum: sha256(t.imageBytes) }))).then((s) => (before.image = s)));
  if (mon) {
    jobs.push(seen((async () => {
      const o = new CephObject(lab, t.ledger.name('persist-object'), `written by stackgate run before a reboot ${t.ledger.name('x')}`);
      // A run that died before removing its object left it here: a later run removes it.
      for (const old of await CephObject.leftovers(lab, node(mon), o.pool, o.name)) await new CephObject(lab, old, '').remove(node(mon));
      removals.push(() => o.remove(node(mon)));
      await o.put(node(mon));
      return o;
    })()).then((s) => (before.object = s)));
  }
  if (lab.spec.monitoring?.prometheus) {
    jobs.push(seen((async () => {
      const at = Math.floor(Date.now() / 1000) - 30;
      return { at, series: (await query(prometheusOf(lab), lab, 'up', { at })).length };
    })()).then((s) => (before.history = s)));
  }
  await Promise.all(jobs);
  return before;
}

async function observe(ctx: CheckContext, before: Before, reboot: Reboot): Promise<After> {
  const { lab, cloud, tenant, node } = ctx;
  const c = await cloud();
  const t = await tenant();
  const mon = lab.ceph?.mons[0];
  // The old token judged first, then a new one for the rest, as a client gets one when its token is refused.
  const token = await seen(tokenValid(c, before.token));
  await c.renew().catch(() => undefined); // Keystone not back: the checks below say what they could not reach
  const after: After = { reboot, vips: await seen(vipProblems(lab, node)), token };
  const jobs: Promise<unknown>[] = [];
  if (mon) jobs.push(seen(cephProblems(lab, node(mon), 180_000)).then((s) => (after.ceph = s)));
  const o = before.object;
  if (mon && o && 'ok' in o) jobs.push(seen(o.ok.read(node(mon))).then((s) => (after.object = s)));
  const i = before.image;
  if (i && 'ok' in i) {
    const file = c.get<Buffer>('image', `/v2/images/${i.ok.id}/file`, { binary: true }).then((r) => sha256(r.body));
    jobs.push(seen(file).then((s) => (after.image = s)));
  }
  const s = before.server;
  if (s && 'ok' in s) {
    jobs.push(seen((async () => {
      const { value } = await waitFor(() => t.getServer(s.ok.id), {
        what: `server ${s.ok.name}`,
        timeoutMs: GUEST_BACK_MS,
        intervalMs: 3000,
        state: (x) => x.status,
        done: (x) => x.status === 'ACTIVE' || (x.status === 'ERROR' ? 'went to ERROR' : false),
      });
      const sum = (await guestRunsAfterBoot(t, s.ok.id, readBack(s.ok.disk), GUEST_BACK_MS)).split(/\s/)[0]!;
      return { status: value.status, sum };
    })()).then((x) => (after.server = x)));
  }
  const h = before.history;
  if (h && 'ok' in h) jobs.push(seen(query(prometheusOf(lab), lab, 'up', { at: h.ok.at }).then((r) => r.length)).then((x) => (after.history = x)));
  await Promise.all(jobs);
  return after;
}

/** Made once, for every check of the file: the durable things, then each reboot and what came back after it. */
function tell(ctx: CheckContext): Promise<Story> {
  return (story ??= (async () => {
    const before = await prepare(ctx);
    const after: After[] = [];
    for (const r of rounds(ctx.lab)) after.push(await observe(ctx, before, await hardReboot(ctx.lab, r.label, r.nodes)));
    return { before, after };
  })());
}

const rebootedAs = (a: After) => `after ${a.reboot.label} rebooted (hard)`;

/** The story, or this check is blocked; skipped where the spec does not require persistence. */
async function judged(ctx: CheckContext): Promise<Story> {
  const p = persistence(ctx.lab);
  if (!p.required) ctx.notApplicable(`lab ${ctx.lab.name}: the spec says persistence: false (nothing is rebooted)`);
  return ctx.needs('the reboots of the persistence layer', tell(ctx));
}

const problem = <T>(x: Seen<T> | undefined, what: string): string | undefined => (x && 'error' in x ? `${what}: ${x.error}` : undefined);

check('persist.recovery', 'Every node, and then the whole lab, comes back from a hard reboot within the spec\'s bound', async (ctx) => {
  const s = await judged(ctx);
  const bound = persistence(ctx.lab).recoverySeconds;
  const rows = s.after.map((a) => `| ${a.reboot.label} | ${a.reboot.seconds?.toFixed(1) ?? '—'} | ${a.reboot.error ? 'not back' : 'back'} |`);
  const table = ['| rebooted (hard) | seconds from power-on until back | |', '|---|---|---|', ...rows].join('\n');
  await ctx.attach('time to recover', table, 'text/markdown');
  for (const a of s.after) await ctx.attach(`reboot of ${a.reboot.label}`, a.reboot.output);
  const dir = process.env.STACKGATE_REPORTS ?? 'reports';
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'recovery.md'), `# Time to recover — lab \`${ctx.lab.name}\` (bound ${bound} s)\n\n${table}\n`);
  const late = s.after.flatMap((a) =>
    a.reboot.error ? [`${rebootedAs(a)}: not back (bound ${bound} s): ${a.reboot.error}`]
    : a.reboot.seconds! > bound ? [`${rebootedAs(a)}: back after ${a.reboot.seconds} s, over the bound of ${bound} s`] : []);
  expect(late, 'reboots the lab did not come back from in time').toEqual([]);
}, { timeout: 3_600_000 });

check('persist.vip-holder', 'After every reboot each VIP is held by exactly one loadbalancer', async (ctx) => {
  if (ctx.lab.vips.length === 0) ctx.notApplicable('the spec defines no VIPs');
  const s = await judged(ctx);
  const findings = s.after.flatMap((a) => {
    const failed = problem(a.vips, `${rebootedAs(a)}: VIP holders not read`);
    return failed ? [failed] : 'ok' in a.vips ? a.vips.ok.map((f) => `${rebootedAs(a)}: ${f}`) : [];
  });
  expect(findings, 'VIPs not held by exactly one node after a reboot').toEqual([]);
}, { timeout: 3_600_000 });

check('persist.ceph-data', 'After every reboot Ceph is HEALTH_OK with every PG active+clean, and an object written before reads back', async (ctx) => {
  if (!ctx.lab.ceph) ctx.notApplicable(`lab ${ctx.lab.name} has no Ceph (storage.ceph)`);
  const s = await judged(ctx);
  const o = await ctx.needs('a Ceph object written before the reboots', unwrap(s.before.object));
  const findings = s.after.flatMap((a) => {
    const out: string[] = [];
    const health = problem(a.ceph, `${rebootedAs(a)}: Ceph status not read`);
    if (health) out.push(health);
    else if (a.ceph && 'ok' in a.ceph) out.push(...a.ceph.ok.map((f) => `${rebootedAs(a)}: ${f}`));
    const read = problem(a.object, `${rebootedAs(a)}: object ${o.name} in pool ${o.pool} not read`);
    if (read) out.push(read);
    else if (a.object && 'ok' in a.object && a.object.ok !== o.content) out.push(`${rebootedAs(a)}: object ${o.name} in pool ${o.pool} reads ${JSON.stringify(a.object.ok.slice(0, 80))}, not what was written`);
    return out;
  });
  expect(findings, 'Ceph data not intact after a reboot').toEqual([]);
}, { timeout: 3_600_000 });

check('persist.server-back', 'After every reboot the server booted before is ACTIVE and answers SSH on its floating IP', async (ctx) => {
  ctx.requires('guest-dataplane');
  const s = await judged(ctx);
  const server = await ctx.needs('a server with a volume, made before the reboots', unwrap(s.before.server));
  const findings = s.after.flatMap((a) => {
    const failed = problem(a.server, `${rebootedAs(a)}: server ${server.name}`);
    return failed ? [failed] : [];
  });
  expect(findings, `server ${server.name} not back after a reboot`).toEqual([]);
}, { timeout: 3_600_000 });

check('persist.volume-data', 'After every reboot a volume written from inside the guest before reads back byte-identical', async (ctx) => {
  ctx.requires('guest-dataplane');
  const s = await judged(ctx);
  const server = await ctx.needs('a volume written from inside the guest before the reboots', unwrap(s.before.server));
  const what = `volume ${server.volume} (/dev/${server.disk} of server ${server.name}, first ${WRITTEN_KIB} KiB)`;
  const findings = s.after.flatMap((a) => {
    if (!a.server) return [];
    if ('error' in a.server) return [`${rebootedAs(a)}: ${what} not read: the server is not back`];
    return a.server.ok.sum === server.sum ? [] : [`${rebootedAs(a)}: ${what} has sha256 ${a.server.ok.sum}, written ${server.sum}`];
  });
  expect(findings, 'volume data not intact after a reboot').toEqual([]);
}, { timeout: 3_600_000 });

check('persist.image-data', 'After every reboot an image uploaded before downloads with the same hash', async (ctx) => {
  const s = await judged(ctx);
  const image = await ctx.needs('an image uploaded before the reboots', unwrap(s.before.image));
  const findings = s.after.flatMap((a) => {
    const failed = problem(a.image, `${rebootedAs(a)}: image ${image.name} not downloaded`);
    if (failed) return [failed];
    return a.image && 'ok' in a.image && a.image.ok !== image.sum ? [`${rebootedAs(a)}: image ${image.name} downloads with sha256 ${a.image.ok}, uploaded ${image.sum}`] : [];
  });
  expect(findings, 'image data not intact after a reboot').toEqual([]);
}, { timeout: 3_600_000 });

check('persist.token', 'After every reboot Keystone still validates a token it issued before (its Fernet keys survived)', async (ctx) => {
  const s = await judged(ctx);
  const findings = s.after.flatMap((a) => {
    const failed = problem(a.token, `${rebootedAs(a)}: Keystone not asked`);
    if (failed) return [failed];
    return 'ok' in a.token && a.token.ok.status !== 200 ? [`${rebootedAs(a)}: Keystone answers HTTP ${a.token.ok.status} for a token it issued before the reboots (not expired)`] : [];
  });
  expect(findings, 'tokens issued before a reboot no longer valid').toEqual([]);
}, { timeout: 3_600_000 });

check('persist.prometheus-history', 'After every reboot Prometheus still has the samples it scraped before', async (ctx) => {
  if (!ctx.lab.spec.monitoring?.prometheus) ctx.notApplicable(`lab ${ctx.lab.name} has no Prometheus (monitoring.prometheus)`);
  const s = await judged(ctx);
  const h = await ctx.needs('Prometheus samples from before the reboots', unwrap(s.before.history));
  if (h.series === 0) throw new Error(`Prometheus had no series of up at ${new Date(h.at * 1000).toISOString()}, before any reboot: nothing to keep`);
  const when = new Date(h.at * 1000).toISOString();
  const findings = s.after.flatMap((a) => {
    const failed = problem(a.history, `${rebootedAs(a)}: Prometheus not asked`);
    if (failed) return [failed];
    return a.history && 'ok' in a.history && a.history.ok < h.series ? [`${rebootedAs(a)}: up at ${when} has ${a.history.ok} series, ${h.series} before`] : [];
  });
  expect(findings, 'Prometheus history lost in a reboot').toEqual([]);
}, { timeout: 3_600_000 });

/** A step made before the reboots, for `needs`: its value, or its error. */
function unwrap<T>(x: Seen<T> | undefined): Promise<T> {
  if (!x) return Promise.reject(new Error('not made (the spec gives no way to)'));
  return 'ok' in x ? Promise.resolve(x.ok) : Promise.reject(new Error(x.error));
}


// Registered after the checks, so it runs before their file cleanup: a volume is detached before the ledger deletes it.
afterAll(async () => {
  for (const r of removals.splice(0).reverse()) await r().catch(() => undefined);
}, 300_000);
