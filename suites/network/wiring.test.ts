/**
 * The lab's wiring as each node's kernel sees it, read over SSH: interfaces, VIP holders, the tunnel mesh and
 * routing tables. Node-level only: the OVN and Neutron checks of this layer need OpenStack.
 */
import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { externalPortAddresses, interfaceFindings, meshPairs, routeFindings, vipFindings, vipHolders, vrrpFindings } from '../../helpers/net/wiring.ts';
import { quote } from '../../helpers/node/quote.ts';
import { nodeVrrp } from '../../helpers/node/vrrp.ts';
import { echoHeaderBytes, nodeLinks, nodeRouting, ovsBridgeOfPort, pingDontFragment, pingOver } from '../../helpers/node/net.ts';

check('net.node-interfaces', 'every node has its spec interfaces, addresses, MTU and link, and no address on networks it is not on', async ({ lab, node, attach }) => {
  const seen = await Promise.all(lab.nodes.map(async (n) => ({ node: n, links: await nodeLinks(node(n.name)) })));
  await attach('interfaces per node (ip -j addr)', JSON.stringify(Object.fromEntries(seen.map((s) => [s.node.name, s.links])), null, 2), 'application/json');
  expect(seen.flatMap((s) => interfaceFindings(lab, s.node, s.links)), 'interfaces that differ from the spec').toEqual([]);
});

check('net.external-interface-no-ip', 'every Neutron external interface is a raw port of the external bridge, without an address', async ({ lab, node, attach, notApplicable }) => {
  const ports = lab.nodes.flatMap((n) => n.nics.filter((nic) => nic.use === 'neutron-external').map((nic) => ({ node: n, nic })));
  if (ports.length === 0) return notApplicable('no node of the spec has an interface with use: neutron-external');
  const bridge = lab.spec.neutron?.bridge;
  const findings: string[] = [];
  for (const { node: n, nic } of ports) {
    const shell = node(n.name);
    const [links, ovs] = await Promise.all([nodeLinks(shell), bridge ? ovsBridgeOfPort(lab, shell, nic.name) : undefined]);
    const link = links.find((l) => l.name === nic.name);
    // Without OVS on the node (the embedded lab before OpenStack) only the address part can be judged; say so.
    const unjudged = bridge && ovs && !ovs.ovs ? ` (membership of ${bridge} not checked: ${ovs.why})` : '';
    if (!link) {
      findings.push(`${n.name} ${nic.name} (neutron-external) is missing${unjudged}`);
      continue;
    }
    const addresses = externalPortAddresses(link).map((a) => `${a.address}/${a.prefix}`);
    if (addresses.length > 0) findings.push(`${n.name} ${nic.name} (neutron-external) carries ${addresses.join(', ')}; expected no IP address${unjudged}`);
    if (ovs?.ovs && ovs.bridge !== bridge) {
      findings.push(`${n.name} ${nic.name} (neutron-external) is ${ovs.bridge ? `a port of ${ovs.bridge}` : `not an OVS port (${ovs.said || 'ovs-vsctl port-to-br found none'})`}; expected a port of ${bridge}`);
    }
    await attach(`${n.name} ${nic.name}`, JSON.stringify({ link, ovs: ovs ?? 'the spec names no neutron.bridge' }, null, 2), 'application/json');
  }
  expect(findings, 'Neutron external interfaces').toEqual([]);
});

check('net.vip-single-holder', 'each VIP is held by exactly one node, a loadbalancer, on the VIP interface', async ({ lab, node, attach, notApplicable }) => {
  if (lab.vips.length === 0) return notApplicable('the spec defines no VIPs');
  // Every node is asked, not only the loadbalancers: a VIP on any other node is a holder too.
  const seen = await Promise.all(lab.nodes.map(async (n) => ({ node: n, links: await nodeLinks(node(n.name)) })));
  const holders = vipHolders(lab, seen);
  await attach('VIP holders', [...holders].map(([v, hs]) => `${v.name} ${v.address}: ${hs.map((h) => `${h.node.name}/${h.nic}`).join(', ') || 'none'}`).join('\n'));
  expect(vipFindings(lab, holders), 'VIPs not held by exactly one loadbalancer').toEqual([]);
});

check('net.vip-vrrp-managed', "each VIP's holder runs the keepalived VRRP instance that manages it as MASTER, every other instance BACKUP", async ({ lab, node, attach, notApplicable, requires }) => {
  if (lab.vips.length === 0) return notApplicable('the spec defines no VIPs');
  requires('vrrp');
  // An address left behind by a dead keepalived still answers, but nothing moves it when its node fails.
  const seen = await Promise.all(lab.nodes.map(async (n) => ({ node: n, links: await nodeLinks(node(n.name)), keepaliveds: await nodeVrrp(lab, node(n.name)) })));
  const holders = vipHolders(lab, seen);
  await attach('VRRP instances per node', seen.map((s) => `${s.node.name}: ${JSON.stringify(s.keepaliveds)}`).join('\n'));
  expect(vrrpFindings(lab, holders, seen), 'VIPs not managed by a MASTER VRRP instance on their holder').toEqual([]);
});

check('net.tunnel-mesh', 'every pair of tunnel nodes reaches each other over their tunnel addresses', async ({ lab, node, notApplicable }) => {
  const tunnel = lab.networkFor('tunnel');
  if (!tunnel) return notApplicable('the spec has no network with purpose tunnel');
  const pairs = meshPairs(lab, tunnel.name);
  if (pairs.length === 0) return notApplicable(`fewer than two nodes have an address on tunnel network ${tunnel.name}`);
  // Bound to the tunnel interface: an echo that cannot leave through it is not sent another way.
  const results = await Promise.all(pairs.map(async (p) => ({ ...p, r: await pingOver(node(p.from.name), p.fromNic.name, p.toNic.address!) })));
  const unreached = results
    .filter(({ r }) => r.received === 0)
    .map(({ from, fromNic, to, toNic, r }) =>
      `${from.name} (${fromNic.name} ${fromNic.address}) does not reach ${to.name} at ${toNic.address} on tunnel network ${tunnel.name}: ${r.received} of ${r.transmitted} echoes answered${r.said ? ` (${r.said})` : ''}`);
  expect(unreached, 'tunnel pairs that do not reach each other').toEqual([]);
});

check('net.path-mtu', "every pair of tunnel endpoints and of storage nodes carries the spec's MTU without fragmenting", async ({ lab, node, attach, notApplicable }) => {
  const networks = [lab.networkFor('tunnel'), lab.networkFor('storage')].filter((n) => n !== undefined);
  const pairs = [...new Set(networks)].flatMap((net) => meshPairs(lab, net.name).map((p) => ({ ...p, net, mtu: Math.min(p.fromNic.mtu, p.toNic.mtu) })));
  if (pairs.length === 0) return notApplicable('no tunnel or storage network of the spec has two nodes with an address on it');
  // Don't-fragment echoes of exactly the MTU: a smaller MTU anywhere on the path (a NIC, the wire under a bridge) drops them.
  const results = await Promise.all(pairs.map(async (p) => {
    const payload = p.mtu - echoHeaderBytes(p.toNic.address!);
    return { ...p, payload, r: await pingDontFragment(node(p.from.name), p.fromNic.name, p.toNic.address!, payload) };
  }));
  await attach('don\'t-fragment probes', results.map(({ from, fromNic, to, toNic, net, mtu, payload, r }) =>
    `${net.name}: ${from.name} ${fromNic.name} → ${to.name} ${toNic.address}, MTU ${mtu} (${payload}-byte payload): ${r.received}/${r.transmitted}${r.said ? ` ${r.said}` : ''}`).join('\n'));
  const short = results
    .filter(({ r }) => r.received === 0)
    .map(({ from, fromNic, to, toNic, net, mtu, payload, r }) =>
      `${from.name} ${fromNic.name} (${fromNic.address}) → ${to.name} ${toNic.name} (${toNic.address}) on ${net.name} network does not carry MTU ${mtu}: ${r.received} of ${r.transmitted} don't-fragment echoes of ${payload} bytes answered${r.said ? ` (${r.said})` : ''}`);
  expect(short, 'node pairs whose path MTU is below the spec').toEqual([]);
});

/**
 * Forwarding: a Kolla operator expects `net.ipv4.ip_forward = 0` on every node that is not a network node.
 * Kolla-Ansible turns Docker's own forwarding off (docker_disable_ip_forward) and only its Neutron role turns
 * ip_forward on, on the hosts that route for tenants (L3 agent / network hosts; with OVN the gateway chassis
 * routes in OVS, so even there it is merely tolerated). A compute, storage or control node that forwards is a
 * router between the isolated networks nobody designed; a network node may forward.
 */
const mayForward = (roles: readonly string[]) => roles.includes('network');

check('net.routes', 'every default route leaves via the management gateway and no node routes between isolated networks', async ({ lab, node, attach, notApplicable }) => {
  const management = lab.networkFor('management') ?? lab.networkFor('api');
  if (!management?.gateway) return notApplicable('the spec gives the management network no gateway');
  // Routing tables and /proc only: nothing is sent anywhere.
  const seen = await Promise.all(lab.nodes.map(async (n) => ({ node: n, ...(await nodeRouting(node(n.name))) })));
  await attach('routes per node (ip -j -4 route)', JSON.stringify(Object.fromEntries(seen.map((s) => [s.node.name, s])), (k, v: unknown) => (k === 'node' ? undefined : v), 2), 'application/json');
  const findings = seen.flatMap(({ node: n, routes, forwarding }) => [
    ...routeFindings(lab, n, management, routes),
    ...(forwarding && !mayForward(n.roles) ? [`${n.name} (roles ${n.roles.join(', ')}) forwards IPv4 (net.ipv4.ip_forward = 1); expected 0 on every node without the network role`] : []),
  ]);
  expect(findings, 'routes that leave the design').toEqual([]);
});

check('net.static-routes', "each spec static route in its node's table, through its gateway, carrying traffic", async ({ lab, node, attach, notApplicable }) => {
  const routes = lab.spec.staticRoutes ?? [];
  if (routes.length === 0) return notApplicable('the spec has no staticRoutes');
  const seen = await Promise.all(routes.map(async (r) => {
    const shell = node(r.node);
    const { routes: table } = await nodeRouting(shell);
    const ping = await shell.run(`ping -n -q -c 2 -i 0.2 -w 3 ${quote(r.probe)}`);
    const received = Number(ping.stdout.match(/(\d+) (?:packets )?received/)?.[1] ?? 0);
    return { r, table, received, said: (ping.stderr || ping.stdout).trim().split('\n').slice(-1)[0] ?? '' };
  }));
  await attach('routes and probes', JSON.stringify(seen, null, 2), 'application/json');
  const findings = seen.flatMap(({ r, table, received, said }) => [
    ...(table.some((t) => t.dst === r.destination && t.gateway === r.via) ? [] : [
      `${r.node} has no route to ${r.destination} via ${r.via} (its routes: ` +
      `${table.map((t) => `${t.dst}${t.gateway ? ` via ${t.gateway}` : ''}`).join(', ')})`]),
    ...(received > 0 ? [] : [`${r.node}: ${r.probe} in ${r.destination} does not answer (through ${r.via} expected): ${said}`]),
  ]);
  expect(findings, 'static routes').toEqual([]);
});
