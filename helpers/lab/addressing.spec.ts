import { describe, expect, it } from 'vitest';
import {
  addressesInDhcp,
  assignedAddresses,
  floatingRangeProblems,
  networkRangeProblems,
  reservedRole,
  sharedAddresses,
  tenantSubnetProblems,
  vipHolderProblems,
} from './addressing.ts';
import { loadLab } from './load.ts';
import { labVariant } from './variant.ts';

const variant = labVariant;

describe('addressing', () => {
  const primary = loadLab('primary');

  it('finds every assigned address, and none twice in the primary lab', () => {
    const placed = assignedAddresses(primary);
    expect(placed).toContainEqual({ address: '10.0.2.250', network: 'external', owner: 'VIP external', kind: 'vip' });
    expect(placed.filter((p) => p.kind === 'node')).toHaveLength(9);
    expect(placed).toContainEqual({ address: '10.0.2.201', network: 'external', owner: 'node node1 lima2', kind: 'node' });
    expect(sharedAddresses(placed)).toEqual([]);
    const twice = variant((s) => void (s.vips!.internal!.address = '192.168.105.101'));
    expect(sharedAddresses(assignedAddresses(twice))).toEqual([{ address: '192.168.105.101', owners: ['node node1 lima0', 'VIP internal'] }]);
  });

  it('knows the addresses a network reserves', () => {
    const mgmt = primary.network('management');
    expect(reservedRole(mgmt, '192.168.105.0')).toBe('the network address');
    expect(reservedRole(mgmt, '192.168.105.255')).toBe('the broadcast address');
    expect(reservedRole(mgmt, '192.168.105.1')).toBe('the gateway address');
    expect(reservedRole(mgmt, '192.168.105.101')).toBeUndefined();
  });

  it('reports gateways and DHCP ranges outside their networks, and overlapping networks', () => {
    expect(networkRangeProblems(primary)).toEqual([]);
    const bad = variant((s) => {
      s.networks.storage!.dhcp = { start: '10.0.3.50', end: '10.0.3.10' };
      s.networks.tunnel!.cidr = '10.0.0.0/16';
    });
    expect(networkRangeProblems(bad)).toEqual([
      'network storage: DHCP range 10.0.3.50–10.0.3.10 is not an ascending range inside 10.0.3.0/24',
      'networks tunnel (10.0.0.0/16) and external (10.0.2.0/24) overlap',
      'networks tunnel (10.0.0.0/16) and storage (10.0.3.0/24) overlap',
    ]);
  });

  it("sees Lima's default DHCP range swallow the VIP and the node addresses", () => {
    expect(addressesInDhcp(primary)).toEqual([]);
    const lima = variant((s) => delete s.networks.management!.dhcp);
    expect(addressesInDhcp(lima).map((c) => c.placed.owner)).toEqual(['node node1 lima0', 'node node2 lima0', 'node node3 lima0', 'VIP internal']);
    expect(lima.network('management').dhcpIsDefault).toBe(true);
  });

  it('checks that every loadbalancer can hold every VIP', () => {
    expect(vipHolderProblems(primary)).toEqual([]);
    const lb = variant((s) => void s.nodes.node3!.roles.push('loadbalancer'));
    expect(vipHolderProblems(lb)).toEqual([
      'loadbalancer node3 has no interface on network external, which carries VIP external 10.0.2.250',
      'loadbalancer node3 has no interface lima2 on network external, which VIP external names as its interface',
    ]);
  });

  it('keeps the floating range clear of everything else on the external network', () => {
    expect(floatingRangeProblems(primary, 'external', { start: '10.0.2.100', end: '10.0.2.199' })).toEqual([]);
    expect(floatingRangeProblems(primary, 'external', { start: '10.0.2.1', end: '10.0.2.120' })).toEqual([
      'floating range 10.0.2.1–10.0.2.120 includes gateway 10.0.2.1 of network external',
      'floating range 10.0.2.1–10.0.2.120 overlaps the DHCP range 10.0.2.2–10.0.2.99 of network external',
    ]);
    expect(floatingRangeProblems(primary, 'external', { start: '10.0.2.200', end: '10.0.3.5' })[0]).toMatch(/not an ascending range inside external network/);
  });

  it('keeps tenant subnets inside the pool and apart from lab networks', () => {
    expect(tenantSubnetProblems(primary, '172.16.0.0/16', ['172.16.1.0/24'])).toEqual([]);
    expect(tenantSubnetProblems(primary, '10.0.0.0/16', ['10.1.1.0/24'])).toEqual([
      'tenant subnet 10.1.1.0/24 is outside the tenant pool 10.0.0.0/16',
      'tenant pool 10.0.0.0/16 overlaps lab network tunnel (10.0.1.0/24)',
      'tenant pool 10.0.0.0/16 overlaps lab network external (10.0.2.0/24)',
      'tenant pool 10.0.0.0/16 overlaps lab network storage (10.0.3.0/24)',
    ]);
  });
});
