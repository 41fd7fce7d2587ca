import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { floatingRangeProblems, tenantSubnetProblems } from '../../helpers/lab/addressing.ts';

check('pre.external-interface-no-address', 'neutron-external interfaces carry no address, and every network node has one', ({ lab, notApplicable }) => {
  const external = lab.nodes.flatMap((n) => n.nics.filter((nic) => nic.use === 'neutron-external').map((nic) => ({ node: n, nic })));
  if (external.length === 0 && lab.nodesWithRole('network').length === 0) return notApplicable('the spec has no network node and no neutron-external interface');
  const addressed = external
    .filter(({ nic }) => nic.address)
    .map(({ node, nic }) => `node ${node.name} ${nic.name} (neutron_external_interface on ${nic.network}) carries ${nic.address}: OVS takes it as a raw port into the external bridge, so the address becomes unusable`);
  const missing = lab.nodesWithRole('network').filter((n) => !n.nics.some((nic) => nic.use === 'neutron-external')).map((n) => `network node ${n.name} has no neutron-external interface`);
  const problems = [...addressed, ...missing];
  expect(problems, 'external interfaces').toEqual([]);
});

check('pre.floating-range', 'the floating-IP range lies in the external network, clear of VIPs, gateways, nodes and DHCP', ({ lab, notApplicable }) => {
  const ext = lab.spec.neutron?.externalNetwork;
  if (!ext) return notApplicable('the spec defines no Neutron external network');
  expect(floatingRangeProblems(lab, ext.network, ext.floatingRange), 'floating-IP range').toEqual([]);
});

check('pre.tenant-subnets-in-pool', 'tenant subnets lie inside the tenant pool, apart from the lab networks', ({ lab, notApplicable }) => {
  const { tenantPool, tenantSubnets } = lab.spec.neutron ?? {};
  if (!tenantPool) return notApplicable('the spec defines no tenant pool');
  expect(tenantSubnetProblems(lab, tenantPool, tenantSubnets ?? []), 'tenant address space').toEqual([]);
});
