/** Ceph MONs: keys, monmap and `ceph-mon --mkfs` once; running in quorum with msgr2. */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Lab } from '../../../helpers/lab/model.ts';
import type { Component, LabContext, UpContext } from '../component.ts';
import type { LabPaths } from '../paths.ts';
import { run, waitUntil } from '../sh.ts';
import {
  cephArgs, cephBase, cephCli, cephDaemon, cephDir, cephJson, cephLayout, cephRunDir, chownTo, clientKeyring, cephConf,
  ensureFsid, monDir, publicAddress, readFsid,
} from './common.ts';

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

async function quorum({ lab, paths }: LabContext): Promise<string> {
  const ceph = cephCli(lab, paths);
  const mons = cephLayout(lab).mons;
  await waitUntil('MON quorum', 60_000, async () =>
    (await cephJson<{ quorum_names: string[] }>(ceph, ['quorum_status'])).quorum_names.length === mons.length ? true : 'no quorum');
  await ceph(['mon', 'enable-msgr2']);
  return mons.map((n) => `mon.${n.hostname}`).join(', ');
}

export const cephMon: Component = {
  name: 'ceph-mon',
  ...cephBase,
  keys: async ({ paths }) => `fsid ${ensureFsid(paths)}`,
  render: ({ lab, paths }: LabContext) =>
    cephLayout(lab).mons.map((n) => {
      const { argv, conf } = cephArgs(lab, paths, 'mon', n.hostname);
      return cephDaemon(n, 'ceph-mon', ['/usr/bin/ceph-mon', ...argv], {
        files: [conf],
        dirs: [cephRunDir(paths), { path: dirname(monDir(paths, n)), owner: 'ceph' }],
        health: [{ kind: 'tcp', host: publicAddress(lab, n), port: 3300 }],
      });
    }),
  bootstrap: async (c: UpContext) => void (await c.step('keys, monmap and MON stores', () => monStores(c.lab, c.paths, readFsid(c.paths)))),
  configure: async (c: UpContext) => void (await c.step('MON quorum', () => quorum(c))),
  keeps: ({ lab, paths }) => [cephDir(paths), ...cephLayout(lab).mons.map((n) => monDir(paths, n))],
};
