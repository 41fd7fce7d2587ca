/** Derived address facts of a lab spec: who holds which address, and what an address must not collide with. */
import {
  broadcastAddress,
  cidrWithin,
  cidrsOverlap,
  contains,
  inRange,
  networkAddress,
  parseCidr,
  rangeWithin,
  rangesOverlap,
  type Range,
} from '../net/ip.ts';
import type { Lab, Network } from './model.ts';

export interface PlacedAddress {
  readonly address: string;
  readonly network: string;
  /** Who holds it, for messages: "node node2 lima1" or "VIP internal". */
  readonly owner: string;
  readonly kind: 'node' | 'vip';
}

/** Every address the spec assigns: each node interface's address (whatever its use) and each VIP. */
export function assignedAddresses(lab: Lab): PlacedAddress[] {
  return [
    ...lab.nodes.flatMap((n) =>
      n.nics.flatMap((nic) => (nic.address ? [{ address: nic.address, network: nic.network, owner: `node ${n.name} ${nic.name}`, kind: 'node' as const }] : [])),
    ),
    ...lab.vips.map((v) => ({ address: v.address, network: v.network, owner: `VIP ${v.name}`, kind: 'vip' as const })),
  ];
}

/** Addresses held by more than one owner. */
export function sharedAddresses(placed: readonly PlacedAddress[]): { address: string; owners: string[] }[] {
  const owners = new Map<string, string[]>();
  for (const p of placed) owners.set(p.address, [...(owners.get(p.address) ?? []), p.owner]);
  return [...owners].filter(([, o]) => o.length > 1).map(([address, o]) => ({ address, owners: o }));
}

/** What an address is on its network if it cannot be assigned there (network, broadcast or gateway address). */
export function reservedRole(net: Network, address: string): string | undefined {
  if (net.gateway === address) return 'the gateway address';
  if (net.cidr.prefix >= 31) return undefined; // point-to-point: no network or broadcast address
  if (networkAddress(net.cidr) === address) return 'the network address';
  if (broadcastAddress(net.cidr) === address) return 'the broadcast address';
  return undefined;
}

/** Gateways and DHCP ranges outside their networks, gateways inside DHCP ranges, overlapping lab networks. */
export function networkRangeProblems(lab: Lab): string[] {
  const out: string[] = [];
  for (const net of lab.networks) {
    if (net.gateway && !contains(net.cidr, net.gateway)) out.push(`network ${net.name}: gateway ${net.gateway} lies outside ${net.cidr.text}`);
    if (!net.dhcp) continue;
    const range = `${net.dhcp.start}–${net.dhcp.end}`;
    if (!rangeWithin(net.dhcp, net.cidr)) out.push(`network ${net.name}: DHCP range ${range} is not an ascending range inside ${net.cidr.text}`);
    if (net.gateway && inRange(net.dhcp, net.gateway)) out.push(`network ${net.name}: gateway ${net.gateway} lies inside the DHCP range ${range}`);
  }
  for (const [i, a] of lab.networks.entries()) {
    for (const b of lab.networks.slice(i + 1)) {
      if (cidrsOverlap(a.cidr, b.cidr)) out.push(`networks ${a.name} (${a.cidr.text}) and ${b.name} (${b.cidr.text}) overlap`);
    }
  }
  return out;
}

/** Assigned addresses that a DHCP server of some lab network may also hand out. */
export function addressesInDhcp(lab: Lab): { placed: PlacedAddress; net: Network }[] {
  return assignedAddresses(lab).flatMap((placed) =>
    lab.networks.filter((n) => n.dhcp && inRange(n.dhcp, placed.address)).map((net) => ({ placed, net })),
  );
}

/**
 * Problems of the VIP holders: a VIP that is also a node address, a loadbalancer without an interface on a VIP's
 * network (or without the interface the VIP names), and — Kolla's precheck, for Kolla labs — the internal VIP
 * outside the API subnet of a loadbalancer.
 */
export function vipHolderProblems(lab: Lab): string[] {
  const out: string[] = [];
  const nodeAddresses = assignedAddresses(lab).filter((p) => p.kind === 'node');
  // Kolla's precheck; other deployers' keepalived holds a VIP on whichever interface sits on the VIP's network.
  const internal = lab.deployer.kind === 'kolla' ? lab.spec.endpoints?.internal : undefined;
  for (const vip of lab.vips) {
    for (const p of nodeAddresses.filter((n) => n.address === vip.address)) out.push(`VIP ${vip.name} ${vip.address} is also the address of ${p.owner}`);
    for (const lb of lab.nodesWithRole('loadbalancer')) {
      const nics = lb.nics.filter((nic) => nic.network === vip.network);
      if (nics.length === 0) out.push(`loadbalancer ${lb.name} has no interface on network ${vip.network}, which carries VIP ${vip.name} ${vip.address}`);
      if (vip.interface && !nics.some((nic) => nic.name === vip.interface)) {
        out.push(`loadbalancer ${lb.name} has no interface ${vip.interface} on network ${vip.network}, which VIP ${vip.name} names as its interface`);
      }
      if (vip.name !== internal) continue;
      const api = lab.networks.find((n) => lb.apiAddress && contains(n.cidr, lb.apiAddress));
      if (!api || !contains(api.cidr, vip.address)) {
        out.push(`internal VIP ${vip.address} is outside the API subnet of loadbalancer ${lb.name} (${api ? api.cidr.text : 'no API address'}): Kolla's precheck refuses this`);
      }
    }
  }
  return out;
}

/** What the floating-IP range collides with: outside the external network, or covering a VIP, gateway, node address or DHCP range. */
export function floatingRangeProblems(lab: Lab, network: string, range: Range): string[] {
  const net = lab.network(network);
  const shown = `floating range ${range.start}–${range.end}`;
  const out: string[] = [];
  if (!rangeWithin(range, net.cidr)) out.push(`${shown} is not an ascending range inside external network ${net.name} (${net.cidr.text})`);
  for (const p of assignedAddresses(lab)) if (inRange(range, p.address)) out.push(`${shown} includes ${p.address} of ${p.owner}`);
  for (const n of lab.networks) {
    if (n.gateway && inRange(range, n.gateway)) out.push(`${shown} includes gateway ${n.gateway} of network ${n.name}`);
    if (n.dhcp && rangesOverlap(range, n.dhcp)) out.push(`${shown} overlaps the DHCP range ${n.dhcp.start}–${n.dhcp.end} of network ${n.name}`);
  }
  return out;
}

/** Tenant subnets outside the tenant pool, and a pool or subnet that collides with a lab network. */
export function tenantSubnetProblems(lab: Lab, pool: string, subnets: readonly string[]): string[] {
  const poolCidr = parseCidr(pool);
  const out: string[] = [];
  for (const s of subnets) if (!cidrWithin(parseCidr(s), poolCidr)) out.push(`tenant subnet ${s} is outside the tenant pool ${pool}`);
  for (const c of [pool, ...subnets]) {
    for (const n of lab.networks) if (cidrsOverlap(parseCidr(c), n.cidr)) out.push(`tenant ${c === pool ? 'pool' : 'subnet'} ${c} overlaps lab network ${n.name} (${n.cidr.text})`);
  }
  return out;
}
