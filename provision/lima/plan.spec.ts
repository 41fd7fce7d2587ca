import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { renderAll } from '../render/index.ts';
import { limaPaths } from './paths.ts';
import { buildPlan, formatPlan, GROUP_MINUTES, GROUPS, planGaps } from './plan.ts';

const lab = loadLab('primary');
const golden = join(fileURLToPath(new URL('.', import.meta.url)), 'testdata/plan-primary.txt');

describe('lab plan (primary lab)', () => {
  test('the printed plan matches the golden file (STACKGATE_UPDATE_GOLDEN=1 rewrites it)', () => {
    const text = formatPlan(lab, buildPlan(lab));
    if (process.env.STACKGATE_UPDATE_GOLDEN) writeFileSync(golden, text);
    expect(text).toBe(readFileSync(golden, 'utf8'));
  });

  test('groups come in the order of their phase, preflight first; every step has a command or an internal action', () => {
    const steps = buildPlan(lab);
    for (const phase of [1, 2] as const) {
      const groups = [...new Set(steps.filter((s) => s.phase === phase).map((s) => s.group))];
      expect(groups).toEqual(GROUPS[phase].filter((g) => groups.includes(g)));
      expect(groups[0]).toBe('preflight');
    }
    expect(steps.every((s) => (s.argv && s.argv.length > 0) !== !!s.internal)).toBe(true);
    const order = steps.map((s) => s.group);
    expect(order.indexOf('dns')).toBeLessThan(order.indexOf('deploy'));
    expect(order.indexOf('networks')).toBeLessThan(order.indexOf('vms'));
    expect(order.indexOf('disks')).toBeLessThan(order.indexOf('vms'));
  });

  test('--skip-preflight leaves the preflight gate out, and nothing else', () => {
    const all = buildPlan(lab).map((s) => s.id);
    expect(buildPlan(lab, { skipPreflight: true }).map((s) => s.id)).toEqual(all.filter((id) => !id.startsWith('preflight')));
  });

  test('addresses, names and sizes come from the spec', () => {
    const text = formatPlan(lab, buildPlan(lab));
    for (const n of lab.nodes) expect(text).toContain(`root@${n.managementAddress} true`);
    expect(text).toContain('limactl disk create node3-lvm --size 10GiB --format raw');
    expect(text).toContain('vgcreate cinder-volumes /dev/vdb');
    expect(text).toContain('--mon-ip 10.0.3.101');
  });

  test('every file a step reads comes from the render or an earlier step, and every folder it writes into exists', () => {
    const p = limaPaths(lab);
    const rendered = renderAll(lab).map((f) => join(p.render, f.path));
    const steps = buildPlan(lab);
    expect(planGaps(steps, rendered, p.render)).toEqual([]);
    expect(planGaps(steps.filter((s) => s.id !== 'ssh-key:dir'), rendered, p.render)).toContain(
      `step ssh-key:pair writes ${p.sshKey} into .stackgate/primary/ssh, which does not exist yet`,
    );
    expect(planGaps(steps.filter((s) => s.id !== 'kolla-venv:install'), rendered, p.render)[0]).toMatch(/^step kolla-config:passwords reads .*passwords\.yml, which neither/);
  });

  test('kolla-ansible runs with the macOS fork-safety switch Ansible needs, and every group has an estimate', () => {
    const steps = buildPlan(lab);
    for (const s of steps.filter((s) => s.argv?.[0]?.endsWith('/kolla-ansible') && s.argv[1] !== 'install-deps')) {
      expect(s.env, s.id).toMatchObject({ OBJC_DISABLE_INITIALIZE_FORK_SAFETY: 'YES' });
    }
    for (const g of [...GROUPS[1], ...GROUPS[2]]) expect(GROUP_MINUTES[g], g).toBeGreaterThan(0);
  });

  test('Ubuntu arm64 images are built on node1 into its registry before prechecks; hosts with iscsid lose the host iSCSI daemon', () => {
    const steps = buildPlan(lab);
    const ids = steps.map((s) => s.id);
    expect(ids.indexOf('bootstrap-servers')).toBeLessThan(ids.indexOf('images:registry'));
    expect(ids.indexOf('images:check')).toBeLessThan(ids.indexOf('prechecks'));
    const build = steps.find((s) => s.id === 'images:build')!.argv!.join(' ');
    expect(build).toContain('kolla-build --base ubuntu --base-tag 24.04 --base-arch aarch64 --namespace openstack.kolla --tag 2025.2-ubuntu-noble-aarch64 --registry 192.168.105.101:4000 --push');
    expect(build).toMatch(/ \^cinder \^iscsid \^tgtd \^ovn- \^prometheus \^grafana$/);
    expect(ids.filter((id) => id.startsWith('host-iscsi:'))).toEqual(['host-iscsi:node2', 'host-iscsi:node3']);
  });
});
