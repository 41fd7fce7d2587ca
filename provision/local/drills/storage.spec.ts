import { describe, expect, test } from 'vitest';
import { loadLab } from '../../../helpers/lab/load.ts';
import { drillCatalogue } from './index.ts';
import { storageDrillsFor } from './storage.ts';

describe('storage fault drills (catalogue only; the live lab is not touched)', () => {
  const lab = loadLab('embedded');

  test('the embedded lab in its Ceph phase has the Ceph drills, each naming checks, decisions and an object from the spec', () => {
    const drills = storageDrillsFor(lab);
    expect(drills.map((d) => d.name)).toEqual(['osd-stopped', 'pool-size-1', 'ceph-osd-memory-wrong', 'ceph-mgr-prometheus-off', 'cinder-volume-stopped', 'glance-store-file', 'nova-disk-local', 'cinder-glance-untrusted']);
    // osd.N is the N-th OSD of storage.ceph.osds: the last one here, on the last OSD node.
    expect(drills[0]!.object).toBe(`osd.${lab.ceph!.osds.length - 1}`);
    expect(drills[0]!.description).toContain(lab.ceph!.osds.at(-1)!.node);
    expect(drills[1]!.object).toBe(lab.cinderBackends.find((b) => b.driver === 'ceph')!.pool);
    expect(drills[2]!.object).toContain(String(lab.ceph!.osdMemoryTargetBytes! * 2));
    // cinder-volume of the spec's Ceph backend, named as Cinder reports its service (host@backend).
    expect(drills[4]!.object).toBe(`@${lab.cinderBackends.find((b) => b.driver === 'ceph')!.name} is down`);
    // Glance's and Nova's pools as the spec's Ceph clients name them.
    expect(drills[5]!.object).toBe(`in pool ${lab.spec.storage!.ceph!.clients!['client.glance']![0]}`);
    expect(drills[6]!.object).toBe('in pool vms');
    for (const d of drills) expect(d.checks.every((c) => c.startsWith('storage.')) && d.decisions.length > 0).toBe(true);
    const names = drillCatalogue(lab).map((d) => d.name);
    for (const d of drills) expect(names).toContain(d.name);
  });

  test('a lab whose Ceph is not deployed from packages (cephadm) gets none', () => {
    expect(storageDrillsFor(loadLab('primary'))).toEqual([]);
  });
});
