import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { addressesInDhcp, vipHolderProblems } from '../../helpers/lab/addressing.ts';
import { ownVipPairs, vipPairProblems } from '../../helpers/lab/listeners.ts';

check('pre.vips-outside-dhcp', 'every VIP and static node address lies outside every DHCP range', ({ lab }) => {
  const clashes = addressesInDhcp(lab).map(
    ({ placed, net }) =>
      `${placed.owner} ${placed.address} is inside network ${net.name}'s DHCP range ${net.dhcp!.start}–${net.dhcp!.end}` +
      (net.dhcpIsDefault ? " (Lima's default range: lower dhcpEnd in networks.yaml)" : ''),
  );
  expect(clashes, 'static addresses a DHCP server may also lease').toEqual([]);
});

check('pre.vip-on-loadbalancers', 'every VIP can be held by every loadbalancer and is no node address', ({ lab, notApplicable }) => {
  if (lab.vips.length === 0) return notApplicable('the spec defines no VIPs');
  if (lab.nodesWithRole('loadbalancer').length === 0) return notApplicable('no node of the spec has the loadbalancer role');
  expect(vipHolderProblems(lab), 'VIPs that a loadbalancer cannot hold').toEqual([]);
});

const PAIR_TITLE = 'every service with VIPs of its own has one per interface, on two networks, shared with no other';
check('pre.service-vip-pairs', PAIR_TITLE, ({ lab, notApplicable }) => {
  if (ownVipPairs(lab).length === 0) {
    return notApplicable('no service names a VIP of its own (services.<name>.vip, internalVip; dashboard.vip)');
  }
  expect(vipPairProblems(lab), 'per-service VIP pairs').toEqual([]);
});
