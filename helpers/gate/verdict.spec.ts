import { describe, expect, it } from 'vitest';
import type { Decisions } from './decisions.ts';
import { decisionsSuite } from './junit.ts';
import { judge, matrixMarkdown, matrixText, type CheckResult } from './verdict.ts';

const record = (checks: string[]) => ({ lab: 'tiny', all: [{ id: 'D-1', title: 'Volumes', source: 'Storage', checks }], waivers: [] }) as unknown as Decisions;
const decisions = record(['storage.a', 'storage.b']);
const result = (checkId: string, status: CheckResult['status'], skip?: CheckResult['skip']): CheckResult => ({ checkId, name: checkId, file: 'x.test.ts', status, ...(skip ? { skip } : {}) }) as CheckResult;
const notDue = { kind: 'not-due', reason: 'not yet due: Ceph arrives in phase 2, lab tiny is in phase 1' } as const;

describe('judge', () => {
  it('a decision with one blocked check is not proven, although its other check passed: the gate fails', () => {
    const v = judge(decisions, ['storage'], [result('storage.a', 'passed'), result('storage.b', 'skipped', { kind: 'blocked', reason: 'blocked: the server failed' })], '2026-11-22');
    expect(v.matrix[0]!.status).toBe('blocked');
    expect(v.pass).toBe(false);
    expect(v.reasons.join()).toContain('D-1 (blocked checks: storage.b)');
  });

  it('a decision passes when each of its checks passed or does not apply to the lab', () => {
    const v = judge(decisions, ['storage'], [result('storage.a', 'passed'), result('storage.b', 'skipped', { kind: 'not-applicable', reason: 'not applicable: no LVM backend' })], '2026-11-22');
    expect(v.matrix[0]!.status).toBe('passed');
    expect(v.pass).toBe(true);
  });

  it('passed beside not due is partial, names what is unproven and why, and reads PASS nowhere', () => {
    const v = judge(decisions, ['storage'], [result('storage.a', 'passed'), result('storage.b', 'skipped', notDue)], '2026-11-22');
    expect(v.matrix[0]!.status).toBe('partial');
    expect(v.matrix[0]!.unproven).toEqual([`storage.b: not-due: ${notDue.reason}`]);
    expect(v.pass, 'the gate keeps its rules: a declared skip fails nothing').toBe(true);
    expect(matrixMarkdown(v).split('\n').find((l) => l.startsWith('| D-1'))).toMatch(/\| PARTIAL<br>not proven: storage\.b: not-due: not yet due/);
    expect(matrixText(v)).toMatch(/D-1\s+PARTIAL\s+Volumes/);
    expect(decisionsSuite(v).xml).toContain('<skipped message="PARTIAL: not proven by storage.b: not-due');
  });

  it('passed beside a capability the lab lacks is partial too', () => {
    const v = judge(decisions, ['storage'], [result('storage.a', 'passed'), result('storage.b', 'skipped', { kind: 'lacks', reason: 'lab tiny lacks lvm' })], '2026-11-22');
    expect(v.matrix[0]!.status).toBe('partial');
  });

  it('proven only by checks of the spec while its live checks could not run is design only', () => {
    const v = judge(record(['pre.a', 'storage.b']), ['preflight', 'storage'], [result('pre.a', 'passed'), result('storage.b', 'skipped', notDue)], '2026-11-22');
    expect(v.matrix[0]!.status).toBe('design only');
    expect(matrixText(v)).toMatch(/D-1\s+DESIGN ONLY/);
  });

  it('a check whose layer did not run leaves the decision unproven, and says so', () => {
    const v = judge(record(['pre.a', 'net.b']), ['preflight'], [result('pre.a', 'passed')], '2026-11-22');
    expect(v.matrix[0]!.status).toBe('design only');
    expect(v.matrix[0]!.unproven).toEqual(['net.b: not run: layer network is not in this run']);
  });

  it('a waived failure beside a passed check is waived, not passed', () => {
    const v = judge(decisions, ['storage'], [result('storage.a', 'passed'), result('storage.b', 'skipped', { kind: 'waived', reason: 'waived (D-1 until 2027-01-01)' })], '2026-11-22');
    expect(v.matrix[0]!.status).toBe('waived');
  });

  it('JUnit shows a failed decision as a failure and a proven one without a verdict element', () => {
    const failed = judge(decisions, ['storage'], [result('storage.a', 'failed'), result('storage.b', 'passed')], '2026-11-22');
    expect(decisionsSuite(failed).xml).toMatch(/<failure message="FAIL: storage\.a failed; storage\.b passed"\/>/);
    const passed = judge(decisions, ['storage'], [result('storage.a', 'passed'), result('storage.b', 'passed')], '2026-11-22');
    expect(decisionsSuite(passed).xml).not.toMatch(/<failure|<skipped/);
  });
});
