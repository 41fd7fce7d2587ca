import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { inRange } from '../../helpers/net/ip.ts';

check('pre.vips-outside-dhcp', 'every VIP lies outside every DHCP range', ({ lab }) => {
  const clashes = lab.vips.flatMap((vip) =>
    lab.networks
      .filter((n) => n.dhcp && inRange(n.dhcp, vip.address))
      .map((n) => `VIP ${vip.name} ${vip.address} is inside network ${n.name}'s DHCP range ${n.dhcp!.start}–${n.dhcp!.end}${n.dhcpIsDefault ? " (Lima's default: lower dhcpEnd)" : ''}`),
  );
  expect(clashes).toEqual([]);
});
