import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadLab } from '../helpers/lab/load.ts';
import { configs, slope } from './bench-growth.ts';

describe('the scale benchmark\'s configurations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-growth-'));
  const cs = configs(loadLab('embedded'), dir, loadLab('all-in-one'));

  test('are the lab with one more real compute node, 3/4/6 compute-light nodes and the single node', () => {
    expect(cs.map((c) => c.id)).toEqual(['real-3', 'real-4', 'fake-3', 'fake-4', 'fake-6', 'fake-1']);
    expect(cs.map((c) => c.computeNodes)).toEqual([1, 2, 1, 2, 4, 1]);
  });

  test('each is a valid spec the loader accepts, the compute-light ones declaring no guests', () => {
    for (const c of cs) {
      const lab = loadLab(c.file);
      expect(lab.nodes.length, c.id).toBe(c.nodes);
      expect(!!lab.lacks('guest-dataplane'), c.id).toBe(c.driver === 'fake');
    }
  });

  test('the added nodes take addresses no other node has', () => {
    const six = loadLab(cs.find((c) => c.id === 'fake-6')!.file);
    const addresses = six.nodes.flatMap((n) => n.nics.flatMap((nic) => (nic.address ? [nic.address] : [])));
    expect(new Set(addresses).size).toBe(addresses.length);
  });
});

test('slope is the least-squares growth per step', () => {
  expect(slope([[3, 10], [4, 10.5], [6, 11.5]])).toBeCloseTo(0.5);
  expect(slope([[3, 7]])).toBe(0);
});
