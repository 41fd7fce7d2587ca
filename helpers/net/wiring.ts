/**
 * A node's wiring as seen (interfaces, addresses, routes) compared with what the lab spec says. Pure: the
 * observations come in, the differences go out as sentences that name the node, the object, the expectation
 * and what was seen.
 */
import type { Lab, LabNode, Network, Nic, Vip } from '../lab/model.ts';
import type { NodeAddress, NodeLink, NodeRoute } from '../node/net.ts';
import type { Keepalived, VrrpInstance } from '../node/vrrp.ts';
import { cidrsOverlap, contains, isCidr, isIPv4, parseCidr } from './ip.ts';

const cidrOf = (a: NodeAddress) => `${a.address}/${a.prefix}`;
const ipv4 = (link: NodeLink | undefined) => (link?.addresses ?? []).filter((a) => a.family === 'inet');

/** The lab network an address lies in, if any. */
function networkOf(lab: Lab, address: string): Network | undefined {
  return lab.networks.find((n) => contains(n.cidr, address));
}

function linkState(link: NodeLink): string | undefined {
  if (!link.adminUp) return `is administratively down (state ${link.operstate ?? 'unknown'})`;
  if (!link.carrier) return `is up but has no carrier (state ${link.operstate ?? 'unknown'})`;
  return undefined;
}

/**
 * How a node's interfaces differ from its spec: each spec interface exists, is up with a carrier, has the
 * spec's MTU and (for `use: address`) exactly the spec's address/prefix; no interface holds an address in a lab
 * network other than the spec's. VIPs are left to the VIP check and `neutron-external` ports to theirs.
 */
export function interfaceFindings(lab: Lab, node: LabNode, links: readonly NodeLink[]): string[] {
  const out: string[] = [];
  const vipAddresses = new Set(lab.vips.map((v) => v.address));
  const byName = new Map(links.map((l) => [l.name, l]));
  const at = (nic: Nic) => `${node.name} ${nic.name} (network ${nic.network})`;
  for (const nic of node.nics) {
    const link = byName.get(nic.name);
    if (!link) {
      out.push(`${at(nic)} is missing: the node has ${links.map((l) => l.name).join(', ') || 'no interfaces'}`);
      continue;
    }
    const state = linkState(link);
    if (state) out.push(`${at(nic)} ${state}; expected up with a carrier`);
    if (link.mtu !== nic.mtu) out.push(`${at(nic)} has MTU ${link.mtu}; expected ${nic.mtu}`);
    if (nic.use === 'neutron-external') continue;
    const have = ipv4(link).filter((a) => !vipAddresses.has(a.address));
    const want = nic.use === 'address' && nic.address ? `${nic.address}/${nic.prefix}` : undefined;
    if (want && !have.some((a) => cidrOf(a) === want)) {
      const same = have.find((a) => a.address === nic.address);
      out.push(`${at(nic)} lacks ${want}; it has ${same ? cidrOf(same) : have.map(cidrOf).join(', ') || 'no IPv4 address'}`);
    }
    for (const a of have.filter((x) => x.address !== nic.address)) {
      const net = networkOf(lab, a.address);
      const foreign = net && !node.nics.some((n) => n.network === net.name) ? `, in network ${net.name}, which the spec does not attach ${node.name} to` : net ? ` (network ${net.name})` : '';
      out.push(`${at(nic)} carries ${cidrOf(a)}${foreign}; expected ${want ?? (nic.use === 'vip' ? 'only VIPs' : 'no address')} there`);
    }
  }
  const specNics = new Set(node.nics.map((n) => n.name));
  for (const link of links.filter((l) => !specNics.has(l.name))) {
    for (const a of ipv4(link).filter((x) => !vipAddresses.has(x.address))) {
      const net = networkOf(lab, a.address);
      if (!net) continue;
      const attached = node.nics.some((n) => n.network === net.name);
      out.push(
        attached
          ? `${node.name} ${link.name} carries ${cidrOf(a)} in network ${net.name}, but the spec puts ${node.name} on ${net.name} through ${node.nics.filter((n) => n.network === net.name).map((n) => n.name).join(', ')} only`
          : `${node.name} ${link.name} carries ${cidrOf(a)} in network ${net.name}, which the spec does not attach ${node.name} to`,
      );
    }
  }
  return out;
}

/**
 * Addresses on a `neutron-external` port: any IPv4 address, and any IPv6 address beyond the link-local one the
 * kernel gives every interface (fe80::/10 is not routable and is not configured by anyone).
 */
export function externalPortAddresses(link: NodeLink): NodeAddress[] {
  return link.addresses.filter((a) => a.family === 'inet' || a.scope !== 'link');
}

export interface VipHolder {
  readonly node: LabNode;
  readonly nic: string;
}

/** Which nodes hold each VIP, and on which interface. */
export function vipHolders(lab: Lab, seen: readonly { node: LabNode; links: readonly NodeLink[] }[]): Map<Vip, VipHolder[]> {
  return new Map(
    lab.vips.map((vip) => [
      vip,
      seen.flatMap(({ node, links }) => links.filter((l) => l.addresses.some((a) => a.address === vip.address)).map((l) => ({ node, nic: l.name }))),
    ]),
  );
}

/** Exactly one holder per VIP, a loadbalancer, on the VIP's interface (the spec's, or its nic on the VIP's network). */
export function vipFindings(lab: Lab, holders: ReadonlyMap<Vip, readonly VipHolder[]>): string[] {
  const lbs = lab.nodesWithRole('loadbalancer').map((n) => n.name);
  const lbText = lbs.length ? `a loadbalancer (${lbs.join(', ')})` : 'a loadbalancer (the spec has none)';
  const list = (hs: readonly VipHolder[]) => hs.map((h) => `${h.node.name} on ${h.nic}`).join(', ');
  const out: string[] = [];
  for (const [vip, hs] of holders) {
    const what = `VIP ${vip.name} ${vip.address}`;
    if (hs.length === 0) {
      out.push(`${what} is held by no node (outage); expected exactly one holder, ${lbText}`);
      continue;
    }
    if (hs.length > 1) {
      out.push(`${what} is held by ${hs.length} nodes (split brain): ${list(hs)}; expected exactly one, ${lbText}`);
      continue;
    }
    const h = hs[0]!;
    if (!h.node.roles.includes('loadbalancer')) out.push(`${what} is held by ${h.node.name} on ${h.nic}, which is not a loadbalancer; expected ${lbText}`);
    const nics = vip.interface
      ? [vip.interface]
      : h.node.nics.filter((n) => n.network === vip.network && n.use !== 'neutron-external').map((n) => n.name);
    if (!nics.includes(h.nic)) {
      out.push(`${what} is held by ${h.node.name} on ${h.nic}; expected on ${nics.join(' or ') || `an interface on network ${vip.network}, which ${h.node.name} does not have`}`);
    }
  }
  return out;
}

/** What keepalived runs in one node's network namespace (helpers/node/vrrp.ts). */
export interface NodeVrrp {
  readonly node: LabNode;
  readonly keepaliveds: readonly Keepalived[];
}

const instanceText = (k: Keepalived, i: VrrpInstance) => `instance ${i.name} (keepalived pid ${k.pid}) is ${i.state}`;

function withoutInstance(n: NodeVrrp): string {
  if (n.keepaliveds.length === 0) return 'no keepalived runs in its network namespace';
  return n.keepaliveds
    .map((k) => (k.unreadable ? `keepalived pid ${k.pid}: ${k.unreadable}` : `keepalived pid ${k.pid} runs ${k.instances.map((i) => `${i.name} (${i.state})`).join(', ') || 'no VRRP instance'} without it`))
    .join('; ');
}

/**
 * Every VIP is managed: the node holding it runs the keepalived VRRP instance that lists it, in state MASTER; every
 * other instance listing it is BACKUP; and every other loadbalancer stands by with one (for a VIP a loadbalancer holds).
 */
export function vrrpFindings(lab: Lab, holders: ReadonlyMap<Vip, readonly VipHolder[]>, seen: readonly NodeVrrp[]): string[] {
  const out: string[] = [];
  for (const [vip, hs] of holders) {
    const what = `VIP ${vip.name} ${vip.address}`;
    const holding = new Set(hs.map((h) => h.node.name));
    const managers = seen.flatMap((n) => n.keepaliveds.flatMap((k) => k.instances.filter((i) => i.addresses.includes(vip.address)).map((i) => ({ node: n, k, i }))));
    for (const h of hs) {
      const here = managers.filter((m) => m.node.node.name === h.node.name);
      const node = seen.find((n) => n.node.name === h.node.name);
      if (here.length === 0) out.push(`${what} is held by ${h.node.name} on ${h.nic}, where no keepalived VRRP instance manages it (${node ? withoutInstance(node) : 'not read'})`);
      else if (!here.some((m) => m.i.state === 'MASTER')) out.push(`${what} is held by ${h.node.name}, whose VRRP ${here.map((m) => instanceText(m.k, m.i)).join(', ')}; expected MASTER`);
    }
    for (const m of managers.filter((x) => !holding.has(x.node.node.name))) {
      if (m.i.state === 'MASTER') out.push(`${what}: ${m.node.node.name}'s VRRP ${instanceText(m.k, m.i)} but ${m.node.node.name} does not hold the address (held by ${[...holding].join(', ') || 'no node'})`);
      else if (m.i.state !== 'BACKUP') out.push(`${what}: ${m.node.node.name}'s VRRP ${instanceText(m.k, m.i)}; expected BACKUP`);
    }
    if (hs.length === 0 && !managers.some((m) => m.i.state === 'MASTER')) out.push(`${what} is held by no node and no VRRP instance is MASTER for it`);
    if (!hs.some((h) => h.node.roles.includes('loadbalancer'))) continue;
    for (const n of seen.filter((x) => x.node.roles.includes('loadbalancer') && !holding.has(x.node.name))) {
      if (!managers.some((m) => m.node.node.name === n.node.name)) out.push(`${what}: loadbalancer ${n.node.name} stands by with no VRRP instance for it (${withoutInstance(n)}); expected BACKUP`);
    }
  }
  for (const n of seen) for (const k of n.keepaliveds) if (k.unreadable) out.push(`${n.node.name}: the VRRP state of keepalived pid ${k.pid} is unreadable: ${k.unreadable}`);
  return out;
}

/** The node's address and interface on a network, when it has one there. */
export function nicOn(node: LabNode, network: string): Nic | undefined {
  return node.nics.find((n) => n.network === network && n.use === 'address' && n.address);
}

/** Every ordered pair of distinct nodes with an address on the network: (from, to). */
export function meshPairs(lab: Lab, network: string): { from: LabNode; fromNic: Nic; to: LabNode; toNic: Nic }[] {
  const members = lab.nodes.flatMap((node) => {
    const nic = nicOn(node, network);
    return nic ? [{ node, nic }] : [];
  });
  return members.flatMap((a) => members.filter((b) => b !== a).map((b) => ({ from: a.node, fromNic: a.nic, to: b.node, toNic: b.nic })));
}

/** "via 10.0.3.1 on eth1 metric 100", without the destination. */
function describeVia(r: NodeRoute): string {
  const via = r.gateway ? `via ${r.gateway}` : r.nexthops.length ? `via ${r.nexthops.map((h) => `${h.gateway ?? '?'} on ${h.dev ?? '?'}`).join(' and ')} (multipath)` : 'directly';
  return `${via}${r.dev ? ` on ${r.dev}` : ''}${r.metric ? ` metric ${r.metric}` : ''}`;
}

/**
 * The node's default routes all go via the management gateway on the node's management interface, and no route
 * leads into an isolated network the spec does not attach the node to.
 */
export function routeFindings(lab: Lab, node: LabNode, management: Network, routes: readonly NodeRoute[]): string[] {
  const out: string[] = [];
  const mgmtNic = nicOn(node, management.name);
  const expected = `via ${management.gateway ?? '(no gateway)'} on ${mgmtNic?.name ?? `an interface on ${management.name}`} (management network ${management.name})`;
  const defaults = routes.filter((r) => r.dst === 'default');
  if (defaults.length === 0) out.push(`${node.name} has no default route; expected one ${expected}`);
  for (const r of defaults) {
    if (r.gateway !== management.gateway || !mgmtNic || r.dev !== mgmtNic.name) {
      out.push(`${node.name}'s default route goes ${describeVia(r)}; expected every default route ${expected}`);
    }
  }
  const isolated = lab.networks.filter((n) => n.isolated && !node.nics.some((nic) => nic.network === n.name));
  for (const r of routes.filter((x) => x.dst !== 'default')) {
    const dst = isCidr(r.dst) ? parseCidr(r.dst) : isIPv4(r.dst) ? parseCidr(`${r.dst}/32`) : undefined;
    if (!dst) continue;
    for (const net of isolated.filter((n) => cidrsOverlap(n.cidr, dst))) {
      out.push(`${node.name} has a route to ${r.dst} ${describeVia(r)} into isolated network ${net.name} (${net.cidr.text}), which the spec does not attach ${node.name} to`);
    }
  }
  return out;
}
