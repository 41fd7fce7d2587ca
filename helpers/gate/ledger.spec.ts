import { rmSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { REMOVAL_GROUPS } from '../openstack/resources.ts';
import { Ledger, ledgerDir, outstanding, readLedger, removalBatches } from './ledger.ts';

const lab = 'sg-ledger-selftest';
afterAll(() => rmSync(ledgerDir(lab), { recursive: true, force: true }));

describe('the ledger knows what a failed create left behind', () => {
  test('a create the service refused (4xx) made nothing; one that timed out may have made something', async () => {
    const ledger = new Ledger(lab, { run: 'r1', pid: process.pid });
    const refused = Object.assign(new Error('400 Invalid image identifier'), { status: 400 });
    await expect(ledger.create('volume', 'refused', () => Promise.reject(refused), async () => {})).rejects.toThrow('400');
    await expect(ledger.create('volume', 'timeout', () => Promise.reject(new Error('no answer after 60 s')), async () => {})).rejects.toThrow();
    expect(outstanding(readLedger(ledger.file)).map((e) => e.name)).toEqual(['sg-r1-timeout']);
  });
});

describe('cleanup removes side by side only what nothing else holds on to', () => {
  const kinds = (batches: { kind: string }[][]) => batches.map((b) => b.map((u) => u.kind).sort().join(' '));

  test("a tenant's resources: server, floating IP, port, router, then network and group, then key and flavor", () => {
    const made = ['image', 'network', 'router', 'security-group', 'port', 'floatingip', 'flavor', 'keypair', 'server']
      .map((kind) => ({ kind }));
    expect(kinds(removalBatches(made, REMOVAL_GROUPS))).toEqual([
      'server', 'floatingip', 'port', 'router', 'network security-group', 'flavor image keypair',
    ]);
  });

  test('a kind without a rank: one at a time, the last created first', () => {
    const made = [{ kind: 'network' }, { kind: 'share' }, { kind: 'server' }];
    expect(kinds(removalBatches(made.slice(0, 1), []))).toEqual(['network']);
    expect(kinds(removalBatches(made, REMOVAL_GROUPS))).toEqual(['server', 'share', 'network']);
  });
});
