import { describe, expect, it } from 'vitest';
import { loadLab } from './load.ts';
import { labVariant } from './variant.ts';
import { attachmentProblems, cephPlacementProblems, hostBudget, lvmDiskProblems, poolSizeProblems } from './placement.ts';

const variant = labVariant;

describe('placement', () => {
  const primary = loadLab('primary');

  it('attaches each network to exactly its nodes, as their roles need', () => {
    expect(attachmentProblems(primary)).toEqual([]);
    const moved = variant((s) => {
      s.nodes.node2!.interfaces = s.nodes.node2!.interfaces.filter((i) => i.network !== 'tunnel');
      s.nodes.node1!.interfaces = s.nodes.node1!.interfaces.filter((i) => i.use !== 'neutron-external');
    });
    expect(attachmentProblems(moved)).toEqual([
      'network tunnel should attach exactly [node1, node2], but the nodes with an interface on it are [node1]',
      'compute node node2 has no address on tunnel network tunnel',
      'network node node1 has no neutron-external interface on the external network external',
    ]);
  });

  it("adds up the nodes' demand against the host after its reserve", () => {
    expect(hostBudget(primary)).toEqual([
      { resource: 'memoryGiB', demanded: 72, host: 96, reserve: 16, available: 80, parts: 'node1 32 + node2 28 + node3 12' },
      { resource: 'vcpus', demanded: 12, host: 12, reserve: 0, available: 12, parts: 'node1 6 + node2 4 + node3 2' },
      { resource: 'diskGiB', demanded: 180, host: 180, reserve: 30, available: 150, parts: 'node1 60 + node2 40+20 + node3 30+10+20' },
    ]);
    expect(hostBudget(variant((s) => delete s.host))).toBeUndefined();
  });

  it('places Ceph daemons on nodes with their roles and OSDs on raw disks above 5 GB', () => {
    expect(cephPlacementProblems(primary)).toEqual([]);
    const bad = variant((s) => {
      s.storage!.ceph!.mgrs = ['node2'];
      s.nodes.node2!.disks![0]!.format = true;
      s.storage!.ceph!.osds[1]!.disk = 'node3-missing';
    });
    expect(cephPlacementProblems(bad)).toEqual([
      'Ceph MGR on node node2, which lacks the ceph-mgr role',
      'node node1 has the ceph-mgr role but the spec places no Ceph MGR on it',
      'OSD disk node2-ceph on node node2 is formatted (format: true): Ceph needs a raw device (set format: false)',
      'OSD on node node3 uses disk node3-missing, which node node3 does not have',
    ]);
  });

  it("keeps pool sizes within the OSD hosts, with Ceph's default of 3 when unset", () => {
    expect(poolSizeProblems(primary)).toEqual([]);
    expect(poolSizeProblems(variant((s) => delete s.storage!.ceph!.poolDefaultSize))).toEqual([
      "osd_pool_default_size (Ceph's default) is 3, but only 2 host(s) carry OSDs (node2, node3): placement groups can never be clean",
    ]);
  });

  it('wants a raw LVM disk of the backend size on every LVM host', () => {
    expect(lvmDiskProblems(primary)).toEqual([]);
    expect(lvmDiskProblems(variant((s) => void (s.nodes.node3!.disks![0]!.format = true)))).toEqual([
      'LVM backend lvm-1 needs a raw disk of at least 10 GiB on node node3, which has node3-lvm 10 GiB (formatted)',
    ]);
  });
});
