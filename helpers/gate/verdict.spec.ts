import { describe, expect, it } from 'vitest';
import type { Decisions } from './decisions.ts';
import { judge, type CheckResult } from './verdict.ts';

const decisions = {
  lab: 'tiny',
  all: [{ id: 'D-1', title: 'Volumes', source: 'Storage', checks: ['storage.a', 'storage.b'] }],
  waivers: [],
} as unknown as Decisions;
const result = (checkId: string, status: CheckResult['status'], skip?: CheckResult['skip']): CheckResult => ({ checkId, name: checkId, file: 'x.test.ts', status, ...(skip ? { skip } : {}) }) as CheckResult;

describe('judge', () => {
  it('a decision with one blocked check is not proven, although its other check passed: the gate fails', () => {
    const v = judge(decisions, ['storage'], [result('storage.a', 'passed'), result('storage.b', 'skipped', { kind: 'blocked', reason: 'blocked: the server failed' })], '2026-11-22');
    expect(v.matrix[0]!.status).toBe('blocked');
    expect(v.pass).toBe(false);
    expect(v.reasons.join()).toContain('D-1 (blocked checks: storage.b)');
  });

  it('a decision whose checks pass or are skipped for a declared reason passes', () => {
    const v = judge(decisions, ['storage'], [result('storage.a', 'passed'), result('storage.b', 'skipped', { kind: 'lacks', reason: 'lab lacks lvm' })], '2026-11-22');
    expect(v.matrix[0]!.status).toBe('passed');
    expect(v.pass).toBe(true);
  });
});
