import { describe, expect, test } from 'vitest';
import { strangers } from './compute.ts';

const listing = [
  ' 68203869-1d2e-4a5b-8c9d-0e1f2a3b4c5d   instance-00000014',
  ' 11111111-2222-4333-8444-555555555555   instance-00000001',
  ' 99999999-2222-4333-8444-555555555555   some-other-vm',
  '',
].join('\n');

describe("libvirt domains Nova does not know (they outlive the lab's database)", () => {
  test('a Nova domain whose server Nova does not list is a stranger; known servers and other VMs are not', () => {
    expect(strangers(listing, new Set(['11111111-2222-4333-8444-555555555555']))).toEqual([
      { uuid: '68203869-1d2e-4a5b-8c9d-0e1f2a3b4c5d', name: 'instance-00000014' },
    ]);
  });

  test('nothing defined, nothing to remove', () => {
    expect(strangers('\n', new Set())).toEqual([]);
  });
});
