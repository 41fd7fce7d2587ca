import { describe, expect, test } from 'vitest';
import type { ScrapeTarget } from '../lab/model.ts';
import { compareTargets, downQuery, healthFindings, missingFindings, type ActiveTarget } from './targets.ts';

const expected: ScrapeTarget[] = [
  { job: 'node', instance: '10.0.0.1:9100', node: 'n1', notExpected: undefined },
  { job: 'node', instance: '10.0.0.2:9100', node: 'n2', notExpected: undefined },
  { job: 'cadvisor', instance: '10.0.0.1:18080', node: 'n1', notExpected: 'lab lacks cadvisor: none' },
];
const now = new Date('2026-01-01T00:01:00Z');
const active = (job: string, instance: string, more: Partial<ActiveTarget> = {}): ActiveTarget => ({
  labels: { job, instance },
  health: 'up',
  lastError: '',
  lastScrape: '2026-01-01T00:00:55Z',
  scrapeUrl: `http://${instance}/metrics`,
  ...more,
});

describe('expected vs active scrape targets', () => {
  test('present, missing (named: missing, not down), extra, and not expected are told apart', () => {
    const seen = [active('node', '10.0.0.1:9100'), active('blackbox_tls', 'x:443')];
    const c = compareTargets(expected, seen);
    expect(c.present.map((p) => p.expected.instance)).toEqual(['10.0.0.1:9100']);
    expect(c.missing.map((t) => t.instance)).toEqual(['10.0.0.2:9100']);
    expect(c.extra.map((a) => a.labels.job)).toEqual(['blackbox_tls']);
    expect(c.notExpected.map((t) => t.job)).toEqual(['cadvisor']);
    expect(missingFindings(c, seen, 'P')).toEqual([
      "job node instance 10.0.0.2:9100 (node n2) is missing from P's active targets (not configured, not merely down; job node has 10.0.0.1:9100)",
    ]);
  });

  test('a target of another job with the same instance does not count', () => {
    const c = compareTargets(expected, [active('node', '10.0.0.1:9100'), active('other', '10.0.0.2:9100')]);
    expect(c.missing.map((t) => t.instance)).toEqual(['10.0.0.2:9100']);
  });

  test('an empty active target list is a finding of its own', () => {
    const c = compareTargets(expected, []);
    expect(missingFindings(c, [], 'P')).toEqual(['P reports no active target at all; the spec expects 2']);
  });

  test('extra targets alone are no finding', () => {
    const seen = [active('node', '10.0.0.1:9100'), active('node', '10.0.0.2:9100'), active('extra', 'y:1')];
    expect(missingFindings(compareTargets(expected, seen), seen, 'P')).toEqual([]);
  });

  test('health: down, last error, never scraped and stale are findings naming job and instance', () => {
    const c = compareTargets(expected, [
      active('node', '10.0.0.1:9100', { health: 'down', lastError: 'connection refused' }),
      active('node', '10.0.0.2:9100', { lastScrape: '2026-01-01T00:00:10Z' }),
    ]);
    expect(healthFindings(c, now, 30, 'two intervals')).toEqual([
      'job node instance 10.0.0.1:9100 (node n1) is not healthy: health down; last error "connection refused" (scrape URL http://10.0.0.1:9100/metrics)',
      'job node instance 10.0.0.2:9100 (node n2) is not healthy: last scraped 50 s ago, more than two intervals (scrape URL http://10.0.0.2:9100/metrics)',
    ]);
    const never = compareTargets(expected, [active('node', '10.0.0.1:9100', { health: 'unknown', lastScrape: '0001-01-01T00:00:00Z' })]);
    expect(healthFindings(never, now, 30, 'x')[0]).toContain('health unknown; never scraped');
  });

  test('all up and fresh: no finding', () => {
    const c = compareTargets(expected, [active('node', '10.0.0.1:9100'), active('node', '10.0.0.2:9100')]);
    expect(healthFindings(c, now, 30, 'x')).toEqual([]);
  });

  test('the PromQL of down targets covers each expected job once, regex and string escaped', () => {
    expect(downQuery(['node', 'haproxy', 'node'])).toBe('up{job=~"haproxy|node"} == 0');
    expect(downQuery(['a.b'])).toBe('up{job=~"a\\\\.b"} == 0');
  });
});
