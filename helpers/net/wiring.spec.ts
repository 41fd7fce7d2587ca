import { describe, expect, it } from 'vitest';
import { loadLab } from '../lab/load.ts';
import type { LabNode } from '../lab/model.ts';
import type { NodeLink, NodeRoute } from '../node/net.ts';
import type { Keepalived } from '../node/vrrp.ts';
import { externalPortAddresses, interfaceFindings, meshPairs, routeFindings, vipFindings, vipHolders, vrrpFindings } from './wiring.ts';

const primary = loadLab('primary');
const node = (name: string) => primary.node(name);

/** The links a node of the primary lab has when it is wired exactly as its spec says (no VIPs). */
function wired(n: LabNode): NodeLink[] {
  return [
    { name: 'lo', mtu: 65536, adminUp: true, carrier: true, operstate: 'UNKNOWN', master: undefined, addresses: [{ family: 'inet', address: '127.0.0.1', prefix: 8, scope: 'host' }] },
    ...n.nics.map((nic) => ({
      name: nic.name,
      mtu: nic.mtu,
      adminUp: true,
      carrier: true,
      operstate: 'UP',
      master: nic.use === 'neutron-external' ? 'ovs-system' : undefined,
      addresses: [
        ...(nic.use === 'address' && nic.address ? [{ family: 'inet' as const, address: nic.address, prefix: nic.prefix, scope: 'global' }] : []),
        { family: 'inet6' as const, address: 'fe80::1', prefix: 64, scope: 'link' },
      ],
    })),
  ];
}

const patch = (links: NodeLink[], name: string, change: Partial<NodeLink>) => links.map((l) => (l.name === name ? { ...l, ...change } : l));
const route = (dst: string, gateway?: string, dev?: string): NodeRoute => ({ dst, gateway, dev, metric: 0, nexthops: [] });

describe('interfaceFindings', () => {
  it('finds nothing on a node wired as its spec says', () => {
    for (const n of primary.nodes) expect(interfaceFindings(primary, n, wired(n))).toEqual([]);
  });

  it('names a missing interface, a wrong MTU, a link without carrier and a wrong prefix', () => {
    let links = wired(node('node2')).filter((l) => l.name !== 'lima2');
    links = patch(links, 'lima1', { mtu: 1400, carrier: false, operstate: 'LOWERLAYERDOWN' });
    links = patch(links, 'lima0', { addresses: [{ family: 'inet', address: '192.168.105.102', prefix: 16, scope: 'global' }] });
    expect(interfaceFindings(primary, node('node2'), links)).toEqual([
      'node2 lima0 (network management) lacks 192.168.105.102/24; it has 192.168.105.102/16',
      'node2 lima1 (network tunnel) is up but has no carrier (state LOWERLAYERDOWN); expected up with a carrier',
      'node2 lima1 (network tunnel) has MTU 1400; expected 1500',
      expect.stringMatching(/^node2 lima2 \(network storage\) is missing: the node has lo, lima0, lima1$/),
    ]);
  });

  it('names an address in a network the node is not attached to, on any interface; VIPs are not its business', () => {
    const links = [
      ...wired(node('node3')),
      { name: 'eth9', mtu: 1500, adminUp: true, carrier: true, operstate: 'UP', master: undefined, addresses: [{ family: 'inet' as const, address: '10.0.1.50', prefix: 24, scope: 'global' }] },
    ];
    const withVip = patch(links, 'lima0', { addresses: [...links.find((l) => l.name === 'lima0')!.addresses, { family: 'inet', address: '192.168.105.250', prefix: 32, scope: 'global' }] });
    expect(interfaceFindings(primary, node('node3'), withVip)).toEqual(['node3 eth9 carries 10.0.1.50/24 in network tunnel, which the spec does not attach node3 to']);
  });

  it('leaves the neutron-external port to its own check, but sees its addresses', () => {
    const links = patch(wired(node('node1')), 'lima3', { addresses: [{ family: 'inet', address: '10.0.2.7', prefix: 24, scope: 'global' }, { family: 'inet6', address: 'fe80::2', prefix: 64, scope: 'link' }] });
    expect(interfaceFindings(primary, node('node1'), links)).toEqual([]);
    expect(externalPortAddresses(links.find((l) => l.name === 'lima3')!).map((a) => a.address)).toEqual(['10.0.2.7']);
  });
});

describe('VIP holders', () => {
  const seen = (holders: Record<string, string[]>) =>
    primary.nodes.map((n) => ({
      node: n,
      links: wired(n).map((l) => ({
        ...l,
        addresses: [...l.addresses, ...(holders[`${n.name}/${l.name}`] ?? []).map((a) => ({ family: 'inet' as const, address: a, prefix: 32, scope: 'global' }))],
      })),
    }));

  it('accepts one loadbalancer holding each VIP on its interface', () => {
    expect(vipFindings(primary, vipHolders(primary, seen({ 'node1/lima0': ['192.168.105.250'], 'node1/lima2': ['10.0.2.250'] })))).toEqual([]);
  });

  it('lists the holders of a split brain and says outage when nobody holds a VIP', () => {
    expect(vipFindings(primary, vipHolders(primary, seen({ 'node1/lima0': ['192.168.105.250'], 'node2/lima0': ['192.168.105.250'] })))).toEqual([
      'VIP internal 192.168.105.250 is held by 2 nodes (split brain): node1 on lima0, node2 on lima0; expected exactly one, a loadbalancer (node1)',
      'VIP external 10.0.2.250 is held by no node (outage); expected exactly one holder, a loadbalancer (node1)',
    ]);
  });

  it('names a holder that is no loadbalancer, and a VIP on the wrong interface', () => {
    expect(vipFindings(primary, vipHolders(primary, seen({ 'node3/lima0': ['192.168.105.250'], 'node1/lima3': ['10.0.2.250'] })))).toEqual([
      'VIP internal 192.168.105.250 is held by node3 on lima0, which is not a loadbalancer; expected a loadbalancer (node1)',
      'VIP external 10.0.2.250 is held by node1 on lima3; expected on lima2',
    ]);
  });
});

describe('VIPs managed by VRRP', () => {
  const held = [...vipHolders(primary, primary.nodes.map((n) => ({
    node: n,
    links: wired(n).map((l) => (n.name === 'node1' && l.name === 'lima0' ? { ...l, addresses: [...l.addresses, { family: 'inet' as const, address: '192.168.105.250', prefix: 24, scope: 'global' }] } : l)),
  })))].filter(([v]) => v.name === 'internal');
  const k = (state: string, pid = 7): Keepalived => ({ pid, instances: [{ name: 'kolla_internal_vip_51', state, vrid: 51, addresses: ['192.168.105.250'] }] });
  const vrrp = (byNode: Record<string, Keepalived[]>) => primary.nodes.map((n) => ({ node: n, keepaliveds: byNode[n.name] ?? [] }));

  it('accepts the holder as MASTER of the instance that lists the VIP', () => {
    expect(vrrpFindings(primary, new Map(held), vrrp({ node1: [k('MASTER')] }))).toEqual([]);
  });

  it('fails an address nobody manages: keepalived dead on the holder', () => {
    expect(vrrpFindings(primary, new Map(held), vrrp({}))).toEqual([
      'VIP internal 192.168.105.250 is held by node1 on lima0, where no keepalived VRRP instance manages it (no keepalived runs in its network namespace)',
    ]);
  });

  it('wants MASTER on the holder and BACKUP elsewhere', () => {
    expect(vrrpFindings(primary, new Map(held), vrrp({ node1: [k('BACKUP')], node2: [k('MASTER', 9)] }))).toEqual([
      'VIP internal 192.168.105.250 is held by node1, whose VRRP instance kolla_internal_vip_51 (keepalived pid 7) is BACKUP; expected MASTER',
      "VIP internal 192.168.105.250: node2's VRRP instance kolla_internal_vip_51 (keepalived pid 9) is MASTER but node2 does not hold the address (held by node1)",
    ]);
  });

  it('says when keepalived could not be read', () => {
    expect(vrrpFindings(primary, new Map(held), vrrp({ node1: [{ pid: 7, instances: [], unreadable: 'no dump' }] }))).toContain('node1: the VRRP state of keepalived pid 7 is unreadable: no dump');
  });
});

describe("charmed-twin: each service's VIP pair, held on its two spaces and managed by the pair's own VRRP instance", () => {
  const twin = loadLab('charmed-twin');
  const lb = twin.node('twin0');
  const links = (skip: string[] = []) => wired(lb).map((l) => {
    const vips = twin.vips.filter((v) => !skip.includes(v.name) && (v.network === 'tw-provider' ? l.name === 'br-ens4' : v.network === 'tw-metal' && l.name === 'ens3'));
    return { ...l, addresses: [...l.addresses, ...vips.map((v) => ({ family: 'inet' as const, address: v.address, prefix: 22, scope: 'global' }))] };
  });
  const seen = (skip?: string[]) => twin.nodes.map((n) => ({ node: n, links: n === lb ? links(skip) : wired(n) }));
  const instances = (state: (owner: string) => string): Keepalived => ({
    pid: 5,
    instances: ['keystone', 'glance', 'nova', 'placement', 'neutron', 'cinder', 'dashboard'].map((o, i) => ({
      name: `charmed-twin_${o}_vip_${81 + i}`, state: state(o), vrid: 81 + i,
      addresses: [`${twin.vip(`${o}-public`).address}`, `${twin.vip(`${o}-internal`).address}`],
    })),
  });
  const vrrp = (k: Keepalived) => twin.nodes.map((n) => ({ node: n, keepaliveds: n === lb ? [k] : [] }));

  it('accepts every public VIP on br-ens4 and every internal one on ens3 of twin0, each pair under a MASTER instance', () => {
    const held = vipHolders(twin, seen());
    expect(vipFindings(twin, held)).toEqual([]);
    expect(vrrpFindings(twin, held, vrrp(instances(() => 'MASTER')))).toEqual([]);
  });

  it("names the VIP of a pair no node holds, and the pair whose instance is not MASTER on the holder", () => {
    const held = vipHolders(twin, seen(['glance-internal']));
    expect(vipFindings(twin, held)).toEqual(['VIP glance-internal 10.112.8.225 is held by no node (outage); expected exactly one holder, a loadbalancer (twin0)']);
    expect(vrrpFindings(twin, vipHolders(twin, seen()), vrrp(instances((o) => (o === 'cinder' ? 'FAULT' : 'MASTER'))))).toEqual([
      'VIP cinder-public 10.112.4.230 is held by twin0, whose VRRP instance charmed-twin_cinder_vip_86 (keepalived pid 5) is FAULT; expected MASTER',
      'VIP cinder-internal 10.112.8.230 is held by twin0, whose VRRP instance charmed-twin_cinder_vip_86 (keepalived pid 5) is FAULT; expected MASTER',
    ]);
  });
});

describe('routes and the tunnel mesh', () => {
  const mgmt = primary.network('management');

  it('accepts the default route via the management gateway and connected routes of attached networks', () => {
    expect(routeFindings(primary, node('node3'), mgmt, [route('default', '192.168.105.1', 'lima0'), route('192.168.105.0/24', undefined, 'lima0'), route('10.0.3.0/24', undefined, 'lima1')])).toEqual([]);
  });

  it('names a missing or wrong default route and a route into an isolated network the node is not on', () => {
    expect(routeFindings(primary, node('node3'), mgmt, [])).toEqual(['node3 has no default route; expected one via 192.168.105.1 on lima0 (management network management)']);
    expect(routeFindings(primary, node('node3'), mgmt, [route('default', '10.0.3.1', 'lima1'), route('10.0.1.0/24', '192.168.105.1', 'lima0'), route('10.0.2.9', '192.168.105.1', 'lima0')])).toEqual([
      "node3's default route goes via 10.0.3.1 on lima1; expected every default route via 192.168.105.1 on lima0 (management network management)",
      'node3 has a route to 10.0.1.0/24 via 192.168.105.1 on lima0 into isolated network tunnel (10.0.1.0/24), which the spec does not attach node3 to',
      'node3 has a route to 10.0.2.9 via 192.168.105.1 on lima0 into isolated network external (10.0.2.0/24), which the spec does not attach node3 to',
    ]);
  });

  it('pairs every two tunnel nodes both ways', () => {
    expect(meshPairs(primary, 'tunnel').map((p) => `${p.from.name}>${p.toNic.address}`)).toEqual(['node1>10.0.1.102', 'node2>10.0.1.101']);
  });
});
