/** Ceph OSDs: `ceph osd new` and `ceph-osd --mkfs` onto a sparse bluestore file once; up and in. */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Lab } from '../../../helpers/lab/model.ts';
import type { Component, LabContext, UpContext } from '../component.ts';
import { inNode } from '../exec.ts';
import type { LabPaths } from '../paths.ts';
import { waitUntil } from '../sh.ts';
import {
  cephArgs, cephBase, cephCli, cephConf, cephDaemon, cephJson, cephLayout, cephRunDir, chownTo, keyringText, osdBlock, osdDir,
} from './common.ts';

/** `ceph osd new` with the OSD's own uuid and the spec's id, its key, and `ceph-osd --mkfs` onto the block file. */
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
    const s = await cephJson<{ num_osds: number; num_up_osds: number; num_in_osds: number }>(ceph, ['osd', 'stat']);
    seen = `${s.num_up_osds}/${s.num_osds} up, ${s.num_in_osds} in`;
    return s.num_up_osds >= n && s.num_in_osds >= n ? true : seen;
  });
  return seen;
}

export const cephOsd: Component = {
  name: 'ceph-osd',
  after: ['ceph-mgr'],
  ...cephBase,
  render: ({ lab, paths }: LabContext) =>
    cephLayout(lab).osds.map((o) => {
      const { argv, conf } = cephArgs(lab, paths, 'osd', String(o.id));
      return cephDaemon(o.node, `ceph-osd-${o.id}`, ['/usr/bin/ceph-osd', ...argv], {
        files: [conf],
        dirs: [cephRunDir(paths), { path: dirname(osdDir(paths, o.node, o.id)), owner: 'ceph' }],
      });
    }),
  bootstrap: async (c: UpContext) => void (await c.step('OSD stores (bluestore on a sparse file)', () => osdStores(c.lab, c.paths))),
  configure: async (c: UpContext) => void (await c.step('OSDs up and in', () => osdsUp(c.lab, c.paths))),
  keeps: ({ lab, paths }) => cephLayout(lab).osds.flatMap((o) => [osdDir(paths, o.node, o.id), osdBlock(paths, o.node, o.id)]),
};
