/** Ceph MGRs: their keys, the prometheus module on the address the spec scrapes, central config. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mgrPrometheusPort } from '../../../helpers/lab/defaults.ts';
import type { Lab } from '../../../helpers/lab/model.ts';
import type { Component, LabContext, UpContext } from '../component.ts';
import type { LabPaths } from '../paths.ts';
import { cephArgs, cephBase, cephCli, cephDaemon, cephJson, cephLayout, cephRunDir, cephSpec, chownTo, keyringText, mgrDir } from './common.ts';

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
  const modules = await cephJson<{ enabled_modules: string[] }>(ceph, ['mgr', 'module', 'ls']);
  if (!modules.enabled_modules.includes('prometheus')) {
    await ceph(['mgr', 'module', 'enable', 'prometheus', '--force']);
    notes.push('prometheus module on');
  }
  return [made.length ? `keys for ${made.join(', ')}` : 'keys present', ...notes].join(', ');
}

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

export const cephMgr: Component = {
  name: 'ceph-mgr',
  after: ['ceph-mon'],
  ...cephBase,
  render: ({ lab, paths }: LabContext) =>
    cephLayout(lab).mgrs.map((n) => {
      const { argv, conf } = cephArgs(lab, paths, 'mgr', n.hostname);
      return cephDaemon(n, 'ceph-mgr', ['/usr/bin/ceph-mgr', ...argv], {
        files: [conf],
        dirs: [cephRunDir(paths), { path: dirname(mgrDir(paths, n)), owner: 'ceph' }, { path: mgrDir(paths, n), owner: 'ceph' }],
        health: n.apiAddress ? [{ kind: 'tcp', host: n.apiAddress, port: mgrPrometheusPort(lab) }] : [],
      });
    }),
  bootstrap: async (c: UpContext) => void (await c.step('MGR keys and the prometheus module', () => mgrKeys(c.lab, c.paths))),
  configure: async (c: UpContext) => void (await c.step('central config (osd_memory_target)', () => centralConfig(c.lab, c.paths))),
  keeps: ({ lab, paths }) => cephLayout(lab).mgrs.map((n) => mgrDir(paths, n)),
};
