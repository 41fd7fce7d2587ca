import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { buildPlan, formatPlan, GROUPS } from './plan.ts';

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
});
