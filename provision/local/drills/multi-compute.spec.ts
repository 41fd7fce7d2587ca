import { describe, expect, test } from 'vitest';
import { loadDecisions } from '../../../helpers/gate/decisions.ts';
import { loadLab } from '../../../helpers/lab/load.ts';
import { drillCatalogue } from './index.ts';
import { geneveDropFlows, migrationRejectRule, multiComputeDrillsFor } from './multi-compute.ts';

describe('fault drills between compute nodes (catalogue only; no lab is touched)', () => {
  test('the four-node lab has both, each breaking one check and naming its decision from the lab record and its node', () => {
    const lab = loadLab('four-node');
    const drills = multiComputeDrillsFor(lab);
    expect(drills.map((d) => [d.name, d.checks, d.decisions, d.object])).toEqual([
      ['compute-migration-listener-closed', ['compute.live-migration'], ['FN-20'], 'to fn2'],
      ['compute-geneve-between-computes-dropped', ['compute.east-west'], ['FN-19'], ' on fn3'],
    ]);
    expect(drills[0]!.description).toContain('172.29.10.12:16509');
    expect(drills[1]!.description).toContain("fn3's tunnel bridge ens4");
    expect(drills[1]!.description).toContain('172.29.20.12');
    const decisions = loadDecisions(lab);
    for (const d of drills) for (const c of d.checks) expect(decisions.forCheck(c).map((x) => x.id)).toEqual(expect.arrayContaining([...d.decisions]));
    const names = drillCatalogue(lab).map((d) => d.name);
    for (const d of drills) expect(names).toContain(d.name);
  });

  test('labs with one compute node have none (no other node to migrate to, no east-west between nodes)', () => {
    for (const name of ['embedded', 'all-in-one', 'embedded-infra']) expect(multiComputeDrillsFor(loadLab(name)), name).toEqual([]);
  });

  test('the fault itself: a reset on the libvirtd port, and Geneve dropped both ways on the tunnel bridge', () => {
    expect(migrationRejectRule(16509)).toEqual(['INPUT', '-p', 'tcp', '--dport', '16509', '-m', 'comment', '--comment', 'stackgate drill compute-migration-listener-closed',
      '-j', 'REJECT', '--reject-with', 'tcp-reset']);
    expect(geneveDropFlows('172.29.20.12')).toEqual([
      'cookie=0x5367ee01,priority=65000,udp,tp_dst=6081,nw_src=172.29.20.12,actions=drop',
      'cookie=0x5367ee01,priority=65000,udp,tp_dst=6081,nw_dst=172.29.20.12,actions=drop',
    ]);
  });
});
