import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { kollaHasStorageInterface } from '../../helpers/lab/kolla.ts';

check('pre.storage-network', 'iSCSI traffic runs on the network the design gives it', ({ lab, notApplicable }) => {
  const lvm = lab.cinderBackends.filter((b) => b.driver === 'lvm' && b.iscsiNetwork);
  if (lvm.length === 0) notApplicable('the spec has no LVM backend with an iSCSI network');
  const api = lab.networkFor('api') ?? lab.networkFor('management');
  for (const backend of lvm) {
    const wanted = backend.iscsiNetwork!;
    if (lab.deployer.kind !== 'kolla' || kollaHasStorageInterface(lab.deployer.version) || wanted === api?.name) continue;
    expect(
      backend.targetAddressPinned,
      `backend ${backend.name} wants iSCSI on network "${wanted}", but Kolla-Ansible ${lab.deployer.version} (≥ 15.0.0 Zed) has no ` +
        `storage_interface: cinder's my_ip is the api_interface address, so iSCSI runs on "${api?.name}". Remedy: pin ` +
        `target_ip_address of [${backend.name}] to the storage address in /etc/kolla/config/cinder/cinder-volume.conf ` +
        `(then set targetAddressPinned: true), or record a waiver`,
    ).toBe(true);
  }
});
