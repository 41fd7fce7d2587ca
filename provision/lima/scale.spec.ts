/**
 * The Mac lab scaled as Kolla-Ansible documents it (adding-and-removing-hosts): `lab plan` after a spec change that
 * adds a compute node prints bootstrap-servers, pull, prechecks and deploy, each --limit to the new node, then the
 * cell's host discovery; removing it prints the documented removal. Golden files hold both (STACKGATE_UPDATE_GOLDEN=1
 * rewrites them); nothing here runs a command.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { Lab } from '../../helpers/lab/model.ts';
import type { LabSpec } from '../../helpers/lab/spec.ts';
import { withExtraCompute } from '../local/extra-node.ts';
import { main, type Io } from './index.ts';
import { limaPaths } from './paths.ts';
import { buildPlan, commandLine, type Step } from './plan.ts';
import { fingerprint } from './run.ts';
import { adoptScale, appliedFile, buildScalePlan, formatScalePlan, limaScaleRefusals } from './scale.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const primary = loadLab('primary');
const grown = new Lab(withExtraCompute(primary).spec, primary.file);
const variant = (lab: Lab, change: (s: LabSpec) => void) => {
  const spec = structuredClone(lab.spec) as LabSpec;
  change(spec);
  return new Lab(spec, lab.file);
};
const golden = (name: string, text: string) => {
  const file = join(here, 'testdata', name);
  if (process.env.STACKGATE_UPDATE_GOLDEN) writeFileSync(file, text);
  expect(text).toBe(readFileSync(file, 'utf8'));
};
const line = (steps: readonly Step[], id: string) => commandLine(steps.find((s) => s.id === id) ?? { id, phase: 1, group: '', title: '' });
const kollaAnsible = (steps: readonly Step[]) => steps.filter((s) => s.argv?.[0]?.endsWith('/kolla-ansible'));

describe('lab plan when a compute node joins the running Mac lab', () => {
  const steps = buildScalePlan(primary, grown);

  test('the printed scale plan matches its golden file', () => golden('scale-out-primary.txt', formatScalePlan(primary, grown, steps)));

  test("Kolla's documented sequence, each limited to the new node, after its VM and before the cell's discovery", () => {
    const order = steps.map((s) => s.id);
    expect(kollaAnsible(steps).slice(0, 4).map((s) => [s.argv![1], s.argv!.at(-2), s.argv!.at(-1)])).toEqual(
      ['bootstrap-servers', 'pull', 'prechecks', 'deploy'].map((sub) => [sub, '--limit', 'node4']),
    );
    expect(order.indexOf('ssh:node4')).toBeLessThan(order.indexOf('scale-out:bootstrap-servers'));
    expect(order.indexOf('scale-out:deploy')).toBeLessThan(order.indexOf('scale-out:discover-hosts'));
    expect(line(steps, 'scale-out:discover-hosts')).toBe(
      'limactl shell --workdir=/ node1 sudo docker exec nova_conductor nova-manage cell_v2 discover_hosts --by-service',
    );
    expect(line(steps, 'scale-out:compute-up:node4')).toMatch(/compute service list --service nova-compute --host node4 .*grep -qx up'$/);
  });

  test('only the new node’s VM steps and the re-rendered DNS zones come from the full plan; no host but node4 is deployed', () => {
    const full = new Set(buildPlan(grown).map((s) => s.id));
    const reused = steps.filter((s) => full.has(s.id)).map((s) => s.id);
    expect(reused.filter((id) => !id.startsWith('dns:') && !id.startsWith('preflight'))).toEqual([
      'vms:create:node4', 'vms:start:node4', 'vms:key:node4', 'vms:authorize:node4', 'ssh:node4', 'host-iscsi:node4',
    ]);
    expect(steps.some((s) => /^(vms|ssh|host-iscsi):.*node[123]$/.test(s.id))).toBe(false);
    expect(kollaAnsible(steps).every((s) => s.argv!.includes('--limit'))).toBe(true);
    // Beyond Kolla's page: Prometheus' own hosts deployed again (tag prometheus only), so it scrapes node4 too.
    expect(kollaAnsible(steps).at(-1)!.argv!.slice(1, 2).concat(kollaAnsible(steps).at(-1)!.argv!.slice(-4))).toEqual([
      'deploy', '--tags', 'prometheus', '--limit', 'node1',
    ]);
  });

  test('lab plan prints the scale plan first when up recorded an earlier spec, then the full plan; it runs nothing', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sg-lima-scale-'));
    const lines: string[] = [];
    const io: Io = { log: (l) => lines.push(l), cwd, env: { PATH: '/nonexistent' }, confirm: async () => '' };
    expect(await main(grown, 'plan', [], io)).toBe(0);
    expect(lines.join('\n')).not.toContain('joining');
    mkdirSync(join(cwd, limaPaths(primary).lima), { recursive: true });
    writeFileSync(join(cwd, appliedFile(limaPaths(primary))), JSON.stringify({ spec: primary.spec }));
    lines.length = 0;
    expect(await main(grown, 'plan', [], io)).toBe(0);
    expect(lines[0]).toMatch(/^lab primary: the running lab changes nodes \(joining: node4; leaving: none\)/);
    expect(lines.join('\n')).toMatch(/The full plan \(what a first up runs\):\nlab primary: \d+ steps/);
  });
});

describe('lab plan when a compute node leaves', () => {
  const steps = buildScalePlan(grown, primary);

  test('the printed scale plan matches its golden file', () => golden('scale-in-primary.txt', formatScalePlan(grown, primary, steps)));

  test('servers refused first, then disable, stop against the inventory it was deployed with, delete, chassis, VM', () => {
    const ids = steps.map((s) => s.id).filter((id) => id.startsWith('scale-in:'));
    expect(ids).toEqual([
      'scale-in:servers:node4', 'scale-in:disable:node4', 'scale-in:stop', 'scale-in:agents:node4',
      'scale-in:compute-service:node4', 'scale-in:chassis:node4', 'scale-in:prometheus-targets', 'scale-in:vm-stop:node4',
      'scale-in:vm-delete:node4',
    ]);
    expect(line(steps, 'scale-in:stop')).toMatch(
      /kolla-ansible stop -i \.stackgate\/primary\/lima\/applied-inventory\/multinode .* --yes-i-really-really-mean-it --limit node4$/,
    );
    expect(line(steps, 'scale-in:servers:node4')).toMatch(/server list --all-projects --host node4 .*compute node node4 still hosts/);
    expect(line(steps, 'scale-in:compute-service:node4')).toContain('compute service delete --os-compute-api-version 2.53');
    expect(line(steps, 'scale-in:chassis:node4')).toBe('limactl shell --workdir=/ node1 sudo docker exec ovn_sb_db ovn-sbctl --if-exists chassis-del node4');
    expect(kollaAnsible(steps).map((s) => s.argv![1])).toEqual(['stop', 'deploy']);
  });

  test('an OSD host leaving a lab in its Ceph phase is drained and removed by cephadm before its VM goes', () => {
    const ceph = (lab: Lab) => variant(lab, (s) => void (s.storage!.phase = 2));
    const withOsd = variant(ceph(grown), (s) => {
      s.nodes.node4!.roles.push('ceph-osd');
      s.nodes.node4!.disks = [{ name: 'node4-ceph', sizeGiB: 20, use: 'ceph-osd', device: '/dev/vdb' }];
      s.storage!.ceph!.osds.push({ node: 'node4', disk: 'node4-ceph' });
    });
    const ids = buildScalePlan(withOsd, ceph(primary)).map((s) => s.id);
    const at = (id: string) => ids.indexOf(id);
    expect(at('scale-in:ceph-drain:node4')).toBeGreaterThan(at('scale-in:stop'));
    expect([at('scale-in:ceph-drained:node4'), at('scale-in:ceph-host-rm:node4')].every((i) => i > at('scale-in:ceph-drain:node4'))).toBe(true);
    expect(at('scale-in:vm-delete:node4')).toBeGreaterThan(at('scale-in:ceph-host-rm:node4'));
    expect(ids).toContain('scale-in:disk:node4-ceph');
    const out = buildScalePlan(ceph(primary), withOsd).map((s) => s.id);
    expect(out).toEqual(expect.arrayContaining(['disks:node4-ceph', 'ceph-hosts:key:node4', 'ceph-hosts:apply', 'osds:apply', 'osds:up']));
  });
});

describe('what a scale up refuses, and what it leaves recorded', () => {
  test('a change beyond the nodes, or a node whose services would go with it, is refused by name', () => {
    expect(limaScaleRefusals(primary, variant(grown, (s) => void (s.tls!.minVersion = 'TLSv1.3')))).toEqual([
      'lab primary: the spec changes tls besides its nodes: scale the lab in an up of its own (nodes only), then change the rest',
    ]);
    const noNode3 = variant(primary, (s) => {
      delete s.nodes.node3;
      for (const n of Object.values(s.networks)) n.attach = n.attach?.filter((x) => x !== 'node3');
    });
    expect(limaScaleRefusals(primary, noNode3).join('\n')).toMatch(/node node3 cannot leave the running lab primary: it has the role storage/);
    expect(limaScaleRefusals(primary, grown)).toEqual([]);
  });

  test('afterwards the full plan’s record stands at the new spec: done steps current, steps of nodes that left gone', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sg-lima-adopt-'));
    const full = buildPlan(primary);
    const record = { at: '2026-01-01T00:00:00.000Z', seconds: 5, fingerprint: 'old' };
    const state = { done: { 'kolla-config:globals': record, deploy: record, 'ssh:node4': record } };
    const adopted = adoptScale(full, state, ['dns:apply:node1'], cwd, new Date('2026-02-02T00:00:00Z'));
    const deploy = full.find((s) => s.id === 'deploy')!;
    expect(Object.keys(adopted.done).sort()).toEqual(['deploy', 'dns:apply:node1', 'kolla-config:globals']);
    expect(adopted.done.deploy).toEqual({ at: '2026-02-02T00:00:00.000Z', seconds: 5, fingerprint: fingerprint(deploy, cwd) });
  });
});
