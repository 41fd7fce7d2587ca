/**
 * Scaling a running embedded lab, judged over the lab as rendered before and after a spec change: a compute node
 * (and an OSD) joining starts only its own daemons and restarts only what lists the nodes (BIND's zones, Prometheus'
 * targets), never a Ceph daemon, the guests' compute node or the control plane; leaving is the same in reverse; and
 * what a running lab cannot lose is refused by name. The live counterpart is scale.live.ts.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { Lab } from '../../helpers/lab/model.ts';
import { attachmentProblems, cephPlacementProblems } from '../../helpers/lab/placement.ts';
import type { LabSpec } from '../../helpers/lab/spec.ts';
import { cephSectionsOf } from './ceph/common.ts';
import { daemonChange, nodeChange, osdOrderRefusals, scaleRefusals } from './change.ts';
import type { Daemon } from './component.ts';
import { nextNodeName, withExtraCompute, writeSpecCopy } from './extra-node.ts';
import { planUp } from './index.ts';
import { markComplete, writeConfig } from './orchestrator.ts';
import { cellOfHost, nodePrograms, recordApplied } from './scale.ts';
import { renderForTest, testContext } from './testing.ts';

const embedded = loadLab('embedded');
const variant = (lab: Lab, change: (spec: LabSpec) => void) => {
  const spec = structuredClone(lab.spec) as LabSpec;
  change(spec);
  return new Lab(spec, lab.file);
};
const grown = withExtraCompute(embedded);
const withNode4 = new Lab(grown.spec, embedded.file);
/** node4 also carries an OSD, appended to storage.ceph.osds (osd.2). */
const withOsd4 = variant(withNode4, (s) => {
  s.nodes.node4!.roles.push('ceph-osd');
  s.storage!.ceph!.osds.push({ node: 'node4' });
});

/** Both labs rendered from one state dir (same keys), as `lab up` renders them before and after the change. */
function daemonsOf(before: Lab, after: Lab): { before: readonly Daemon[]; after: readonly Daemon[] } {
  const base = mkdtempSync(join(tmpdir(), 'sg-scale-'));
  return { before: renderForTest(before, base).all, after: renderForTest(after, base).all };
}
const programsOn = (daemons: readonly Daemon[], node: string) =>
  daemons.filter((d) => d.node === node).map((d) => d.program);

describe('a compute node for the live scale test, derived from the spec', () => {
  test('embedded grows node4: node2’s interfaces, at the next host number free on all their networks', () => {
    expect(grown.node).toBe('node4');
    expect(grown.spec.nodes.node4).toEqual({
      roles: ['compute'],
      interfaces: [
        { name: 'eth0', network: 'management', address: '192.168.105.104' },
        { name: 'eth1', network: 'tunnel', address: '10.0.1.104' },
        { name: 'eth2', network: 'storage', address: '10.0.3.104' },
      ],
    });
    expect(['management', 'tunnel', 'storage'].map((n) => grown.spec.networks[n]!.attach)).toEqual([
      ['node1', 'node2', 'node3', 'node4'], ['node1', 'node2', 'node4'], ['node1', 'node2', 'node3', 'node4'],
    ]);
    expect(embedded.spec.nodes.node4, 'the loaded spec is left alone').toBeUndefined();
  });

  test('another lab grows by its own names and addresses', () => {
    const four = withExtraCompute(loadLab('four-node'));
    expect(four.node).toBe('fn5');
    expect(four.spec.nodes.fn5!.interfaces.map((i) => i.address ?? '-'))
      .toEqual(['172.29.10.15', '172.29.20.15', '172.29.40.15']);
    expect(nextNodeName('ctl', ['ctl'])).toBe('ctl-2');
  });

  test('its copy on disk loads as the same lab with four nodes, attached and placed as the preflight wants', () => {
    const file = writeSpecCopy(embedded, grown.spec, mkdtempSync(join(tmpdir(), 'sg-scale-spec-')));
    const lab = loadLab(file);
    expect([lab.name, lab.nodes.map((n) => n.name)]).toEqual(['embedded', ['node1', 'node2', 'node3', 'node4']]);
    expect(lab.caFile).toBe(embedded.caFile);
    expect([...attachmentProblems(lab), ...cephPlacementProblems(lab)]).toEqual([]);
    expect(readFileSync(join(lab.dir, 'decisions.yaml'), 'utf8'))
      .toBe(readFileSync(join(embedded.dir, 'decisions.yaml'), 'utf8'));
  });
});

describe('scale-out: what starts, what restarts, what is left alone', () => {
  test('a compute node joining starts its own daemons; only what lists the nodes restarts (BIND, Prometheus, peers)', () => {
    const { before, after } = daemonsOf(embedded, withNode4);
    const c = daemonChange(before, after);
    expect([...c.start].sort()).toEqual(programsOn(after, 'node4').sort());
    expect(c.start)
      .toEqual(expect.arrayContaining(['node4-nova-compute', 'node4-ovn-controller', 'node4-libvirtd', 'node4-sshd']));
    expect(c.stop).toEqual([]);
    expect(c.restart.map((r) => r.program)).toEqual(['node1-bind', 'node1-prometheus', 'node2-migration-peers']);
    expect(c.restart.find((r) => r.program === 'node1-bind')?.why).toMatch(/db\.openstack\.local/);
    const guestsKeep = programsOn(before, 'node2').filter((p) => p !== 'node2-migration-peers');
    expect(guestsKeep).toEqual(expect.arrayContaining(['node2-libvirtd', 'node2-nova-compute']));
    expect(c.untouched).toEqual(expect.arrayContaining([...guestsKeep, 'node1-keystone', 'node1-haproxy']));
    expect(c.untouched.length + c.restart.length).toBe(before.length);
  });

  test('an OSD joining leaves every running Ceph daemon alone: each reads only its own sections of ceph.conf', () => {
    const { before, after } = daemonsOf(embedded, withOsd4);
    const c = daemonChange(before, after);
    expect(c.start).toContain('node4-ceph-osd-2');
    expect(c.restart.map((r) => r.program)).toEqual(['node1-bind', 'node1-prometheus', 'node2-migration-peers']);
    expect(c.untouched)
      .toEqual(expect.arrayContaining(['node1-ceph-mon', 'node1-ceph-mgr', 'node2-ceph-osd-0', 'node3-ceph-osd-1']));
  });

  test('a change every Ceph daemon reads ([global]) still restarts each of them', () => {
    const { before, after } = daemonsOf(embedded, variant(embedded, (s) => void (s.storage!.ceph!.poolDefaultSize = 3)));
    const ceph = (list: readonly { program: string }[]) => list.map((r) => r.program).filter((p) => p.includes('ceph-'));
    expect(ceph(daemonChange(before, after).restart).sort())
      .toEqual(['node1-ceph-mgr', 'node1-ceph-mon', 'node2-ceph-osd-0', 'node3-ceph-osd-1']);
  });

  test("ceph.conf's sections a daemon reads: [global], its type's, its own", () => {
    const conf = '[global]\nfsid = x\n\n[osd]\na = 1\n\n[osd.0]\nb = 2\n\n[osd.1]\nc = 3\n\n[mon.node1]\nd = 4\n';
    expect(cephSectionsOf(conf, 'osd', '1')).toBe('[global]\nfsid = x\n[osd]\na = 1\n[osd.1]\nc = 3');
    expect(cephSectionsOf(conf, 'mon', 'node1')).toBe('[global]\nfsid = x\n[mon.node1]\nd = 4');
  });

  test('writing the configuration restarts by the same rule: a shared file restarts only whom its change reaches', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-scale-write-'));
    const path = join(dir, 'ceph.conf');
    const osd = (id: string, content: string): Daemon => ({
      node: 'n', service: `osd-${id}`, program: `n-osd-${id}`, argv: ['x'], dirs: [], health: [],
      files: [{ path, content, relevant: (c) => cephSectionsOf(c, 'osd', id) }],
    });
    const all = (content: string) => [osd('0', content), osd('1', content)];
    const write = (content: string) => writeConfig({ daemons: new Map(), files: [], all: all(content) });
    expect(write('[global]\na = 1\n[osd.0]\nb = 1\n')).toEqual(['n-osd-0', 'n-osd-1']);
    expect(write('[global]\na = 1\n[osd.0]\nb = 1\n[osd.1]\nc = 1\n')).toEqual(['n-osd-1']);
    expect(write('[global]\na = 2\n[osd.0]\nb = 1\n[osd.1]\nc = 1\n')).toEqual(['n-osd-0', 'n-osd-1']);
    writeFileSync(path, 'edited by hand\n');
    expect(write('[global]\na = 2\n[osd.0]\nb = 1\n[osd.1]\nc = 1\n'), 'what is on disk is what it compares with')
      .toEqual(['n-osd-0', 'n-osd-1']);
  });
});

describe('scale-in: what a leaving node takes with it, and what is refused', () => {
  test('the compute node leaving stops its own daemons; BIND, Prometheus and the peers restart; nothing else', () => {
    const { before, after } = daemonsOf(withNode4, embedded);
    const c = daemonChange(before, after);
    expect([...c.stop].sort()).toEqual(programsOn(before, 'node4').sort());
    expect([c.start, c.restart.map((r) => r.program)])
      .toEqual([[], ['node1-bind', 'node1-prometheus', 'node2-migration-peers']]);
    const n = nodeChange(withNode4, embedded);
    expect([n.added, n.removed, n.computeLeaving].map((l) => l.map((x) => x.name))).toEqual([[], ['node4'], ['node4']]);
    expect([n.osdsLeaving, scaleRefusals(withNode4, embedded), osdOrderRefusals(withNode4, embedded)])
      .toEqual([[], [], []]);
  });

  test('its programs stop nova-compute first, then the OVN agents, then the rest', () => {
    const { before } = daemonsOf(withNode4, embedded);
    expect(nodePrograms(before, 'node4').slice(0, 3))
      .toEqual(['node4-nova-compute', 'node4-neutron-ovn-metadata-agent', 'node4-ovn-controller']);
  });

  test("its host mapping is found in nova-manage's table by host name, not by a prefix of it", () => {
    const table = [
      '+-----------+--------------------------------------+----------+',
      '| Cell Name | Cell UUID                            | Hostname |',
      '+-----------+--------------------------------------+----------+',
      '| cell1     | 5b6a7c1e-0000-4000-8000-000000000001 | node2    |',
      '| cell1     | 5b6a7c1e-0000-4000-8000-000000000001 | node42   |',
      '+-----------+--------------------------------------+----------+',
    ].join('\n');
    expect([cellOfHost(table, 'node42'), cellOfHost(table, 'node4')]).toEqual(['5b6a7c1e-0000-4000-8000-000000000001', undefined]);
  });

  test('an OSD at the end of the list may leave while the pools still find their replicas', () => {
    const n = nodeChange(withOsd4, withNode4);
    expect(n.osdsLeaving).toEqual([{ id: 2, node: 'node4' }]);
    expect([...scaleRefusals(withOsd4, withNode4), ...osdOrderRefusals(withOsd4, withNode4)]).toEqual([]);
  });

  test('a node with a role whose service would go with it is refused by name and role', () => {
    const without = (name: string) => variant(embedded, (s) => {
      delete s.nodes[name];
      for (const net of Object.values(s.networks)) net.attach = net.attach?.filter((x) => x !== name);
      s.storage!.ceph!.osds = s.storage!.ceph!.osds.filter((o) => o.node !== name);
    });
    expect(scaleRefusals(embedded, without('node1'))[0]).toMatch(
      /^node node1 cannot leave the running lab embedded: it has the roles control, network, loadbalancer, database/,
    );
    expect(scaleRefusals(embedded, without('node3'))[0])
      .toMatch(/^node node3 cannot leave .*: it has the role storage \(only compute/);
  });

  test("an OSD host leaving is refused when a pool's size no longer fits the OSD hosts left, naming both", () => {
    const lab = variant(embedded, (s) => {
      s.nodes.node2!.roles = ['compute'];
      s.storage!.ceph!.osds = [{ node: 'node3' }];
    });
    expect(scaleRefusals(embedded, lab)).toEqual([
      'removing osd.0 on node2, osd.1 on node3 from lab embedded is refused: osd_pool_default_size is 2, but only 1 ' +
        'host(s) carry OSDs (node3): placement groups can never be clean',
    ]);
    expect(osdOrderRefusals(embedded, lab)).toEqual([
      'storage.ceph.osds of lab embedded: an OSD\'s id is its position in the list, so OSDs join and leave only at ' +
        'its end (osd.0 was on node2, the spec now puts it on node3): keep the earlier entries in their order',
    ]);
  });
});

describe('lab plan on the embedded lab: what up would change, from the spec up recorded', () => {
  const state = () => {
    const base = mkdtempSync(join(tmpdir(), 'sg-scale-plan-'));
    const { paths } = testContext(embedded, base);
    markComplete(paths);
    recordApplied(embedded, paths);
    return base;
  };

  test('a node joining: its daemons start, the three that list the nodes restart, the rest is counted untouched', () => {
    const out = planUp(withNode4, { stateBase: state() });
    expect(out).toMatch(/^lab embedded: what up changes in the running lab/);
    expect(out).toContain('  nodes joining: node4');
    expect(out).toMatch(/ {2}start 13: node4-sshd node4-node-exporter .*node4-nova-compute/);
    expect(out)
      .toMatch(/ {2}restart node1-bind \(.*db\.openstack\.local.*\)\n {2}restart node1-prometheus \(.*prometheus\.yml\)/);
    expect(out).toMatch(/ {2}restart node2-migration-peers \(its command\)/);
    expect(out).toMatch(/ {2}untouched: \d+ running programs$/);
  });

  test('a refused change says so and why, and the unchanged spec changes nothing', () => {
    const base = state();
    const noNode1 = variant(embedded, (s) => void delete s.nodes.node1);
    expect(planUp(noNode1, { stateBase: base }))
      .toMatch(/^lab embedded: up would refuse the change:\n {2}node node1 cannot leave/);
    expect(planUp(embedded, { stateBase: base })).toMatch(/untouched: \d+ running programs$/);
    expect(planUp(embedded, { stateBase: base })).not.toMatch(/start|stop|restart/);
  });

  test('a lab never brought up here by this version has nothing to compare with', () => {
    expect(planUp(embedded, { stateBase: mkdtempSync(join(tmpdir(), 'sg-scale-none-')) }))
      .toMatch(/no .*applied-spec\.json/);
  });
});
