import { describe, expect, test } from 'vitest';
import { median, stepTimes } from './bench-out.ts';

describe('where lab up spent its time, read from its progress lines', () => {
  test('each finished step with its seconds, notes and heartbeats ignored', () => {
    const out = [
      '  … packages (60 the spec needs)',
      '    … packages (60 the spec needs): downloading packages: 3 of 312 (10.0s)',
      '  ✓ packages (60 the spec needs) (installed 48 of 60: a b c)  [131.2s]',
      '  … Ceph: MON running',
      '  ✓ Ceph: MON running (started 1)  [2.8s]',
      '  … ready for every check',
      '  ✗ ready for every check  [300.0s]',
      '  … lab secrets',
      '  ✓ lab secrets  [0.0s]',
    ].join('\n');
    expect(stepTimes(out)).toEqual({ 'packages (60 the spec needs)': 131.2, 'Ceph: MON running': 2.8, 'lab secrets': 0 });
  });
});

describe('the median of a benchmark\'s runs', () => {
  test('the middle run of an odd count, the mean of the two middle ones of an even count, in any order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([94.3, 89.6])).toBeCloseTo(91.95);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
