import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { KOLLA_CINDER_BACKUP_DEFAULT, kollaHasStorageInterface } from '../../helpers/lab/kolla.ts';
import { cephPlacementProblems, lvmDiskProblems, poolSizeProblems } from '../../helpers/lab/placement.ts';

check('pre.storage-network', 'iSCSI traffic runs on the network the design gives it', ({ lab, notApplicable }) => {
  const lvm = lab.cinderBackends.filter((b) => b.driver === 'lvm' && b.iscsiNetwork);
  if (lvm.length === 0) return notApplicable('the spec has no LVM backend with an iSCSI network');
  const api = lab.networkFor('api') ?? lab.networkFor('management');
  for (const backend of lvm) {
    const wanted = backend.iscsiNetwork!;
    if (lab.deployer.kind !== 'kolla' || kollaHasStorageInterface(lab.deployer.version) || wanted === api?.name) continue;
    expect(
      backend.targetAddressPinned ?? false,
      `backend ${backend.name} wants iSCSI on network "${wanted}", but Kolla-Ansible ${lab.deployer.version} (≥ 15.0.0 Zed) has no ` +
        `storage_interface: cinder's my_ip is the api_interface address, so iSCSI runs on "${api?.name}". Remedy: pin ` +
        `target_ip_address of [${backend.name}] to the storage address in /etc/kolla/config/cinder/cinder-volume.conf ` +
        `(then set targetAddressPinned: true), or record a waiver`,
    ).toBe(true);
  }
});

check('pre.ceph-pool-size', 'no Ceph pool wants more replicas than there are OSD hosts', ({ lab, notApplicable }) => {
  if (!lab.ceph) return notApplicable('the spec has no Ceph');
  expect(poolSizeProblems(lab), 'Ceph pool sizes').toEqual([]);
});

check('pre.ceph-placement', 'Ceph daemons sit on nodes with their roles, OSDs on raw disks above 5 GB', ({ lab, notApplicable }) => {
  if (!lab.ceph) return notApplicable('the spec has no Ceph');
  expect(cephPlacementProblems(lab), 'Ceph placement').toEqual([]);
});

check('pre.lvm-disk', 'every LVM backend host has a raw LVM disk of the backend size', ({ lab, notApplicable, requires }) => {
  if (!lab.cinderBackends.some((b) => b.driver === 'lvm')) return notApplicable('the spec has no LVM backend');
  requires('lvm');
  expect(lvmDiskProblems(lab), 'LVM disks').toEqual([]);
});

check('pre.cinder-backup-phase', 'cinder-backup with the Ceph driver does not come before Ceph', ({ lab, notApplicable }) => {
  const cinder = lab.spec.storage?.cinder;
  if (!cinder) return notApplicable('the spec has no Cinder');
  const kolla = lab.deployer.kind === 'kolla';
  if (!cinder.backup && !kolla) return notApplicable(`the spec runs no cinder-backup and the deployer ${lab.deployer.kind} enables none by default`);
  const driver = cinder.backup?.driver ?? KOLLA_CINDER_BACKUP_DEFAULT.driver;
  if (driver !== 'ceph') return notApplicable(`cinder-backup uses the ${driver} driver, not Ceph`);
  const phase = cinder.backup?.phase ?? 1;
  const cephPhase = lab.ceph?.phase;
  expect(
    cephPhase !== undefined && phase >= cephPhase,
    `cinder-backup (ceph driver) runs from phase ${phase}${cinder.backup?.phase === undefined ? " (Kolla-Ansible enables it by default with cinder_backup_driver ceph)" : ''}, ` +
      `but Ceph ${cephPhase === undefined ? 'is not in the spec' : `arrives in phase ${cephPhase}`}: set enable_cinder_backup "no" until Ceph is there (storage.cinder.backup.phase)`,
  ).toBe(true);
});
