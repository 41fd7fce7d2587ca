/** Neutron and OVN as the design wants them: the OVN backend, its chassis on the tunnel network, the external network. */
import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { agents, externalNetwork, externalNetworkFindings, ovnAgentFindings } from '../../helpers/openstack/neutron.ts';
import { chassisEncaps, encapFindings, southbound } from '../../helpers/node/ovn.ts';

check('net.ovn-agents', 'Neutron runs the OVN backend: no L3, DHCP or OVS agents, an OVN controller alive on every network and compute node', async ({ lab, cloud, attach, notApplicable }) => {
  if (lab.spec.neutron?.backend !== 'ovn') notApplicable(`lab ${lab.name}: neutron.backend is ${lab.spec.neutron?.backend ?? 'not stated'}`);
  const seen = await agents(await cloud());
  await attach('agents', seen.map((a) => `${a.agent_type} ${a.host} alive=${a.alive}`).join('\n'));
  expect(ovnAgentFindings(lab, seen), 'Neutron agents').toEqual([]);
});

check('net.ovn-chassis-encap', 'Every network and compute node is an OVN chassis encapsulating on its tunnel address', async ({ lab, node, attach, notApplicable }) => {
  if (lab.spec.neutron?.backend !== 'ovn') notApplicable(`lab ${lab.name}: neutron.backend is ${lab.spec.neutron?.backend ?? 'not stated'}`);
  const sb = southbound(lab);
  const seen = await chassisEncaps(lab, node(sb.node.name), sb);
  await attach('southbound encaps', seen.map((e) => `${e.hostname} ${e.chassis} ${e.type} ${e.ip}`).join('\n'));
  expect(encapFindings(lab, seen), 'OVN chassis').toEqual([]);
});

check('net.external-network', "The external network is on the spec's physnet, its pools inside the floating range and clear of VIPs and gateways", async ({ lab, cloud, attach, notApplicable }) => {
  const name = lab.spec.neutron?.externalNetwork?.name;
  if (!name) notApplicable(`lab ${lab.name}: the spec names no neutron.externalNetwork`);
  const seen = await externalNetwork(await cloud(), name!);
  await attach('external network', JSON.stringify(seen, null, 2), 'application/json');
  expect(externalNetworkFindings(lab, seen), `external network ${name}`).toEqual([]);
});
