/** The spec's Ceph pools (application, replica size) and client keys; the cluster's health. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Lab } from '../../../helpers/lab/model.ts';
import type { Component, Condition, LabContext, UpContext } from '../component.ts';
import { inNode } from '../exec.ts';
import type { LabPaths } from '../paths.ts';
import { waitUntil } from '../sh.ts';
import {
  cephBase, cephCli, cephConf, cephJson, cephLayout, cephSpec, chownTo, clientCaps, clientKeyring, clientOwner, keyringText, poolSize,
} from './common.ts';

async function pools(lab: Lab, paths: LabPaths): Promise<string> {
  const ceph = cephCli(lab, paths);
  const notes: string[] = [];
  const have = new Map((await cephJson<{ pool_name: string; size: number; application_metadata: Record<string, unknown> }[]>(ceph, ['osd', 'pool', 'ls', 'detail'])).map((p) => [p.pool_name, p]));
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
    const existing = await cephJson<{ caps: Record<string, string> }[]>(ceph, ['auth', 'get', client]).catch(() => undefined);
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

type Health = { status: string; checks: Record<string, { summary: { message: string } }> };

async function health(lab: Lab, paths: LabPaths): Promise<true | string> {
  const h = JSON.parse(await cephCli(lab, paths)(['health', '-f', 'json'], 30_000)) as Health;
  if (h.status === 'HEALTH_OK') return true;
  return [h.status, ...Object.entries(h.checks).map(([k, v]) => `${k}: ${v.summary.message}`)].join('; ');
}

async function waitHealthy(lab: Lab, paths: LabPaths): Promise<string> {
  let seen = '';
  // A warning is reported (and judged by storage.ceph-health), not fatal here.
  await waitUntil('HEALTH_OK', 120_000, async () => {
    const h = await health(lab, paths);
    seen = h === true ? 'HEALTH_OK' : h;
    return h;
  }).catch(() => undefined);
  return seen;
}

export const cephPools: Component = {
  name: 'ceph-pools',
  after: ['ceph-osd'],
  ...cephBase,
  configure: async (c: UpContext) => {
    await c.step('pools (application, replica size)', () => pools(c.lab, c.paths));
    await c.step('client keys', () => clients(c.lab, c.paths));
    await c.step('health', () => waitHealthy(c.lab, c.paths));
  },
  ready: ({ lab, paths }: LabContext): Condition[] => [{ what: 'Ceph HEALTH_OK', probe: () => health(lab, paths) }],
};
