/**
 * Fault drills for the network layer: each breaks one wiring decision of the running embedded lab, from the lab
 * spec alone (no literal names or addresses), and puts it back. Every inject and revert is idempotent, and a
 * revert after a crash needs no memory of the inject: it restores what the spec says.
 */
import { assignedAddresses } from '../../../helpers/lab/addressing.ts';
import type { Lab, LabNode, Network, Nic } from '../../../helpers/lab/model.ts';
import { broadcastAddress, contains, fromInt, inRange, toInt } from '../../../helpers/net/ip.ts';
import { bridgeName, hostVethName, labPaths, netnsName, underlayName } from '../paths.ts';
import { run, sleep, tryRun } from '../sh.ts';
import type { Drill } from './drill.ts';

/** `ip …` inside a node. */
const ipIn = (lab: Lab, node: LabNode, args: readonly string[]) => run('ip', ['netns', 'exec', netnsName(lab, node), 'ip', ...args]);
const tryIpIn = (lab: Lab, node: LabNode, args: readonly string[]) => tryRun('ip', ['netns', 'exec', netnsName(lab, node), 'ip', ...args]);

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`drill cannot run on this lab: ${what}`);
  return value;
}

/** IPv4 addresses (CIDR form) on a node's interface. */
async function addressesOn(lab: Lab, node: LabNode, dev: string): Promise<string[]> {
  const { code, out } = await tryIpIn(lab, node, ['-j', '-4', 'addr', 'show', 'dev', dev]);
  if (code !== 0 || !out.trim()) return [];
  const [link] = JSON.parse(out) as { addr_info?: { local: string; prefixlen: number }[] }[];
  return (link?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
}

/** An address of the network nobody is given: not a node's, a VIP, the gateway, or in a DHCP or floating range. */
export function spareAddress(lab: Lab, net: Network): string {
  const taken = new Set(assignedAddresses(lab).map((a) => a.address));
  if (net.gateway) taken.add(net.gateway);
  const floating = lab.spec.neutron?.externalNetwork?.network === net.name ? lab.spec.neutron.externalNetwork.floatingRange : undefined;
  for (let v = toInt(broadcastAddress(net.cidr)) - 1; v > net.cidr.base; v--) {
    const a = fromInt(v);
    if (!taken.has(a) && !(net.dhcp && inRange(net.dhcp, a)) && !(floating && inRange(floating, a))) return a;
  }
  throw new Error(`network ${net.name} has no spare address for a drill`);
}

/** Forget where a VIP was: host and every node drop their ARP entry, so the real holder is asked again. */
async function flushNeighbours(lab: Lab, address: string): Promise<void> {
  await tryRun('ip', ['neigh', 'flush', 'to', address]);
  await Promise.all(lab.nodes.map((n) => tryIpIn(lab, n, ['neigh', 'flush', 'to', address])));
}

const nicOn = (node: LabNode, network: string) => node.nics.find((n) => n.network === network && n.use === 'address' && n.address);

// ------------------------------------------------------------------------------------------------- the drills

function externalPort(lab: Lab): { node: LabNode; nic: Nic } {
  const node = need(
    lab.nodes.find((n) => n.nics.some((nic) => nic.use === 'neutron-external')),
    'no node has a neutron-external interface',
  );
  return { node, nic: node.nics.find((nic) => nic.use === 'neutron-external')! };
}

const externalPortAddress: Drill = {
  name: 'net-external-port-address',
  description: "an IPv4 address on the node's Neutron external interface (the raw br-ex port)",
  decisions: ['IFC-03'],
  checks: ['net.external-interface-no-ip'],
  object: 'node1 eth3',
  async inject(lab) {
    const { node, nic } = externalPort(lab);
    const address = `${spareAddress(lab, lab.network(nic.network))}/32`;
    if (!(await addressesOn(lab, node, nic.name)).includes(address)) await ipIn(lab, node, ['addr', 'add', address, 'dev', nic.name]);
  },
  async revert(lab) {
    const { node, nic } = externalPort(lab);
    // The spec gives this interface no IPv4 address at all: whatever is there goes.
    await ipIn(lab, node, ['-4', 'addr', 'flush', 'dev', nic.name]);
  },
};

/** The first VIP with a node on its network that is no loadbalancer (keepalived never touches that node). */
function splitBrainTarget(lab: Lab) {
  for (const vip of lab.vips) {
    const node = lab.nodes.find((n) => !n.roles.includes('loadbalancer') && nicOn(n, vip.network));
    if (node) return { vip, node, nic: nicOn(node, vip.network)! };
  }
  throw new Error('drill cannot run on this lab: no VIP has a non-loadbalancer node on its network');
}

const vipSplitBrain: Drill = {
  name: 'net-vip-split-brain',
  description: 'a VIP also configured on a second node (not a loadbalancer) beside its keepalived holder',
  decisions: ['VIP-01'],
  checks: ['net.vip-single-holder', 'net.vip-vrrp-managed'],
  object: 'node2',
  async inject(lab) {
    const { vip, node, nic } = splitBrainTarget(lab);
    if (!(await addressesOn(lab, node, nic.name)).includes(`${vip.address}/32`)) await ipIn(lab, node, ['addr', 'add', `${vip.address}/32`, 'dev', nic.name]);
  },
  async revert(lab) {
    const { vip, node, nic } = splitBrainTarget(lab);
    for (const a of (await addressesOn(lab, node, nic.name)).filter((x) => x.startsWith(`${vip.address}/`))) {
      await ipIn(lab, node, ['addr', 'del', a, 'dev', nic.name]);
    }
    await flushNeighbours(lab, vip.address);
  },
};

const supervisorctl = (lab: Lab, args: readonly string[]) => tryRun('supervisorctl', ['-c', labPaths(lab.name).supervisorConf, ...args]);
const keepaliveds = (lab: Lab) => lab.nodesWithRole('loadbalancer').map((n) => `${n.name}-keepalived`);

const vipOutage: Drill = {
  name: 'net-vip-outage',
  description: 'keepalived stopped on every loadbalancer and the VIPs gone from every node',
  decisions: ['VIP-01', 'VIP-02', 'IFC-05'],
  checks: ['net.vip-single-holder', 'net.vip-vrrp-managed'],
  object: 'held by no node',
  async inject(lab) {
    await supervisorctl(lab, ['stop', ...keepaliveds(lab)]);
    for (const node of lab.nodes) {
      for (const nic of node.nics) {
        for (const a of await addressesOn(lab, node, nic.name)) {
          if (lab.vips.some((v) => a.startsWith(`${v.address}/`))) await tryIpIn(lab, node, ['addr', 'del', a, 'dev', nic.name]);
        }
      }
    }
  },
  revert: (lab) => startKeepalived(lab, keepaliveds(lab)),
};

/** Start keepalived and wait until every VIP is held again (it starts as BACKUP and takes over after three missed adverts). */
async function startKeepalived(lab: Lab, programs: readonly string[]): Promise<void> {
  const { out } = await supervisorctl(lab, ['start', ...programs]);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const held = new Set<string>();
    for (const node of lab.nodesWithRole('loadbalancer')) {
      const { out: addrs } = await tryIpIn(lab, node, ['-4', '-o', 'addr', 'show']);
      for (const v of lab.vips) if (addrs.includes(` ${v.address}/`)) held.add(v.address);
    }
    if (lab.vips.every((v) => held.has(v.address))) return;
    if (Date.now() > deadline) throw new Error(`VIPs not held 20 s after starting keepalived (supervisorctl said: ${out.trim()})`);
    await sleep(250);
  }
}

/** Where keepalived puts each VIP on a loadbalancer: the address with its network's prefix, on the VIP's interface. */
function vipPlaces(lab: Lab, node: LabNode): { address: string; dev: string }[] {
  return lab.vips.map((v) => ({
    address: `${v.address}/${lab.network(v.network).cidr.prefix}`,
    dev: need(v.interface ?? nicOn(node, v.network)?.name, `${node.name} has no interface for VIP ${v.name}`),
  }));
}

/** The loadbalancer that holds the first VIP now (else the first loadbalancer). */
async function vipHolder(lab: Lab): Promise<LabNode> {
  const lbs = lab.nodesWithRole('loadbalancer');
  for (const node of lbs) {
    const [first] = vipPlaces(lab, node);
    if (first && (await addressesOn(lab, node, first.dev)).includes(first.address)) return node;
  }
  return need(lbs[0], 'no loadbalancer');
}

const keepalivedDead: Drill = {
  name: 'net-keepalived-dead',
  description: 'keepalived gone from the VIP holder while the VIPs stay on its interfaces (nothing would move them on a failure)',
  decisions: ['VIP-01', 'VIP-02'],
  checks: ['net.vip-vrrp-managed'],
  object: 'node1',
  async inject(lab) {
    const node = await vipHolder(lab);
    // A clean stop takes the addresses away: put them back as keepalived had them, as a keepalived killed with -9 leaves them.
    await supervisorctl(lab, ['stop', `${node.name}-keepalived`]);
    for (const p of vipPlaces(lab, node)) if (!(await addressesOn(lab, node, p.dev)).includes(p.address)) await ipIn(lab, node, ['addr', 'add', p.address, 'dev', p.dev]);
  },
  async revert(lab) {
    for (const node of lab.nodesWithRole('loadbalancer')) {
      const { out } = await supervisorctl(lab, ['status', `${node.name}-keepalived`]);
      if (/RUNNING/.test(out)) continue;
      // keepalived adds the VIPs itself once MASTER; addresses left by the drill would let the wait pass too early.
      for (const p of vipPlaces(lab, node)) if ((await addressesOn(lab, node, p.dev)).includes(p.address)) await ipIn(lab, node, ['addr', 'del', p.address, 'dev', p.dev]);
      await startKeepalived(lab, [`${node.name}-keepalived`]);
    }
  },
};

function tunnelTarget(lab: Lab): { node: LabNode; nic: Nic } {
  const tunnel = need(lab.networkFor('tunnel'), 'no tunnel network');
  const node = need(lab.nodes.filter((n) => nicOn(n, tunnel.name)).at(-1), `no node has an address on ${tunnel.name}`);
  return { node, nic: nicOn(node, tunnel.name)! };
}

const tunnelLinkDown: Drill = {
  name: 'net-tunnel-link-down',
  description: "one node's tunnel link loses its carrier (the host end of its cable is down)",
  decisions: ['NET-03', 'NET-01'],
  checks: ['net.node-interfaces', 'net.tunnel-mesh', 'net.path-mtu'],
  object: 'node2',
  async inject(lab) {
    const { node, nic } = tunnelTarget(lab);
    await run('ip', ['link', 'set', hostVethName(lab, node, nic), 'down']);
  },
  async revert(lab) {
    const { node, nic } = tunnelTarget(lab);
    await run('ip', ['link', 'set', hostVethName(lab, node, nic), 'master', bridgeName(lab, nic.network), 'up']);
  },
};

/** The last node's last addressed interface off the management network (SSH keeps its MTU). */
function mtuTarget(lab: Lab): { node: LabNode; nic: Nic } {
  const mgmt = lab.networkFor('management')?.name;
  for (const node of [...lab.nodes].reverse()) {
    const nic = [...node.nics].reverse().find((n) => n.use === 'address' && n.network !== mgmt);
    if (nic) return { node, nic };
  }
  throw new Error('drill cannot run on this lab: no interface off the management network');
}

const wrongMtu: Drill = {
  name: 'net-wrong-mtu',
  description: 'an interface 100 bytes below the MTU the spec states',
  decisions: ['NET-01'],
  checks: ['net.node-interfaces', 'net.path-mtu'],
  object: 'node3 eth1',
  async inject(lab) {
    const { node, nic } = mtuTarget(lab);
    await ipIn(lab, node, ['link', 'set', nic.name, 'mtu', String(nic.mtu - 100)]);
  },
  async revert(lab) {
    const { node, nic } = mtuTarget(lab);
    await ipIn(lab, node, ['link', 'set', nic.name, 'mtu', String(nic.mtu)]);
  },
};

/** The interface under a node's tunnel NIC: the veth its OVS bridge sits on, or the NIC itself where it is a plain one. */
async function tunnelUnderlay(lab: Lab): Promise<{ node: LabNode; nic: Nic; dev: string }> {
  const { node, nic } = tunnelTarget(lab);
  const phy = underlayName(nic.name);
  const { code } = await tryIpIn(lab, node, ['link', 'show', 'dev', phy]);
  return { node, nic, dev: code === 0 ? phy : hostVethName(lab, node, nic) };
}

/** `ip link set <dev> mtu <mtu>` in the node, or on the host for the host end of its veth. */
async function setMtu(lab: Lab, node: LabNode, nic: Nic, dev: string, mtu: number): Promise<void> {
  if (dev === hostVethName(lab, node, nic)) await run('ip', ['link', 'set', dev, 'mtu', String(mtu)]);
  else await ipIn(lab, node, ['link', 'set', dev, 'mtu', String(mtu)]);
}

const tunnelUnderlayMtu: Drill = {
  name: 'net-tunnel-underlay-mtu',
  description: "the wire under one node's tunnel interface (the veth its bridge sits on) 100 bytes below the spec's MTU",
  decisions: ['NET-01', 'NET-03'],
  checks: ['net.path-mtu'],
  object: 'node2',
  async inject(lab) {
    const { node, nic, dev } = await tunnelUnderlay(lab);
    await setMtu(lab, node, nic, dev, nic.mtu - 100);
  },
  async revert(lab) {
    const { node, nic, dev } = await tunnelUnderlay(lab);
    await setMtu(lab, node, nic, dev, nic.mtu);
  },
};

/** The last node with an address on another network that has a gateway: the wrong way out. */
function routeTarget(lab: Lab) {
  const mgmt = need(lab.networkFor('management'), 'no management network');
  for (const node of [...lab.nodes].reverse()) {
    const own = nicOn(node, mgmt.name);
    const other = node.nics.find((n) => n.network !== mgmt.name && n.use === 'address' && n.address && lab.network(n.network).gateway);
    if (own && other && mgmt.gateway) return { node, mgmt, own, other, wrongGateway: lab.network(other.network).gateway! };
  }
  throw new Error('drill cannot run on this lab: no node with a second network that has a gateway');
}

const defaultRouteWrongGateway: Drill = {
  name: 'net-default-route-wrong-gateway',
  description: "a node's default route via another network's gateway instead of the management gateway",
  decisions: ['NET-02'],
  checks: ['net.routes'],
  object: 'node3',
  async inject(lab) {
    const { node, other, wrongGateway } = routeTarget(lab);
    await ipIn(lab, node, ['route', 'replace', 'default', 'via', wrongGateway, 'dev', other.name]);
  },
  async revert(lab) {
    const { node, mgmt, own } = routeTarget(lab);
    await ipIn(lab, node, ['route', 'replace', 'default', 'via', mgmt.gateway!, 'dev', own.name]);
  },
};

/** An isolated network and the first node the spec does not attach to it. */
function foreignTarget(lab: Lab): { net: Network; node: LabNode } {
  for (const net of lab.networks.filter((n) => n.isolated)) {
    const node = lab.nodes.find((n) => !n.nics.some((nic) => nic.network === net.name) && n.managementAddress);
    if (node) return { net, node };
  }
  throw new Error('drill cannot run on this lab: every node is on every isolated network');
}

const routeIntoIsolated: Drill = {
  name: 'net-route-into-isolated',
  description: 'a route on a node into an isolated network the spec does not attach it to (via the management gateway)',
  decisions: ['NET-02'],
  checks: ['net.routes'],
  object: 'node3',
  async inject(lab) {
    const { net, node } = foreignTarget(lab);
    const mgmt = need(lab.networkFor('management'), 'no management network');
    await ipIn(lab, node, ['route', 'replace', net.cidr.text, 'via', need(mgmt.gateway, 'no management gateway'), 'dev', nicOn(node, mgmt.name)!.name]);
  },
  async revert(lab) {
    const { net, node } = foreignTarget(lab);
    const { code, out } = await tryIpIn(lab, node, ['route', 'del', net.cidr.text]);
    if (code !== 0 && !/No such process|not found/i.test(out)) throw new Error(`cannot remove the drill's route: ${out}`);
  },
};

function nonRouter(lab: Lab): LabNode {
  return need([...lab.nodes].reverse().find((n) => !n.roles.includes('network')), 'every node has the network role');
}

const forwardingOn: Drill = {
  name: 'net-forwarding-on',
  description: 'IPv4 forwarding switched on in a node that is not a network node',
  decisions: ['NET-02'],
  checks: ['net.routes'],
  object: 'node3',
  async inject(lab) {
    await run('ip', ['netns', 'exec', netnsName(lab, nonRouter(lab)), 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  },
  async revert(lab) {
    await run('ip', ['netns', 'exec', netnsName(lab, nonRouter(lab)), 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']);
  },
};

/** An address of an isolated network on a node the spec does not attach to it. */
const addressOnForeignNetwork: Drill = {
  name: 'net-address-on-foreign-network',
  description: 'an address of an isolated network on a node the spec does not attach to it',
  decisions: ['NET-01'],
  checks: ['net.node-interfaces'],
  object: 'node3',
  async inject(lab) {
    const { net, node } = foreignTarget(lab);
    const dev = nicOn(node, need(lab.networkFor('management'), 'no management network').name)!.name;
    const address = `${spareAddress(lab, net)}/32`;
    if (!(await addressesOn(lab, node, dev)).includes(address)) await ipIn(lab, node, ['addr', 'add', address, 'dev', dev]);
  },
  async revert(lab) {
    const { net, node } = foreignTarget(lab);
    for (const nic of node.nics) {
      for (const a of await addressesOn(lab, node, nic.name)) {
        if (contains(net.cidr, a.split('/')[0]!)) await ipIn(lab, node, ['addr', 'del', a, 'dev', nic.name]);
      }
    }
  },
};

export const networkDrills: Drill[] = [
  externalPortAddress,
  vipSplitBrain,
  vipOutage,
  keepalivedDead,
  tunnelLinkDown,
  wrongMtu,
  tunnelUnderlayMtu,
  defaultRouteWrongGateway,
  routeIntoIsolated,
  forwardingOn,
  addressOnForeignNetwork,
];
