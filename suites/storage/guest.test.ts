/** Storage as a guest and an image get it: a Ceph volume attached and seen in the guest, the guest's disk and Glance's images in Ceph where the spec says. */
import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { novaPool } from '../../helpers/lab/defaults.ts';
import { inService } from '../../helpers/node/deployer.ts';
import { quote } from '../../helpers/node/quote.ts';
import { backendsNow, volumeTypes, Volumes } from '../../helpers/openstack/volumes.ts';
import { partitions } from '../../helpers/openstack/guest.ts';
import { waitFor } from '../../helpers/openstack/wait.ts';


check('storage.volume-attach', 'A volume of the Ceph type attaches to a running server, the guest sees a disk of its size, and it detaches', async ({ lab, cloud, tenant, requires, due, needs, attach }) => {
  requires('guest-dataplane');
  requires('volume-attach');
  due(lab.ceph?.phase ?? 2, 'Cinder on Ceph');
  const rbd = backendsNow(lab).due.find((b) => b.driver === 'ceph');
  if (!rbd) throw new Error(`lab ${lab.name} is in phase ${lab.storagePhase} but the spec has no Cinder backend with driver ceph in it`);
  const t = await tenant();
  const { server } = await needs('a booted server (compute.server-boot)', t.server());
  const volumes = new Volumes(await cloud(), t.ledger);
  const type = (await volumeTypes(volumes.cloud)).find((x) => x.name === (rbd.volumeType ?? rbd.name));
  expect(type, `volume type ${rbd.volumeType ?? rbd.name} of backend ${rbd.name}`).toBeDefined();
  const before = partitions(await t.guestRuns('cat /proc/partitions'));
  const v = await volumes.create('vol-attach', { size: 1, volume_type: type!.name });
  await volumes.attach(v, server.id).catch(async (error: Error) => {
    await attach('instance actions', JSON.stringify(await t.serverActions(server.id), null, 1), 'application/json');
    throw error;
  });
  const seen = await waitFor(async () => partitions(await t.guestRuns('cat /proc/partitions')), {
    what: `a new disk of ${v.size} GiB in guest ${server.name}`,
    timeoutMs: 60_000,
    intervalMs: 2000,
    state: (p) => [...p.keys()].join(' '),
    done: (p) => [...p].some(([dev, kib]) => !before.has(dev) && kib === v.size * 1024 * 1024),
  });
  const disk = [...seen.value].find(([dev]) => !before.has(dev))![0];
  await attach('guest disks', `before: ${[...before.keys()].join(' ')}\nattached: ${disk} (${v.size} GiB)`);
  await volumes.detach(v, server.id);
  const after = await waitFor(async () => partitions(await t.guestRuns('cat /proc/partitions')), {
    what: `disk ${disk} gone from guest ${server.name}`,
    timeoutMs: 60_000,
    intervalMs: 2000,
    state: (p) => [...p.keys()].join(' '),
    done: (p) => !p.has(disk),
  });
  expect([...after.value.keys()], `guest ${server.name} after detaching volume ${v.name}`).not.toContain(disk);
  // The run's guest (booted once for the compute and storage layers) under the spec's build timeout, SSH, attach and detach.
}, { timeout: 660_000 });

check('storage.nova-disk-rbd', "A server's root disk is an RBD image in Nova's pool where the spec makes Nova a Ceph consumer", async ({ lab, tenant, node, due, needs, notApplicable }) => {
  due(lab.ceph?.phase ?? 2, 'Nova on Ceph');
  if (!lab.spec.storage?.ceph?.consumers?.includes('nova')) notApplicable(`lab ${lab.name}: storage.ceph.consumers does not name nova: its disks stay on the compute nodes`);
  const t = await tenant();
  const { server } = await needs('a booted server (compute.server-boot)', t.server());
  const mon = lab.ceph!.mons[0]!;
  const pool = novaPool(lab);
  const images = (await node(mon).out(inService(lab, 'ceph', `rbd ls ${quote(pool)}`))).split('\n').filter(Boolean);
  expect(images, `server ${server.name}: RBD images in pool ${pool} (seen on ${mon})`).toContain(`${server.id}_disk`);
}, { timeout: 360_000 });

check('storage.glance-rbd-image', "An image uploaded to Glance is an RBD image in the Glance client's pool where the spec makes Glance a Ceph consumer", async ({ lab, tenant, node, due, needs, notApplicable }) => {
  due(lab.ceph?.phase ?? 2, 'Glance on Ceph');
  if (!lab.spec.storage?.ceph?.consumers?.includes('glance')) notApplicable(`lab ${lab.name}: storage.ceph.consumers does not name glance: its images stay on Glance's own store`);
  const pool = lab.spec.storage?.ceph?.clients?.['client.glance']?.[0];
  if (!pool) throw new Error(`lab ${lab.name}: Glance is a Ceph consumer but storage.ceph.clients names no pool for client.glance`);
  const t = await tenant();
  const image = await needs('the uploaded test image (compute.glance-image)', t.image());
  const mon = lab.ceph!.mons[0]!;
  const images = (await node(mon).out(inService(lab, 'ceph', `rbd ls ${quote(pool)}`))).split('\n').filter(Boolean);
  expect(images, `image ${image.name}: RBD images in pool ${pool} (seen on ${mon})`).toContain(image.id);
});
