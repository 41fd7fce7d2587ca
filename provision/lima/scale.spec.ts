/**
 * The Mac lab scaled as Kolla-Ansible documents it (adding-and-removing-hosts): `lab plan` after a spec change that
 * adds a compute node prints bootstrap-servers, pull, prechecks and deploy, each --limit to the new node, then the
 * cell's host discovery; removing it prints the documented removal. Golden files hold both (STACKGATE_UPDATE_GOLDEN=1
 * rewrites them); nothing here runs a command.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { Lab } from '../../helpers/lab/model.ts';
import type { LabSpec } from '../../helpers/lab/spec.ts';
import { withExtraCompute } from '../local/extra-node.ts';
import { writeRender } from '../render/index.ts';
import { main, type Io } from './index.ts';
import { limaPaths } from './paths.ts';
import { buildPlan, commandLine, type Step } from './plan.ts';
import { fingerprint, readState } from './run.ts';
import {
  adoptScale, appliedFile, appliedLab, buildScalePlan, formatScalePlan, limaScaleRefusals, recordApplied,
} from './scale.ts';

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
const line = (steps: readonly Step[], id: string) =>
  commandLine(steps.find((s) => s.id === id) ?? { id, phase: 1, group: '', title: '' });
const kollaAnsible = (steps: readonly Step[]) => steps.filter((s) => s.argv?.[0]?.endsWith('/kolla-ansible'));

describe('lab plan when a compute node joins the running Mac lab', () => {
  const steps = buildScalePlan(primary, grown);

  test('the printed scale plan matches its golden file', () =>
    golden('scale-out-primary.txt', formatScalePlan(primary, grown, steps)));

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
    expect(line(steps, 'scale-out:compute-up:node4'))
      .toMatch(/compute service list --service nova-compute --host node4 .*grep -qx up'$/);
  });

  test('from the full plan only node4’s VM steps and the re-rendered DNS zones; no other host deployed', () => {
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

  test('lab plan prints the scale plan before the full plan once up recorded a spec; it runs nothing', async () => {
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

  test('the printed scale plan matches its golden file', () =>
    golden('scale-in-primary.txt', formatScalePlan(grown, primary, steps)));

  test('servers refused first, then disable, stop with the deployed inventory, delete, chassis, VM', () => {
    const ids = steps.map((s) => s.id).filter((id) => id.startsWith('scale-in:'));
    expect(ids).toEqual([
      'scale-in:servers:node4', 'scale-in:disable:node4', 'scale-in:stop', 'scale-in:agents:node4',
      'scale-in:compute-service:node4', 'scale-in:chassis:node4', 'scale-in:prometheus-targets', 'scale-in:vm-stop:node4',
      'scale-in:vm-delete:node4',
    ]);
    expect(line(steps, 'scale-in:stop')).toMatch(
      /kolla-ansible stop -i \.stackgate\/primary\/lima\/applied-inventory\/multinode .* --yes-i-really-really-mean-it --limit node4$/,
    );
    expect(line(steps, 'scale-in:servers:node4'))
      .toMatch(/server list --all-projects --host node4 .*compute node node4 still hosts/);
    expect(line(steps, 'scale-in:compute-service:node4'))
      .toContain('compute service delete --os-compute-api-version 2.53');
    expect(line(steps, 'scale-in:chassis:node4'))
      .toBe('limactl shell --workdir=/ node1 sudo docker exec ovn_sb_db ovn-sbctl --if-exists chassis-del node4');
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
    expect([at('scale-in:ceph-drained:node4'), at('scale-in:ceph-host-rm:node4')].every((i) => i > at('scale-in:ceph-drain:node4')))
      .toBe(true);
    expect(at('scale-in:vm-delete:node4')).toBeGreaterThan(at('scale-in:ceph-host-rm:node4'));
    expect(ids).toContain('scale-in:disk:node4-ceph');
    const out = buildScalePlan(ceph(primary), withOsd).map((s) => s.id);
    expect(out)
      .toEqual(expect.arrayContaining(['disks:node4-ceph', 'ceph-hosts:key:node4', 'ceph-hosts:apply', 'osds:apply', 'osds:up']));
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
    expect(limaScaleRefusals(primary, noNode3).join('\n'))
      .toMatch(/node node3 cannot leave the running lab primary: it has the role storage/);
    expect(limaScaleRefusals(primary, grown)).toEqual([]);
  });

  test('afterwards the full plan’s record stands at the new spec; steps of nodes that left are gone', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sg-lima-adopt-'));
    const full = buildPlan(primary);
    const record = { at: '2026-01-01T00:00:00.000Z', seconds: 5, fingerprint: 'old' };
    const state = { done: { 'kolla-config:globals': record, deploy: record, 'ssh:node4': record } };
    const adopted = adoptScale(full, state, ['dns:apply:node1'], cwd, new Date('2026-02-02T00:00:00Z'));
    const deploy = full.find((s) => s.id === 'deploy')!;
    expect(Object.keys(adopted.done).sort()).toEqual(['deploy', 'dns:apply:node1', 'kolla-config:globals']);
    expect(adopted.done.deploy)
      .toEqual({ at: '2026-02-02T00:00:00.000Z', seconds: 5, fingerprint: fingerprint(deploy, cwd) });
  });
});

describe('lab up scales the Mac lab (stand-in limactl, ssh, kolla-ansible, openstack, pip: nothing real runs)', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'sg-lima-scale-up-'));
  const p = limaPaths(primary);
  const log = join(cwd, 'calls.log');
  /** Records its argv; `openstack … -c State` answers "up", every other call prints nothing. */
  const stub = (name: string) =>
    `#!/bin/sh\necho "${name} $*" >> ${log}\ncase "$*" in *"-c State"*) echo up;; esac\nexit 0\n`;
  const venv = join(p.venv, 'bin');
  for (const [dir, name] of [['bin', 'limactl'], ['bin', 'ssh'], [venv, 'kolla-ansible'], [venv, 'openstack'], [venv, 'pip']]) {
    mkdirSync(join(cwd, dir!), { recursive: true });
    writeFileSync(join(cwd, dir!, name!), stub(name!));
    chmodSync(join(cwd, dir!, name!), 0o755);
  }
  const env = { PATH: `${join(cwd, 'bin')}:/usr/bin:/bin` };
  const io: Io = { log: () => undefined, cwd, env, confirm: async () => '' };
  const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);
  const kolla = () => calls().filter((c) => c.startsWith('kolla-ansible'));

  test('after a full up of three nodes, up with node4 runs the limited sequence only, and records it', async () => {
    // The lab as a full `up` of the primary spec leaves it: every step done at its fingerprint, the spec recorded.
    writeRender(primary, join(cwd, p.render));
    mkdirSync(join(cwd, p.sshKey, '..'), { recursive: true });
    for (const f of [p.sshKey, `${p.sshKey}.pub`]) writeFileSync(join(cwd, f), 'key\n');
    const at = { at: '2026-01-01T00:00:00.000Z', seconds: 1 };
    const steps = buildPlan(primary).filter((s) => !s.always);
    const done = Object.fromEntries(steps.map((s) => [s.id, { ...at, fingerprint: fingerprint(s, cwd) }]));
    mkdirSync(join(cwd, p.lima), { recursive: true });
    writeFileSync(join(cwd, p.stateFile), JSON.stringify({ done }));
    recordApplied(primary, cwd);

    expect(await main(grown, 'up', ['--skip-preflight'], io)).toBe(0);
    expect(kolla().map((c) => c.split(' ').filter((w) => !w.startsWith('.stackgate') && w !== '-i').join(' '))).toEqual([
      'kolla-ansible bootstrap-servers --configdir --limit node4',
      'kolla-ansible pull --configdir --limit node4',
      'kolla-ansible prechecks --configdir --limit node4',
      'kolla-ansible deploy --configdir --limit node4',
      'kolla-ansible deploy --configdir --tags prometheus --limit node1',
    ]);
    expect(calls()).toEqual(expect.arrayContaining([
      'limactl create --name=node4 --tty=false .stackgate/primary/render/lima/node4.yaml',
      'limactl shell --workdir=/ node1 sudo docker exec nova_conductor nova-manage cell_v2 discover_hosts --by-service',
    ]));
    expect(calls().some((c) => /^limactl (create|start).* node[123]/.test(c)), 'a VM of the running lab touched')
      .toBe(false);
    expect(appliedLab(primary, cwd)?.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3', 'node4']);
    expect(readFileSync(join(cwd, p.lima, 'applied-inventory/multinode'), 'utf8')).toContain('node4');
    expect(existsSync(join(cwd, p.lima, 'scale-state.json')), 'the scale steps\' own state, once they went through')
      .toBe(false);
  });

  test('the next plain up finds every step done at the new spec and runs none of Kolla’s', async () => {
    writeFileSync(log, '');
    expect(await main(grown, 'up', ['--skip-preflight'], io)).toBe(0);
    expect(kolla()).toEqual([]);
    expect(Object.keys(readState(join(cwd, p.stateFile)).done))
      .toEqual(expect.arrayContaining(['vms:create:node4', 'deploy']));
  });

  test('up with three nodes again removes node4 as Kolla documents, with the inventory it was deployed with', async () => {
    writeFileSync(log, '');
    expect(await main(primary, 'up', ['--skip-preflight'], io)).toBe(0);
    const stop = kolla().find((c) => c.startsWith('kolla-ansible stop'));
    expect(stop)
      .toMatch(/-i \.stackgate\/primary\/lima\/applied-inventory\/multinode .*--yes-i-really-really-mean-it --limit node4$/);
    expect(calls()).toEqual(expect.arrayContaining(['limactl stop node4', 'limactl delete --force node4']));
    expect(Object.keys(readState(join(cwd, p.stateFile)).done).filter((id) => id.includes('node4'))).toEqual([]);
    expect(appliedLab(primary, cwd)?.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3']);
  });
});
