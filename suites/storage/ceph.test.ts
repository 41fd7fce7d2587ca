/** Ceph as the spec's storage.ceph places and sizes it: health, daemons on their hosts, pools, memory, the mgr exporter. */
import { expect } from 'vitest';
import { check, type CheckContext } from '../../helpers/gate/check.ts';
import { mgrPrometheusPort } from '../../helpers/lab/defaults.ts';
import type { CephSpec } from '../../helpers/lab/spec.ts';
import { CEPH_DEFAULT_POOL_SIZE } from '../../helpers/lab/placement.ts';
import { inCeph } from '../../helpers/node/deployer.ts';

/** The lab's Ceph, due in its phase; a lab without Ceph is not judged here. */
function ceph(ctx: CheckContext): CephSpec {
  const c = ctx.lab.ceph;
  if (!c) return ctx.notApplicable(`lab ${ctx.lab.name} has no Ceph (storage.ceph)`);
  ctx.due(c.phase, 'Ceph');
  return c;
}

/** `ceph <args> -f json` on the first MON node, as the lab's Ceph deployer runs it. */
async function cephJson<T>(ctx: CheckContext, args: string): Promise<T> {
  const mon = ctx.lab.ceph!.mons[0]!;
  const out = await ctx.node(mon).out(inCeph(ctx.lab, `ceph ${args} -f json`));
  try {
    return JSON.parse(out) as T;
  } catch {
    throw new Error(`on ${mon}: \`ceph ${args} -f json\` printed no JSON: ${out.slice(0, 200)}`);
  }
}

const hostOf = (ctx: CheckContext, node: string) => ctx.lab.node(node).hostname;
/** cephadm names a MGR `<host>.<suffix>`; packages name MONs and MGRs after the host. */
const onHost = (daemon: string, host: string) => daemon === host || daemon.startsWith(`${host}.`);

interface HealthCheck {
  severity: string;
  summary: { message: string };
  detail?: { message: string }[];
  muted?: boolean;
}

check('storage.ceph-health', 'Ceph reports HEALTH_OK, or only warnings the spec allows', async (ctx) => {
  const c = ceph(ctx);
  const h = await cephJson<{ status: string; checks: Record<string, HealthCheck> }>(ctx, 'health detail');
  await ctx.attach('ceph health detail', JSON.stringify(h, null, 2), 'application/json');
  const allowed = new Set(c.allowedWarnings ?? []);
  const findings = Object.entries(h.checks)
    .filter(([code, v]) => !(v.severity === 'HEALTH_WARN' && allowed.has(code)))
    .map(([code, v]) => `${v.severity} ${code}: ${v.summary.message}${v.detail?.length ? ` (${v.detail.slice(0, 4).map((d) => d.message).join('; ')}${v.detail.length > 4 ? '; …' : ''})` : ''}`);
  if (h.status !== 'HEALTH_OK' && findings.length === 0 && Object.keys(h.checks).length === 0) findings.push(`Ceph reports ${h.status} without a health check`);
  expect(findings, `Ceph health is ${h.status}${allowed.size ? ` (the spec allows ${[...allowed].join(', ')})` : ''}`).toEqual([]);
});

check('storage.ceph-daemons', 'MONs (in quorum) and MGRs run on the spec\'s hosts, and every OSD is up and in on its spec host', async (ctx) => {
  const c = ceph(ctx);
  const findings: string[] = [];

  const q = await cephJson<{ quorum_names: string[]; monmap: { mons: { name: string }[] } }>(ctx, 'quorum_status');
  const mons = q.monmap.mons.map((m) => m.name);
  for (const n of c.mons) {
    const host = hostOf(ctx, n);
    const m = mons.find((x) => onHost(x, host));
    if (!m) findings.push(`no MON on ${n} (host ${host}); MONs: ${mons.join(', ') || 'none'}`);
    else if (!q.quorum_names.includes(m)) findings.push(`mon.${m} on ${n} is not in quorum (quorum: ${q.quorum_names.join(', ') || 'none'})`);
  }
  const monHosts = c.mons.map((n) => hostOf(ctx, n));
  for (const m of mons.filter((x) => !monHosts.some((h) => onHost(x, h)))) findings.push(`mon.${m} runs on no host the spec gives MONs (${c.mons.join(', ')})`);

  const mgr = await cephJson<{ active_name: string; available: boolean; standbys: { name: string }[] }>(ctx, 'mgr dump');
  const mgrs = [...(mgr.active_name ? [mgr.active_name] : []), ...mgr.standbys.map((s) => s.name)];
  if (!mgr.available) findings.push(`no MGR is active (active: ${mgr.active_name || 'none'}, standbys: ${mgr.standbys.map((s) => s.name).join(', ') || 'none'})`);
  const mgrNodes = c.mgrs ?? c.mons;
  for (const n of mgrNodes) if (!mgrs.some((x) => onHost(x, hostOf(ctx, n)))) findings.push(`no MGR on ${n} (MGRs: ${mgrs.join(', ') || 'none'})`);
  for (const m of mgrs.filter((x) => !mgrNodes.some((n) => onHost(x, hostOf(ctx, n))))) findings.push(`mgr.${m} runs on no host the spec gives MGRs (${mgrNodes.join(', ')})`);

  const tree = await cephJson<{ nodes: { id: number; name: string; type: string; children?: number[] }[] }>(ctx, 'osd tree');
  const dump = await cephJson<{ osds: { osd: number; up: number; in: number }[] }>(ctx, 'osd dump');
  const hostOfOsd = new Map<number, string>();
  for (const b of tree.nodes.filter((x) => x.type === 'host')) for (const id of b.children ?? []) hostOfOsd.set(id, b.name);
  const specHosts = [...new Set(c.osds.map((o) => o.node))];
  for (const n of specHosts) {
    const host = hostOf(ctx, n);
    const want = c.osds.filter((o) => o.node === n).length;
    const have = dump.osds.filter((o) => hostOfOsd.get(o.osd) === host);
    if (have.length !== want) findings.push(`host ${n} has ${have.length} OSD(s) (${have.map((o) => `osd.${o.osd}`).join(', ') || 'none'}), the spec gives it ${want}`);
  }
  for (const o of dump.osds) {
    const host = hostOfOsd.get(o.osd);
    const node = ctx.lab.nodes.find((n) => n.hostname === host)?.name ?? host;
    if (!host || !specHosts.some((n) => hostOf(ctx, n) === host)) findings.push(`osd.${o.osd} is on ${host ?? 'no host'}, which the spec gives no OSD (${specHosts.join(', ')})`);
    if (!o.up || !o.in) findings.push(`osd.${o.osd} on ${node ?? 'no host'} is ${o.up ? 'up' : 'down'} and ${o.in ? 'in' : 'out'}`);
  }
  await ctx.attach('daemons', `MONs ${mons.join(', ')} (quorum ${q.quorum_names.join(', ')})\nMGRs ${mgrs.join(', ')} (active ${mgr.active_name})\nOSDs ${dump.osds.map((o) => `osd.${o.osd}@${hostOfOsd.get(o.osd) ?? '?'} ${o.up ? 'up' : 'down'}/${o.in ? 'in' : 'out'}`).join(', ')}`);
  expect(findings, 'Ceph daemons').toEqual([]);
});

check('storage.ceph-pools', 'every pool the spec names exists with its application and the replica size the spec gives', async (ctx) => {
  const c = ceph(ctx);
  const pools = await cephJson<{ pool_name: string; size: number; min_size: number; application_metadata?: Record<string, unknown> }[]>(ctx, 'osd pool ls detail');
  await ctx.attach('pools', pools.map((p) => `${p.pool_name} size ${p.size} min_size ${p.min_size} applications ${Object.keys(p.application_metadata ?? {}).join(',') || 'none'}`).join('\n'));
  const findings: string[] = [];
  for (const want of c.pools ?? []) {
    const size = want.size ?? c.poolDefaultSize ?? CEPH_DEFAULT_POOL_SIZE;
    const from = want.size !== undefined ? 'its size' : c.poolDefaultSize !== undefined ? 'poolDefaultSize' : "Ceph's default";
    const p = pools.find((x) => x.pool_name === want.name);
    if (!p) {
      findings.push(`pool ${want.name} does not exist (pools: ${pools.map((x) => x.pool_name).join(', ') || 'none'})`);
      continue;
    }
    if (p.size !== size) findings.push(`pool ${want.name} has size ${p.size}, the spec wants ${size} (${from})`);
    if (want.application && !(want.application in (p.application_metadata ?? {}))) {
      findings.push(`pool ${want.name} has application ${Object.keys(p.application_metadata ?? {}).join(', ') || 'none'}, the spec wants ${want.application}`);
    }
  }
  expect(findings, 'Ceph pools').toEqual([]);
});

check('storage.ceph-osd-memory', 'every OSD runs with the osd_memory_target the spec gives', async (ctx) => {
  const c = ceph(ctx);
  if (c.osdMemoryTargetBytes === undefined) return ctx.notApplicable('the spec gives no storage.ceph.osdMemoryTargetBytes');
  const mon = c.mons[0]!;
  const dump = await cephJson<{ osds: { osd: number; up: number }[] }>(ctx, 'osd dump');
  const findings: string[] = [];
  const seen: string[] = [];
  for (const o of dump.osds) {
    // A running OSD shows the value it runs with; a stopped one the value it will start with (central config).
    const how = o.up ? `config show osd.${o.osd} osd_memory_target` : `config get osd.${o.osd} osd_memory_target`;
    const value = Number((await ctx.node(mon).out(inCeph(ctx.lab, `ceph ${how}`))).trim());
    seen.push(`osd.${o.osd} ${value} (${o.up ? 'running' : 'configured'})`);
    if (value !== c.osdMemoryTargetBytes) findings.push(`osd.${o.osd} ${o.up ? 'runs with' : 'is configured with'} osd_memory_target ${value} bytes, the spec wants ${c.osdMemoryTargetBytes}`);
  }
  if (dump.osds.length === 0) findings.push('the cluster has no OSD to judge');
  await ctx.attach('osd_memory_target', seen.join('\n'));
  expect(findings, 'OSD memory targets').toEqual([]);
});

check('storage.ceph-mgr-prometheus', "the active MGR's prometheus module serves Ceph's metrics on a MGR host, at the port the spec scrapes", async (ctx) => {
  const c = ceph(ctx);
  const job = ctx.lab.spec.monitoring?.jobs.find((j) => j.roles?.includes('ceph-mgr'));
  const port = job?.port ?? mgrPrometheusPort(ctx.lab);
  const mgr = await cephJson<{ active_name: string; services?: Record<string, string> }>(ctx, 'mgr dump');
  const url = mgr.services?.prometheus;
  if (!url) {
    expect([`the active MGR ${mgr.active_name || '(none)'} serves no prometheus module (services: ${JSON.stringify(mgr.services ?? {})})`], 'Ceph mgr prometheus').toEqual([]);
    return;
  }
  const findings: string[] = [];
  const u = new URL(url);
  const mgrNodes = (c.mgrs ?? c.mons).map((n) => ctx.lab.node(n));
  const node = mgrNodes.find((n) => u.hostname === n.apiAddress || u.hostname === n.hostname || Object.values(n.addresses).includes(u.hostname));
  if (!node) findings.push(`the prometheus module serves at ${url}, on no MGR host of the spec (${mgrNodes.map((n) => n.name).join(', ')})`);
  if (Number(u.port) !== port) findings.push(`the prometheus module serves at ${url}, not on port ${port}${job ? ` (monitoring job ${job.job})` : ''}`);
  const target = `http://${node?.apiAddress ?? u.hostname}:${port}/metrics`;
  const r = await fetch(target, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(10_000)]) }).catch((e: unknown) => e as Error);
  if (r instanceof Error) findings.push(`GET ${target}: ${r.message}${r.cause ? ` (${String((r.cause as Error).message ?? r.cause)})` : ''}`);
  else {
    const body = await r.text();
    if (r.status !== 200) findings.push(`GET ${target} answered HTTP ${r.status}`);
    else if (!/^ceph_health_status /m.test(body)) findings.push(`GET ${target} answered without the ceph_health_status metric: ${body.slice(0, 120)}`);
  }
  expect(findings, 'Ceph mgr prometheus module').toEqual([]);
});
