import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { assignedAddresses, networkRangeProblems, reservedRole, sharedAddresses } from '../../helpers/lab/addressing.ts';

check('pre.addresses-unique', 'every node and VIP address is held once across the lab', ({ lab }) => {
  const shared = sharedAddresses(assignedAddresses(lab)).map((s) => `${s.address} is held by ${s.owners.join(' and ')}`);
  expect(shared, 'addresses held twice').toEqual([]);
});

check('pre.addresses-usable', 'no node or VIP address is a network, broadcast or gateway address', ({ lab }) => {
  const unusable = assignedAddresses(lab).flatMap((p) => {
    const role = reservedRole(lab.network(p.network), p.address);
    return role ? [`${p.owner} ${p.address} is ${role} of network ${p.network}`] : [];
  });
  expect(unusable, 'addresses that cannot be assigned').toEqual([]);
});

check('pre.network-ranges', 'gateways and DHCP ranges lie inside their networks, and lab networks do not overlap', ({ lab }) => {
  expect(networkRangeProblems(lab), 'network ranges').toEqual([]);
});

check('pre.mtu', "every interface's MTU equals its network's", ({ lab }) => {
  const mismatched = lab.nodes.flatMap((n) =>
    n.nics
      .filter((nic) => nic.mtu !== lab.network(nic.network).mtu)
      .map((nic) => `node ${n.name} ${nic.name} has MTU ${nic.mtu}, network ${nic.network} has MTU ${lab.network(nic.network).mtu}`),
  );
  expect(mismatched, 'interfaces whose MTU differs from their network').toEqual([]);
});
