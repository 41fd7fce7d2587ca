/**
 * Fault drills of the storage layer's Ceph checks: one OSD's supervised program stopped, and a pool of the spec set
 * to a single replica. Targets come from the lab spec (osd.N is the N-th OSD of storage.ceph.osds; the pool is the
 * Ceph Cinder backend's). Each inject waits until Ceph shows the fault, each revert until Ceph is healthy again;
 * both look only at the cluster and supervisor, so a revert after a crash needs no memory of the inject.
 */
import { readFileSync } from 'node:fs';
import type { Lab } from '../../../helpers/lab/model.ts';
import { cinderServices } from '../../../helpers/openstack/volumes.ts';
import { Api, passwordAuth, viaVip } from '../api.ts';
import { cephCli, cephDue, cephLayout, cephSpec, poolSize } from '../ceph/common.ts';
import { upComplete } from '../orchestrator.ts';
import { cephConsumer, layout, novaRbd, secretsFile } from '../openstack/common.ts';
import { cinderBackends, cinderDir } from '../openstack/cinder.ts';
import { novaComputeDir } from '../openstack/compute.ts';
import { glanceDir } from '../openstack/glance.ts';
import { labPaths } from '../paths.ts';
import { waitUntil } from '../sh.ts';
import { programStatus } from '../supervisor.ts';
import { editDrill, novaComputeReports, supervisorctl, withCloud, type Drill } from './drill.ts';
import { targetsUp } from './monitoring.ts';

const ceph = (lab: Lab) => cephCli(lab, labPaths(lab.name));
const json = async <T>(lab: Lab, args: string[]) => JSON.parse(await ceph(lab)([...args, '-f', 'json'])) as T;

/** Wait until Ceph (or Cinder) shows `what`. */
const until = (what: string, timeoutMs: number, probe: () => Promise<string | true>) => waitUntil(`Ceph shows ${what}`, timeoutMs, probe);

/**
 * Ceph is settled: every PG active+clean with as many replicas as its pool's size, then HEALTH_OK (right after a
 * change the health can still read OK before peering starts), and Cinder's scheduler sees capacity again.
 */
export async function healthy(lab: Lab): Promise<void> {
  await until('every PG active+clean at its pool size', 180_000, async () => {
    const sizes = new Map((await json<{ pool_id: number; size: number }[]>(lab, ['osd', 'pool', 'ls', 'detail'])).map((p) => [p.pool_id, p.size]));
    const pgs = (await json<{ pg_stats: { pgid: string; state: string; acting: number[] }[] }>(lab, ['pg', 'ls'])).pg_stats;
    const bad = pgs.filter((p) => p.state !== 'active+clean' || p.acting.length !== sizes.get(Number(p.pgid.split('.')[0])));
    return bad.length === 0 ? true : `${bad.length} PGs not clean, e.g. ${bad.slice(0, 3).map((p) => `${p.pgid} ${p.state} [${p.acting.join(',')}]`).join('; ')}`;
  });
  await until('HEALTH_OK', 180_000, async () => {
    const h = await json<{ status: string; checks: Record<string, { summary: { message: string } }> }>(lab, ['health']);
    return h.status === 'HEALTH_OK' ? true : `${h.status} ${Object.entries(h.checks).map(([k, v]) => `${k}: ${v.summary.message}`).join('; ')}`;
  });
  await cinderSees(lab, 'capacity', (gb) => gb > 0);
}

/** The Ceph backend of the spec that Cinder runs (its pools are named <host>@<backend>#<backend>). */
const rbdBackend = (lab: Lab) => cinderBackends(lab).find((b) => b.driver === 'ceph' && b.runs);

/**
 * Wait until Cinder's scheduler sees the Ceph backend's capacity as `want`. cinder-volume reports its pool stats once
 * a minute; a report taken while PGs recover can carry Ceph's max_avail 0 (capacity 0: the scheduler places no
 * volume) and stays until the next one.
 */
async function cinderSees(lab: Lab, what: string, want: (totalGiB: number) => boolean): Promise<void> {
  const paths = labPaths(lab.name);
  const backend = rbdBackend(lab);
  if (!backend || !upComplete(paths)) return;
  const api = new Api(readFileSync(paths.caCert, 'utf8'));
  try {
    const password = (JSON.parse(readFileSync(secretsFile(paths), 'utf8')) as { adminPassword: string }).adminPassword;
    const ks = viaVip(lab, 'keystone');
    const t = await api.call<{ token: { project: { id: string } } }>('POST', `${ks}/v3/auth/tokens`, passwordAuth('admin', password, 'admin'));
    api.token = String(t.headers['x-subject-token']);
    const base = `${viaVip(lab, 'cinder')}${lab.spec.services?.cinder?.path ?? '/v3'}/${t.body.token.project.id}`;
    await until(`Cinder's scheduler with ${what} of backend ${backend.name}`, 150_000, async () => {
      const pools = (await api.call<{ pools: { name: string; capabilities: { total_capacity_gb?: number | string } }[] }>('GET', `${base}/scheduler-stats/get_pools?detail=true`)).body.pools;
      const p = pools.find((x) => x.name.endsWith(`@${backend.name}#${backend.name}`));
      const gb = Number(p?.capabilities.total_capacity_gb ?? Number.NaN);
      return p && want(gb) ? true : `pool ${p?.name ?? `@${backend.name}`} total ${String(p?.capabilities.total_capacity_gb)} GiB`;
    });
  } finally {
    await api.close();
  }
}

/** The last OSD of the spec (osd.N on its node) and its supervisor program. */
export function lastOsd(lab: Lab) {
  const o = cephLayout(lab).osds.at(-1);
  if (!o) throw new Error(`lab ${lab.name}: storage.ceph.osds is empty`);
  return { id: o.id, node: o.node.name, program: `${o.node.name}-ceph-osd-${o.id}` };
}

/** The pool the drill shrinks: the Ceph Cinder backend's pool, else the spec's first pool. */
function targetPool(lab: Lab): { name: string; size: number } {
  const rbd = lab.cinderBackends.find((b) => b.driver === 'ceph' && b.pool);
  const pool = cephSpec(lab).pools?.find((p) => p.name === rbd?.pool) ?? cephSpec(lab).pools?.[0];
  if (!pool) throw new Error(`lab ${lab.name}: storage.ceph.pools is empty`);
  return { name: pool.name, size: poolSize(lab, pool) };
}

async function osdUp(lab: Lab, id: number): Promise<boolean> {
  const d = await json<{ osds: { osd: number; up: number }[] }>(lab, ['osd', 'dump']);
  return d.osds.find((o) => o.osd === id)?.up === 1;
}

function osdStopped(lab: Lab): Drill {
  const o = lastOsd(lab);
  return {
    name: 'osd-stopped',
    description: `the last OSD of the spec (osd.${o.id} on ${o.node}) is stopped through supervisor: it is down`,
    decisions: ['STO-03'],
    checks: ['storage.ceph-daemons', 'storage.ceph-health'],
    object: `osd.${o.id}`,
    async inject(lab) {
      const t = lastOsd(lab);
      const state = (await programStatus(labPaths(lab.name))).find((p) => p.program === t.program)?.state;
      if (state !== 'STOPPED') await supervisorctl(lab, 'stop', t.program);
      await until(`osd.${t.id} down`, 60_000, async () => ((await osdUp(lab, t.id)) ? `osd.${t.id} still up` : true));
      // The health check must see the fault, not a state in between.
      await until('OSD_DOWN in health', 60_000, async () => ('OSD_DOWN' in (await json<{ checks: Record<string, unknown> }>(lab, ['health'])).checks ? true : 'no OSD_DOWN yet'));
    },
    async revert(lab) {
      const t = lastOsd(lab);
      const state = (await programStatus(labPaths(lab.name))).find((p) => p.program === t.program)?.state;
      if (state !== 'RUNNING' && state !== 'STARTING') await supervisorctl(lab, 'start', t.program);
      await until(`osd.${t.id} up`, 120_000, async () => ((await osdUp(lab, t.id)) ? true : `osd.${t.id} down`));
      await healthy(lab);
    },
  };
}

function poolSizeOne(lab: Lab): Drill {
  const p = targetPool(lab);
  return {
    name: 'pool-size-1',
    description: `pool ${p.name} is set to size 1 (one replica) instead of the spec's ${p.size}`,
    decisions: ['STO-04', 'STO-03'],
    checks: ['storage.ceph-pools', 'storage.ceph-health'],
    object: p.name,
    async inject(lab) {
      const t = targetPool(lab);
      await ceph(lab)(['config', 'set', 'global', 'mon_allow_pool_size_one', 'true']);
      await ceph(lab)(['osd', 'pool', 'set', t.name, 'size', '1', '--yes-i-really-mean-it']);
      await until(`pool ${t.name} size 1`, 30_000, async () => {
        const pools = await json<{ pool_name: string; size: number }[]>(lab, ['osd', 'pool', 'ls', 'detail']);
        return pools.find((x) => x.pool_name === t.name)?.size === 1 ? true : `pool ${t.name} not yet size 1`;
      });
      await until('POOL_NO_REDUNDANCY in health', 60_000, async () => ('POOL_NO_REDUNDANCY' in (await json<{ checks: Record<string, unknown> }>(lab, ['health'])).checks ? true : 'no POOL_NO_REDUNDANCY yet'));
    },
    async revert(lab) {
      const t = targetPool(lab);
      const pools = await json<{ pool_name: string; size: number }[]>(lab, ['osd', 'pool', 'ls', 'detail']);
      if (pools.find((x) => x.pool_name === t.name)?.size !== t.size) await ceph(lab)(['osd', 'pool', 'set', t.name, 'size', String(t.size)]);
      // Back to Ceph's default (false): the option exists only for this fault.
      await ceph(lab)(['config', 'rm', 'global', 'mon_allow_pool_size_one']);
      await healthy(lab);
    },
  };
}

/** Cinder's view of the backend's cinder-volume service (state up/down), through the API as the checks see it. */
async function cinderVolumeState(lab: Lab, backend: string): Promise<string> {
  return withCloud(lab, async (cloud) => {
    const mine = (await cinderServices(cloud)).filter((s) => s.binary === 'cinder-volume' && s.host.endsWith(`@${backend}`));
    return mine.map((s) => s.state).join(',') || 'absent';
  });
}

function cinderVolumeStopped(lab: Lab): Drill | undefined {
  const backend = rbdBackend(lab);
  const host = backend?.hosts[0];
  if (!backend || !host) return undefined;
  const program = `${lab.node(host).name}-cinder-volume`;
  return {
    name: 'cinder-volume-stopped',
    description: `cinder-volume on ${host} (backend ${backend.name}) stopped through supervisor, until Cinder reports it down`,
    decisions: ['STO-06', 'STO-07'],
    checks: ['storage.cinder-services', 'storage.volume-lifecycle', 'storage.volume-from-image', 'storage.rbd-volume', 'storage.volume-attach'],
    object: `@${backend.name} is down`,
    async inject(lab) {
      const state = (await programStatus(labPaths(lab.name))).find((p) => p.program === program)?.state;
      if (state !== 'STOPPED') await supervisorctl(lab, 'stop', program);
      // Cinder marks a service down once its last report is older than service_down_time (60 s).
      await until(`cinder-volume @${backend.name} down in Cinder`, 180_000, async () => ((await cinderVolumeState(lab, backend.name)) === 'down' ? true : 'still up'));
    },
    async revert(lab) {
      const state = (await programStatus(labPaths(lab.name))).find((p) => p.program === program)?.state;
      if (state !== 'RUNNING' && state !== 'STARTING') await supervisorctl(lab, 'start', program);
      await until(`cinder-volume @${backend.name} up in Cinder`, 180_000, async () => ((await cinderVolumeState(lab, backend.name)) === 'up' ? true : 'not up yet'));
      await cinderSees(lab, 'capacity', (gb) => gb > 0);
    },
  };
}

function osdMemoryWrong(lab: Lab): Drill | undefined {
  const want = cephSpec(lab).osdMemoryTargetBytes;
  if (want === undefined) return undefined;
  const o = lastOsd(lab);
  const wrong = want * 2;
  return {
    name: 'ceph-osd-memory-wrong',
    description: `osd.${o.id} runs with osd_memory_target ${wrong} (set at run time), not the spec's ${want}`,
    decisions: ['STO-05'],
    checks: ['storage.ceph-osd-memory'],
    object: `osd.${o.id} runs with osd_memory_target ${wrong}`,
    async inject(lab) {
      await ceph(lab)(['tell', `osd.${o.id}`, 'config', 'set', 'osd_memory_target', String(wrong)]);
    },
    async revert(lab) {
      // Back to what the OSD's configuration gives it; a stopped OSD starts with that anyway.
      if (await osdUp(lab, o.id)) await ceph(lab)(['tell', `osd.${o.id}`, 'config', 'set', 'osd_memory_target', String(want)]);
    },
  };
}

const mgrServices = async (lab: Lab) => (await json<{ services?: Record<string, string> }>(lab, ['mgr', 'dump'])).services ?? {};

const mgrPrometheusOff: Drill = {
  name: 'ceph-mgr-prometheus-off',
  description: "the MGR's prometheus module disabled: Ceph's metrics are served nowhere",
  decisions: ['STO-03'],
  checks: ['storage.ceph-mgr-prometheus'],
  object: 'serves no prometheus module',
  async inject(lab) {
    await ceph(lab)(['mgr', 'module', 'disable', 'prometheus']);
    await until('the prometheus module gone from the MGR services', 60_000, async () => ((await mgrServices(lab)).prometheus ? 'still served' : true));
  },
  async revert(lab) {
    await ceph(lab)(['mgr', 'module', 'enable', 'prometheus']);
    await until('the prometheus module served by the MGR', 120_000, async () => ((await mgrServices(lab)).prometheus ? true : 'not served yet'));
    if (lab.expectedTargets.some((t) => t.job.includes('ceph'))) await targetsUp(lab);
  },
};

/** Glance's store set back to its file store: images uploaded now stay on the control node, not in Ceph. */
function glanceStoreFile(lab: Lab): Drill | undefined {
  const rbd = cephConsumer(lab, 'glance');
  if (!rbd) return undefined;
  const control = layout(lab).control.name;
  return editDrill(
    {
      name: 'glance-store-file',
      description: `glance-api on ${control} stores new images in its file store (default_backend = fs), not in Ceph pool ${rbd.pool}`,
      decisions: ['STO-09'],
      checks: ['storage.glance-rbd-image'],
      object: `in pool ${rbd.pool}`,
    },
    (lab) => [{ file: `${glanceDir(labPaths(lab.name), layout(lab).control)}/glance-api.conf`, edit: (text) => text.replace(/^default_backend = rbd$/m, 'default_backend = fs') }],
    async (lab) => {
      await supervisorctl(lab, 'restart', `${control}-glance-api`);
      await waitUntil('Glance answering again', 120_000, () =>
        withCloud(lab, async (c) => (await c.get('image', '/v2/images?limit=1'), true as const)).catch((error: Error) => error.message),
      );
    },
  );
}

/** cinder-api without the lab CA for its Glance session: Cinder refuses every volume made from an image. */
function cinderGlanceUntrusted(lab: Lab): Drill | undefined {
  if (!lab.spec.services?.glance || !lab.spec.services.cinder) return undefined;
  const control = layout(lab).control;
  return editDrill(
    {
      name: 'cinder-glance-untrusted',
      description: `cinder-api on ${control.name} loses glance_ca_certificates_file: its Glance session cannot verify the lab CA`,
      decisions: ['STO-06'],
      checks: ['storage.volume-from-image'],
      object: 'a volume from image',
    },
    (lab) => [{
      file: `${cinderDir(labPaths(lab.name), layout(lab).control)}/cinder.conf`,
      edit: (text) => text.replace(/^glance_ca_certificates_file = .*\n/m, ''),
    }],
    async (lab) => {
      await supervisorctl(lab, 'restart', `${control.name}-cinder-api`);
      await waitUntil('Cinder answering again', 120_000, () =>
        withCloud(lab, async (c) => (await cinderServices(c), true as const)).catch((error: Error) => error.message),
      );
    },
  );
}

/** glance-api without Keystone's middleware: it answers every call, with a token or without one. */
export function glanceNoAuth(lab: Lab): Drill | undefined {
  if (!lab.expectedCatalog.some((e) => e.type === 'image')) return undefined;
  const control = layout(lab).control.name;
  return editDrill(
    {
      name: 'glance-no-auth',
      description: `glance-api on ${control} runs without Keystone's auth middleware (paste flavor empty): it checks no token`,
      decisions: ['CMP-01'],
      checks: ['compute.token-accepted'],
      object: 'image',
    },
    (lab) => [{ file: `${glanceDir(labPaths(lab.name), layout(lab).control)}/glance-api.conf`, edit: (text) => text.replace(/^flavor = keystone$/m, 'flavor =') }],
    async (lab) => {
      await supervisorctl(lab, 'restart', `${control}-glance-api`);
      await waitUntil('Glance answering again', 120_000, () =>
        withCloud(lab, async (c) => (await c.get('image', '/v2/images?limit=1'), true as const)).catch((error: Error) => error.message),
      );
    },
  );
}

/** Restart nova-compute on every compute node and wait until each has reported up since. */
export async function restartNovaCompute(lab: Lab): Promise<void> {
  const computes = layout(lab).compute;
  await Promise.all(computes.map((n) => supervisorctl(lab, 'restart', `${n.name}-nova-compute`)));
  // supervisorctl returns once the new process has run 2 s (startsecs), the old one stopped before it: a report
  // stamped after this (Nova's updated_at keeps whole seconds, hence the 1 s) is the new process's own.
  const since = Date.now() - 1000;
  await withCloud(lab, (c) =>
    waitUntil('nova-compute reporting up after its restart', 180_000, async () => {
      const reports = await novaComputeReports(c).catch(() => []);
      // Nova's updated_at is UTC without a zone; the lab runs on this machine's clock.
      const fresh = (host: string) => reports.some((r) => r.host === host && r.state === 'up' && r.updated_at !== null && Date.parse(`${r.updated_at}Z`) > since);
      const waiting = computes.filter((n) => !fresh(n.hostname)).map((n) => n.name);
      return waiting.length === 0 ? true : `no report since the restart from ${waiting.join(', ')}`;
    }),
  );
}

/** Nova's instance disks back on the compute nodes (images_type qcow2) instead of Ceph pool vms. */
function novaDiskLocal(lab: Lab): Drill | undefined {
  const rbd = novaRbd(lab);
  if (!rbd) return undefined;
  const computes = layout(lab).compute;
  return editDrill(
    {
      name: 'nova-disk-local',
      description: `nova-compute on ${computes.map((n) => n.name).join(', ')} keeps server disks as local qcow2 files (images_type = qcow2), not in Ceph pool ${rbd.pool}`,
      decisions: ['STO-10'],
      checks: ['storage.nova-disk-rbd'],
      object: `in pool ${rbd.pool}`,
    },
    (lab) => layout(lab).compute.map((n) => ({ file: `${novaComputeDir(lab, labPaths(lab.name), n)}/nova.conf`, edit: (text: string) => text.replace(/^images_type = rbd$/m, 'images_type = qcow2') })),
    restartNovaCompute,
  );
}

/** The storage drills of a lab that runs Ceph from packages (the embedded lab in its Ceph phase); none otherwise. */
export function storageDrillsFor(lab: Lab): Drill[] {
  if (!cephDue(lab)) return [];
  return [osdStopped(lab), poolSizeOne(lab), osdMemoryWrong(lab), mgrPrometheusOff, cinderVolumeStopped(lab), glanceStoreFile(lab), novaDiskLocal(lab), cinderGlanceUntrusted(lab)].filter((d) => d !== undefined);
}
