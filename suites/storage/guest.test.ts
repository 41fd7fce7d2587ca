/** Storage as a guest and an image get it: a Ceph volume attached and seen in the guest, the guest's disk and Glance's images in Ceph where the spec says. */
import { expect } from 'vitest';
import { check, isSkip } from '../../helpers/gate/check.ts';
import { novaPool } from '../../helpers/lab/defaults.ts';
import { inService } from '../../helpers/node/deployer.ts';
import { quote } from '../../helpers/node/quote.ts';
import { backendsNow, volumeTypes, Volumes } from '../../helpers/openstack/volumes.ts';
import { partitions } from '../../helpers/openstack/guest.ts';
import { waitFor } from '../../helpers/openstack/wait.ts';


check('storage.volume-attach', 'A volume of the Ceph type attaches to a running server on each compute node, the guest sees a disk of its size, and it detaches', async ({ lab, cloud, tenant, requires, due, needs, attach }) => {
  requires('guest-dataplane');
  requires('volume-attach');
  due(lab.ceph?.phase ?? 2, 'Cinder on Ceph');
  const rbd = backendsNow(lab).due.find((b) => b.driver === 'ceph');
  if (!rbd) throw new Error(`lab ${lab.name} is in phase ${lab.storagePhase} but the spec has no Cinder backend with driver ceph in it`);
  const t = await tenant();
  const volumes = new Volumes(await cloud(), t.ledger);
  const type = (await volumeTypes(volumes.cloud)).find((x) => x.name === (rbd.volumeType ?? rbd.name));
  expect(type, `volume type ${rbd.volumeType ?? rbd.name} of backend ${rbd.name}`).toBeDefined();
  // On every compute node's guest side by side: each node's libvirt opens RBD with its own secret.
  const attachOn = async (node: string | undefined) => {
    const { server } = await needs(`a booted server${node ? ` on ${node}` : ''} (compute.server-boot)`, t.server(node));
    const guest = `guest ${server.name}${node ? ` on ${node}` : ''}`;
    const disks = () => t.guestRuns('cat /proc/partitions', 180_000, node).then(partitions);
    // The volume is made while the guest still boots: only the attachment needs the guest.
    const [v, before] = await Promise.all([
      volumes.create(node ? `vol-attach-${node}` : 'vol-attach', { size: 1, volume_type: type!.name }),
      disks(),
    ]);
    await volumes.attach(v, server.id).catch(async (error: Error) => {
      const actions = JSON.stringify(await t.serverActions(server.id), null, 1);
      await attach(`instance actions${node ? ` (${node})` : ''}`, actions, 'application/json');
      throw new Error(`${guest}: ${error.message}`);
    });
    const seen = await waitFor(disks, {
      what: `a new disk of ${v.size} GiB in ${guest}`,
      timeoutMs: 60_000,
      intervalMs: 1000,
      state: (p) => [...p.keys()].join(' '),
      done: (p) => [...p].some(([dev, kib]) => !before.has(dev) && kib === v.size * 1024 * 1024),
    });
    const disk = [...seen.value].find(([dev]) => !before.has(dev))![0];
    await attach(`guest disks${node ? ` (${node})` : ''}`, `before: ${[...before.keys()].join(' ')}\nattached: ${disk} (${v.size} GiB)`);
    await volumes.detach(v, server.id);
    const after = await waitFor(disks, {
      what: `disk ${disk} gone from ${guest}`,
      timeoutMs: 60_000,
      intervalMs: 1000,
      state: (p) => [...p.keys()].join(' '),
      done: (p) => !p.has(disk),
    });
    return after.value.has(disk) ? [`${guest} still shows ${disk} after detaching volume ${v.name}`] : [];
  };
  const nodes = t.guestNodes();
  if (nodes.length === 1) return expect(await attachOn(nodes[0]), 'volume attach and detach').toEqual([]);
  const outcomes = await Promise.allSettled(nodes.map(attachOn));
  // A step this check stands on (blocked) blocks it as a whole; every other failure is named with its node.
  const blocked = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected' && isSkip(o.reason));
  if (blocked) throw blocked.reason;
  const findings = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? o.value : [`on ${nodes[i]}: ${(o.reason as Error).message}`]));
  expect(findings, `volume attach and detach on ${nodes.join(', ')}`).toEqual([]);
  // The run's guests (booted for the compute and storage layers) under the spec's build timeout, SSH, attach and detach.
}, { timeout: 660_000 });

check('storage.nova-disk-rbd', "Each server's root disk is an RBD image in Nova's pool where the spec makes Nova a Ceph consumer", async ({ lab, tenant, node, due, needs, notApplicable }) => {
  due(lab.ceph?.phase ?? 2, 'Nova on Ceph');
  if (!lab.spec.storage?.ceph?.consumers?.includes('nova')) notApplicable(`lab ${lab.name}: storage.ceph.consumers does not name nova: its disks stay on the compute nodes`);
  if (lab.spec.compute?.virtType === 'fake') notApplicable(`lab ${lab.name}: compute.virtType fake: Nova's fake driver writes no disks`);
  const t = await tenant();
  const servers = [];
  for (const n of t.guestNodes()) {
    const { server } = await needs(`a booted server${n ? ` on ${n}` : ''} (compute.server-boot)`, t.server(n));
    servers.push({ node: n, server });
  }
  const mon = lab.ceph!.mons[0]!;
  const pool = novaPool(lab);
  const images = (await node(mon).out(inService(lab, 'ceph', `rbd ls ${quote(pool)}`))).split('\n').filter(Boolean);
  const missing = servers
    .filter((s) => !images.includes(`${s.server.id}_disk`))
    .map((s) => `server ${s.server.name}${s.node ? ` on ${s.node}` : ''}: no RBD image ${s.server.id}_disk`);
  expect(missing, `RBD images in pool ${pool} (seen on ${mon}: ${images.length} images)`).toEqual([]);
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
