/** Cinder per backend of the spec's phase: services, volume types, the volume lifecycle, RBD and LVM placement. */
import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { cinderPool, iscsiPort, volumeGroup } from '../../helpers/lab/defaults.ts';
import { inService } from '../../helpers/node/deployer.ts';
import { listenerFindings, listeningAddresses } from '../../helpers/node/net.ts';
import { quote } from '../../helpers/node/quote.ts';
import { backendsNow, backupFindings, cinderServices, serviceFindings, volumeTypes, Volumes } from '../../helpers/openstack/volumes.ts';

check('storage.cinder-services', "A cinder-volume service is up for every backend of the lab's phase on its host, and cinder-backup runs exactly when due", async ({ lab, cloud, attach }) => {
  const services = await cinderServices(await cloud());
  const { due, left } = backendsNow(lab);
  await attach('services', `${services.map((s) => `${s.binary} ${s.host} ${s.state}/${s.status}`).join('\n')}\nnot judged: ${left.join('; ') || 'none'}`);
  expect([...due.flatMap((b) => serviceFindings(lab, b, services)), ...backupFindings(lab, services)], 'Cinder services').toEqual([]);
});

check('storage.volume-lifecycle', 'On every backend of the phase: a volume of its type becomes available there, extends, snapshots, and goes', async ({ lab, cloud, tenant, notApplicable, attach }) => {
  const { due, left } = backendsNow(lab);
  if (due.length === 0) notApplicable(`no Cinder backend of lab ${lab.name} runs now: ${left.join('; ')}`);
  const t = await tenant();
  const volumes = new Volumes(await cloud(), t.ledger);
  const types = await volumeTypes(volumes.cloud);
  const findings: string[] = [];
  for (const b of due) {
    const type = types.find((x) => x.name === (b.volumeType ?? b.name));
    if (!type) {
      findings.push(`backend ${b.name}: no volume type ${b.volumeType ?? b.name} (types: ${types.map((x) => x.name).join(', ') || 'none'})`);
      continue;
    }
    const v = await volumes.create(`vol-${b.name}`, { size: 1, volume_type: type.name });
    const host = v['os-vol-host-attr:host'] ?? '';
    if (!host.includes(`@${b.name}`)) findings.push(`volume ${v.name} of type ${type.name} landed on ${host || 'no host'}, not on backend ${b.name}`);
    const extended = await volumes.extend(v, 2);
    const snap = await volumes.snapshot(extended, `snap-${b.name}`);
    await attach(`backend ${b.name}`, `volume ${v.name} on ${host}, extended to ${extended.size} GiB, snapshot ${snap.name} ${snap.status}; not judged: ${left.join('; ') || 'none'}`);
    await t.ledger.remove('volume-snapshot', snap.id);
    await t.ledger.remove('volume', v.id);
  }
  expect(findings, 'volumes that did not land where the spec says').toEqual([]);
});

check('storage.volume-from-image', 'On every backend of the phase: a volume made from an image becomes available and bootable, with the image recorded', async ({ lab, cloud, tenant, notApplicable, attach }) => {
  const { due, left } = backendsNow(lab);
  if (due.length === 0) notApplicable(`no Cinder backend of lab ${lab.name} runs now: ${left.join('; ')}`);
  const t = await tenant();
  const image = await t.image();
  const volumes = new Volumes(await cloud(), t.ledger);
  const findings: string[] = [];
  for (const b of due) {
    const type = b.volumeType ?? b.name;
    const v = await volumes.create(`vol-image-${b.name}`, { size: 1, volume_type: type, imageRef: image.id }).catch((e: Error) => e);
    if (v instanceof Error) {
      findings.push(`backend ${b.name}: a volume from image ${image.name} (${image.id}) was not made: ${v.message}`);
      continue;
    }
    const from = v.volume_image_metadata?.image_id;
    if (v.bootable !== 'true') findings.push(`backend ${b.name}: volume ${v.name} from image ${image.name} is not bootable (bootable ${v.bootable})`);
    if (from !== image.id) findings.push(`backend ${b.name}: volume ${v.name} records image ${from ?? 'none'}, not ${image.id}`);
    await attach(`backend ${b.name}`, `volume ${v.name} from image ${image.name}: ${v.status}, bootable ${v.bootable}, image ${from}`);
    await t.ledger.remove('volume', v.id);
  }
  expect(findings, 'volumes from an image').toEqual([]);
});

check('storage.rbd-volume', 'A volume of the Ceph type is an RBD image in the pool the spec names', async ({ lab, cloud, tenant, node, due }) => {
  due(lab.ceph?.phase ?? 2, 'Cinder on Ceph');
  const rbd = backendsNow(lab).due.find((b) => b.driver === 'ceph');
  if (!rbd) throw new Error(`lab ${lab.name} is in phase ${lab.storagePhase} but the spec has no Cinder backend with driver ceph in it`);
  const t = await tenant();
  const volumes = new Volumes(await cloud(), t.ledger);
  const v = await volumes.create('vol-rbd', { size: 1, volume_type: rbd.volumeType ?? rbd.name });
  const mon = lab.ceph!.mons[0]!;
  const pool = cinderPool(rbd);
  const images = await node(mon).out(inService(lab, 'ceph', `rbd ls ${quote(pool)}`));
  expect(images.split('\n'), `volume ${v.name}: RBD images in pool ${pool} (seen on ${mon})`).toContain(`volume-${v.id}`);
});

check('storage.lvm-volume-group', 'The LVM backend has its volume group on its storage node, at the size the spec gives', async ({ lab, node, requires, notApplicable }) => {
  const lvm = lab.cinderBackends.find((b) => b.driver === 'lvm');
  if (!lvm) return notApplicable(`lab ${lab.name} has no Cinder backend with driver lvm`);
  requires('lvm');
  const vg = volumeGroup(lvm);
  const findings: string[] = [];
  for (const host of lvm.hosts ?? []) {
    const out = await node(host).run(`vgs --noheadings --units g --nosuffix -o vg_name,vg_size ${quote(vg)}`);
    if (out.code !== 0) {
      findings.push(`${host}: no volume group ${vg} (${out.stderr.trim()})`);
      continue;
    }
    const size = Number(out.stdout.trim().split(/\s+/)[1]);
    if (lvm.sizeGiB && Math.abs(size - lvm.sizeGiB) > 1) findings.push(`${host}: volume group ${vg} is ${size} GiB, the spec says ${lvm.sizeGiB} GiB`);
  }
  expect(findings, 'LVM volume groups').toEqual([]);
});

check('storage.iscsi-target', "The LVM backend's iSCSI target listens on the storage node's address on the network the spec names, and only there", async ({ lab, node, requires, notApplicable }) => {
  const lvm = lab.cinderBackends.find((b) => b.driver === 'lvm');
  if (!lvm) return notApplicable(`lab ${lab.name} has no Cinder backend with driver lvm`);
  requires('lvm');
  const findings: string[] = [];
  for (const host of lvm.hosts ?? []) {
    const n = lab.node(host);
    const want = lvm.iscsiNetwork ? n.addresses[lvm.iscsiNetwork] : n.apiAddress;
    const port = iscsiPort(lvm);
    if (!want) {
      findings.push(`${host} has no address on network ${lvm.iscsiNetwork ?? 'api'} for the iSCSI target`);
      continue;
    }
    const listening = listeningAddresses(await node(host).out(`ss -Hltn 'sport = :${port}'`));
    findings.push(...listenerFindings('iSCSI target', want, port, listening).map((f) => `${host}: ${f}`));
  }
  expect(findings, 'iSCSI targets').toEqual([]);
});

check('storage.retype-migrate', 'A volume retyped from LVM to Ceph migrates to the Ceph backend, and back', async ({ lab, cloud, tenant, requires, due }) => {
  due(lab.ceph?.phase ?? 2, 'LVM and Ceph side by side');
  requires('lvm');
  const { due: backends } = backendsNow(lab);
  const lvm = backends.find((b) => b.driver === 'lvm');
  const rbd = backends.find((b) => b.driver === 'ceph');
  if (!lvm || !rbd) throw new Error(`lab ${lab.name} in phase ${lab.storagePhase} should run both an LVM and a Ceph backend; it runs ${backends.map((b) => b.name).join(', ')}`);
  const t = await tenant();
  const volumes = new Volumes(await cloud(), t.ledger);
  const v = await volumes.create('vol-migrate', { size: 1, volume_type: lvm.volumeType ?? lvm.name });
  const there = await volumes.retype(v, rbd.volumeType ?? rbd.name, rbd.name);
  const back = await volumes.retype(there, lvm.volumeType ?? lvm.name, lvm.name);
  expect(back['os-vol-host-attr:host'], `volume ${v.name} after migrating to ${rbd.name} and back`).toContain(`@${lvm.name}`);
});
