/**
 * Labs of other shapes than the embedded one, as the local provider renders them: two compute nodes with real
 * guests (four-node), every role on one node (all-in-one), and no two daemons of any bundled lab sharing a port,
 * socket, pid file or directory.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import type { Lab } from '../../helpers/lab/model.ts';
import { cephRun } from './ceph/common.ts';
import { collisions } from './collisions.ts';
import type { Daemon } from './component.ts';
import { libvirtDir, libvirtRun, libvirtUri } from './openstack/libvirt.ts';
import { novaDir } from './openstack/nova.ts';
import { ovsRun } from './openstack/ovn.ts';
import { renderForTest } from './testing.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const conf = (d: Daemon | undefined, suffix: string) => d?.files.find((f) => f.path.endsWith(suffix))?.content ?? '';

/** Directories several components share by design, as on one real host: every one named with why. */
function sharedByDesign(lab: Lab, r: ReturnType<typeof renderForTest>): Set<string> {
  const p = r.paths;
  return new Set([
    // sshd's privilege-separation directory: empty, the same on every node as on any host.
    '/run/sshd',
    // Ceph's run_dir: each daemon's admin socket is named after the daemon.
    cephRun(p),
    // The parent of each node's MON, MGR and OSD data directories.
    ...lab.nodes.map((n) => p.node(n.name, 'ceph')),
    // OVS_RUNDIR of a chassis: ovn-controller finds ovsdb-server's socket there, as on a real node.
    ...lab.nodes.map((n) => ovsRun(p, n)),
    // The control node's nova.conf and lock dir: Nova's metadata API is Nova.
    ...lab.nodes.flatMap((n) => [novaDir(p, n), `${novaDir(p, n)}/lock`]),
  ]);
}

const bundled = {
  embedded: 'embedded', 'embedded-infra': 'embedded-infra', 'embedded-lb': 'embedded-lb', other: join(here, 'testdata/other/lab.yaml'),
  'four-node': 'four-node', 'all-in-one': 'all-in-one', 'charmed-twin': 'charmed-twin',
};

describe('no two daemons of a bundled local lab share a port, socket, pid file or directory', () => {
  test.each(Object.entries(bundled))('%s', (_name, spec) => {
    const lab = loadLab(spec);
    const r = renderForTest(lab);
    expect(collisions(r, sharedByDesign(lab, r))).toEqual([]);
  });

  test('two libvirtds on one directory, or two daemons on one port, are caught', () => {
    const r = renderForTest(loadLab('four-node'));
    const fn2 = r.all.find((d) => d.program === 'fn2-libvirtd')!;
    const haproxy = r.all.find((d) => d.program === 'fn1-haproxy')!;
    const twin = { ...fn2, node: 'fn1', program: 'fn1-libvirtd' };
    const squatter = { ...haproxy, program: 'fn1-squatter', files: [], dirs: [], argv: ['/bin/true', '--pid-file=/x.pid'] };
    const found = collisions({ ...r, all: [...r.all, twin, squatter] });
    expect(found).toContain(`fn2-libvirtd and fn1-libvirtd both make ${libvirtRun(r.paths, loadLab('four-node').node('fn2'))}/libvirtd.pid`);
    expect(found.some((c) => /^fn1-haproxy and fn1-squatter both listen on 172\.29\.10\.11:9101$/.test(c))).toBe(true);
  });
});

describe('four-node: real guests on two compute nodes, each with its own libvirt', () => {
  const lab = loadLab('four-node');
  const r = renderForTest(lab);
  const on = (service: string) => r.all.filter((d) => d.service === service).map((d) => d.node);

  test('fn2 and fn3 each run libvirtd, virtlogd and nova-compute; no other node does', () => {
    for (const s of ['libvirtd', 'virtlogd', 'nova-compute']) expect(on(s)).toEqual(['fn2', 'fn3']);
  });

  test("each nova-compute talks to its own node's libvirtd socket, and the two sockets, dirs and host UUIDs differ", () => {
    const [fn2, fn3] = [lab.node('fn2'), lab.node('fn3')];
    for (const n of [fn2, fn3]) {
      const nova = r.all.find((d) => d.program === `${n.name}-nova-compute`);
      expect(conf(nova, 'nova.conf')).toContain(`connection_uri = qemu+unix:///system?socket=${libvirtRun(r.paths, n)}/libvirt-sock\n`);
    }
    expect(libvirtUri(r.paths, fn2)).not.toBe(libvirtUri(r.paths, fn3));
    const dirs = (n: string) => r.all.filter((d) => d.node === n && /libvirtd|virtlogd/.test(d.service)).flatMap((d) => d.dirs.map((x) => x.path));
    expect(dirs('fn2').filter((x) => dirs('fn3').includes(x))).toEqual([]);
    const uuid = (n: string) => conf(r.all.find((d) => d.program === `${n}-libvirtd`), 'libvirtd.conf').match(/host_uuid = "(\S+)"/)?.[1];
    expect(uuid('fn2')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuid('fn2')).not.toBe(uuid('fn3'));
  });

  test("libvirtd and virtlogd of a node see /run/libvirt, domains and secrets in that node's own directories", () => {
    const fn3 = lab.node('fn3');
    for (const s of ['libvirtd', 'virtlogd']) {
      const d = r.all.find((x) => x.program === `fn3-${s}`)!;
      const script = d.argv[2]!;
      expect(d.argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
      expect(script).toContain(`mount --bind ${libvirtRun(r.paths, fn3)} /run/libvirt`);
      expect(script).toContain(`mount --bind ${libvirtDir(r.paths, fn3)}/qemu /etc/libvirt/qemu`);
      expect(script).toContain(`mount --bind ${libvirtDir(r.paths, fn3)}/secrets /etc/libvirt/secrets`);
      expect(d.argv).toContain(`${libvirtRun(r.paths, fn3)}/${s}.pid`);
    }
  });

  test('every Ceph role where the spec puts it: MON and MGR on fn1, an OSD on each of fn2, fn3, fn4', () => {
    expect(on('ceph-mon')).toEqual(['fn1']);
    expect(r.all.filter((d) => d.service.startsWith('ceph-osd')).map((d) => d.node)).toEqual(['fn2', 'fn3', 'fn4']);
  });

  test('nothing carries a name or address of the embedded lab', () => {
    const text = [...r.all.flatMap((d) => [...d.argv, ...d.files.map((f) => f.content)]), ...r.files.map((f) => f.content)].join('\n');
    for (const leak of ['192.168.105.', '10.0.1.', '10.0.2.', '10.0.3.', 'openstack.local', 'node1', 'node2', 'node3', 'embedded', 'eth0']) {
      expect(text).not.toContain(leak);
    }
  });
});

describe('all-in-one: every role on one node', () => {
  const lab = loadLab('all-in-one');
  const r = renderForTest(lab);

  test('every daemon runs on aio, the cloud and the guests among them', () => {
    expect(new Set(r.all.map((d) => d.node))).toEqual(new Set(['aio']));
    for (const s of ['keystone', 'nova-api', 'nova-compute', 'libvirtd', 'virtlogd', 'neutron-server', 'ovn-controller', 'haproxy', 'bind', 'prometheus']) {
      expect(r.all.map((d) => d.service)).toContain(s);
    }
  });

  test("nova-compute keeps a directory of its own beside the control services' nova.conf", () => {
    const compute = r.all.find((d) => d.program === 'aio-nova-compute')!;
    const api = r.all.find((d) => d.program === 'aio-nova-conductor')!;
    expect(compute.argv.at(-1)).not.toBe(api.argv.at(-1));
    expect(conf(compute, 'nova.conf')).toContain(`instances_path = ${novaDir(r.paths, lab.node('aio'))}-compute/instances`);
  });
});
