/** Neutron and OVN as the design wants them: the OVN backend, its chassis on the tunnel network, the external network. */
import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { agents, externalNetwork, externalNetworkFindings, ovnAgentFindings } from '../../helpers/openstack/neutron.ts';
import { chassisEncaps, encapFindings, northbound, southbound, subnetDhcpOptions } from '../../helpers/node/ovn.ts';
import { dnsServerOption, dnsServersFindings } from '../../helpers/openstack/tenant-dns.ts';
import { waitFor } from '../../helpers/openstack/wait.ts';

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

check('net.tenant-dns', "A subnet created without DNS servers hands its guests the spec's tenant DNS servers (OVN's DHCP options)", async ({ lab, tenant, node, attach, notApplicable }) => {
  const want = lab.spec.neutron?.tenantDnsServers;
  if (!want) notApplicable(`lab ${lab.name}: the spec gives no neutron.tenantDnsServers`);
  const backend = lab.spec.neutron?.backend;
  if (backend !== 'ovn') notApplicable(`lab ${lab.name}: neutron.backend is ${backend ?? 'not stated'}: its DHCP agent, not OVN, answers guests (compute.guest-dns reads the guest's resolv.conf)`);
  const { subnet } = await (await tenant()).defaultsNetwork('dns-net');
  // Neutron's API shows such a subnet with dns_nameservers []: the default ([ovn] dns_servers, else neutron-server's
  // own resolv.conf) is applied where Neutron writes the subnet's DHCP_Options row, which OVN answers every guest on
  // it with. That row is the proof of what guests are told, read without a packet to the servers (they may be public).
  const nb = northbound(lab);
  const { value: rows } = await waitFor(() => subnetDhcpOptions(lab, node(nb.node.name), subnet.id), {
    what: `OVN's DHCP options of subnet ${subnet.name}`,
    timeoutMs: 30_000,
    state: (r) => `${r.length} DHCP_Options row(s)`,
    done: (r) => r.some((x) => !x.externalIds.port_id),
  });
  await attach("subnet and OVN's DHCP options", JSON.stringify({ subnet, dhcpOptions: rows }, null, 2), 'application/json');
  expect(subnet.dns_nameservers, `subnet ${subnet.name} was created naming no DNS servers`).toEqual([]);
  const own = rows.find((r) => !r.externalIds.port_id);
  const what = `subnet ${subnet.name} (${subnet.cidr}, no DNS servers of its own): OVN's DHCP options`;
  expect(dnsServersFindings(what, want!, dnsServerOption(own?.options.dns_server)), 'tenant DNS servers').toEqual([]);
});
