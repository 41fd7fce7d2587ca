/** The lab's L2/L3 topology on the host: a namespace per node, a bridge per network, veth pairs between them. */
import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import type { Lab } from '../../helpers/lab/model.ts';
import { bridgeName, hostVethName, netnsName } from './paths.ts';
import { run, sleep, tryRun } from './sh.ts';

export interface BridgePlan {
  readonly name: string;
  readonly network: string;
  readonly mtu: number;
  /** The network's gateway on the host side, CIDR form, so the host reaches the lab over a connected route. */
  readonly address: string | undefined;
}

export interface VethPlan {
  readonly host: string;
  readonly ns: string;
  readonly node: string;
  readonly nic: string;
  readonly bridge: string;
  readonly mtu: number;
  /** CIDR-form addresses the namespace end carries (none for use: vip and use: neutron-external). */
  readonly addresses: readonly string[];
  readonly use: string;
}

export interface TopologyPlan {
  /** The lab the bridges belong to: written as each bridge's alias, so another lab's `up` cannot take them over. */
  readonly lab: string;
  readonly namespaces: readonly { name: string; node: string; defaultVia?: { gateway: string; dev: string } }[];
  readonly bridges: readonly BridgePlan[];
  readonly veths: readonly VethPlan[];
  /** Addresses that may appear on a node's interfaces besides its own (VIPs, held by keepalived). */
  readonly vipAddresses: readonly string[];
}

/** Derive the topology from the lab spec alone. */
export function planTopology(lab: Lab): TopologyPlan {
  const mgmt = lab.networkFor('management') ?? lab.networkFor('api');
  const bridges = lab.networks.map((n) => ({
    name: bridgeName(lab, n.name),
    network: n.name,
    mtu: n.mtu,
    address: n.gateway ? `${n.gateway}/${n.cidr.prefix}` : undefined,
  }));
  const veths: VethPlan[] = [];
  const namespaces = lab.nodes.map((node) => {
    const ns = netnsName(lab, node);
    for (const nic of node.nics) {
      veths.push({
        host: hostVethName(lab, node, nic),
        ns,
        node: node.name,
        nic: nic.name,
        bridge: bridgeName(lab, nic.network),
        mtu: nic.mtu,
        addresses: nic.use === 'address' && nic.address ? [`${nic.address}/${nic.prefix}`] : [],
        use: nic.use,
      });
    }
    const gwNic = mgmt?.gateway ? node.nics.find((n) => n.network === mgmt.name && n.use === 'address' && n.address) : undefined;
    return { name: ns, node: node.name, ...(gwNic && mgmt?.gateway ? { defaultVia: { gateway: mgmt.gateway, dev: gwNic.name } } : {}) };
  });
  const names = [...bridges.map((b) => b.name), ...veths.map((v) => v.host)];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`lab ${lab.name}: host interface name ${dup} would be used twice`);
  return { lab: lab.name, namespaces, bridges, veths, vipAddresses: lab.vips.map((v) => v.address) };
}

interface IpLink {
  ifname: string;
  master?: string;
  mtu: number;
  operstate?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string };
  ifalias?: string;
}
interface IpAddr extends IpLink {
  addr_info: { family: string; local: string; prefixlen: number }[];
}

const ip = (args: string[]) => run('ip', args);
const ALIAS = 'stackgate lab ';
async function ipJson<T>(args: string[]): Promise<T[]> {
  const out = await run('ip', ['-j', ...args]);
  return out.trim() ? (JSON.parse(out) as T[]) : [];
}

function writeProc(path: string, value: string) {
  if (existsSync(path) && readFileSync(path, 'utf8').trim() !== value) writeFileSync(path, value);
}

export async function listNetns(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out.split('\n').map((l) => l.trim().split(/\s+/)[0]!).filter(Boolean);
}

/** Bring the topology to the plan; only what differs is changed. Returns a short summary. */
export async function applyTopology(plan: TopologyPlan): Promise<string> {
  const links = new Map((await ipJson<IpAddr>(['-d', 'addr', 'show'])).map((l) => [l.ifname, l]));
  let changes = await applyBridges(plan, links);
  const existing = new Set(await listNetns());
  for (const ns of plan.namespaces) {
    if (!existing.has(ns.name)) {
      await ip(['netns', 'add', ns.name]);
      changes++;
    }
    await run('ip', ['netns', 'exec', ns.name, 'sysctl', '-q', '-w',
      'net.ipv4.ip_nonlocal_bind=1', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2',
      'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv4.ip_forward=0']);
  }
  for (const ns of plan.namespaces) changes += await applyNode(plan, ns, links);
  return changes === 0 ? 'unchanged' : `${changes} change${changes === 1 ? '' : 's'}`;
}

async function applyBridges(plan: TopologyPlan, links: ReadonlyMap<string, IpAddr>): Promise<number> {
  let changes = 0;
  for (const b of plan.bridges) {
    let link = links.get(b.name);
    if (link && link.linkinfo?.info_kind !== 'bridge') throw new Error(`${b.name} exists on the host and is not a bridge`);
    const owner = link?.ifalias?.startsWith(ALIAS) ? link.ifalias.slice(ALIAS.length) : undefined;
    if (owner && owner !== plan.lab) {
      throw new Error(`bridge ${b.name} belongs to lab ${owner}, which is up on this host: take it down first (npm run lab -- down --lab ${owner})`);
    }
    if (!link) {
      await ip(['link', 'add', 'name', b.name, 'mtu', String(b.mtu), 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
      changes++;
    }
    if (owner !== plan.lab) await ip(['link', 'set', b.name, 'alias', `${ALIAS}${plan.lab}`]);
    // Never route between lab networks, nor from the lab to the world: packets arriving on a lab bridge are not forwarded.
    writeProc(`/proc/sys/net/ipv4/conf/${b.name}/forwarding`, '0');
    writeProc(`/proc/sys/net/ipv6/conf/${b.name}/disable_ipv6`, '1');
    if (!link || link.mtu !== b.mtu) await ip(['link', 'set', b.name, 'mtu', String(b.mtu)]);
    if (!link?.flags?.includes('UP')) {
      await ip(['link', 'set', b.name, 'up']);
      changes++;
    }
    link = link ?? (await ipJson<IpAddr>(['addr', 'show', 'dev', b.name]))[0];
    const have = (link?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
    if (b.address && !have.includes(b.address)) {
      await ip(['addr', 'add', b.address, 'dev', b.name]);
      changes++;
    }
  }
  return changes;
}

/** A node's loopback, veths (created, bridged, addressed as planned) and default route. */
async function applyNode(plan: TopologyPlan, ns: TopologyPlan['namespaces'][number], links: ReadonlyMap<string, IpAddr>): Promise<number> {
  let changes = 0;
  const inside = new Map((await ipJson<IpAddr>(['-n', ns.name, 'addr', 'show'])).map((l) => [l.ifname, l]));
  if (!inside.get('lo')?.flags?.includes('UP')) await ip(['-n', ns.name, 'link', 'set', 'lo', 'up']);
  for (const v of plan.veths.filter((x) => x.ns === ns.name)) {
    let nic = inside.get(v.nic);
    const hostEnd = links.get(v.host);
    if (!hostEnd || !nic) {
      if (hostEnd) await ip(['link', 'del', v.host]);
      if (nic) await ip(['-n', ns.name, 'link', 'del', v.nic]);
      await ip(['link', 'add', v.host, 'mtu', String(v.mtu), 'type', 'veth', 'peer', 'name', v.nic, 'mtu', String(v.mtu), 'netns', ns.name]);
      writeProc(`/proc/sys/net/ipv6/conf/${v.host}/disable_ipv6`, '1');
      changes++;
      nic = undefined;
    }
    if (!hostEnd || hostEnd.master !== v.bridge || !hostEnd.flags?.includes('UP')) {
      await ip(['link', 'set', v.host, 'master', v.bridge, 'up']);
      changes++;
    }
    if (!nic || !nic.flags?.includes('UP') || nic.mtu !== v.mtu) {
      await ip(['-n', ns.name, 'link', 'set', v.nic, 'mtu', String(v.mtu), 'up']);
    }
    const have = (nic?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
    for (const a of v.addresses) {
      if (!have.includes(a)) {
        await ip(['-n', ns.name, 'addr', 'add', a, 'dev', v.nic]);
        changes++;
      }
    }
    // Anything else on the interface is not the design's (a VIP is keepalived's business).
    for (const a of have) {
      if (!v.addresses.includes(a) && !plan.vipAddresses.includes(a.split('/')[0]!)) {
        await ip(['-n', ns.name, 'addr', 'del', a, 'dev', v.nic]);
        changes++;
      }
    }
  }
  if (ns.defaultVia) {
    const routes = await ipJson<{ dst: string; gateway?: string; dev?: string }>(['-n', ns.name, 'route', 'show', 'default']);
    if (!routes.some((r) => r.gateway === ns.defaultVia!.gateway && r.dev === ns.defaultVia!.dev)) {
      await ip(['-n', ns.name, 'route', 'replace', 'default', 'via', ns.defaultVia.gateway, 'dev', ns.defaultVia.dev]);
      changes++;
    }
  }
  return changes;
}

/** Kill what still runs inside a namespace (by pid), then remove veths, namespaces, bridges and /etc/netns files. */
export async function destroyTopology(plan: TopologyPlan): Promise<string> {
  // Another lab with the same network and node names shares bridge and veth names: leave its topology alone.
  for (const l of await ipJson<IpLink>(['link', 'show', 'type', 'bridge'])) {
    const owner = l.ifalias?.startsWith(ALIAS) ? l.ifalias.slice(ALIAS.length) : undefined;
    if (owner && owner !== plan.lab && plan.bridges.some((b) => b.name === l.ifname)) {
      throw new Error(`bridge ${l.ifname} belongs to lab ${owner}, not ${plan.lab}: lab ${plan.lab} is not up here, nothing removed`);
    }
  }
  const existing = new Set(await listNetns());
  let removed = 0;
  for (const ns of plan.namespaces.filter((n) => existing.has(n.name))) {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const pids = (await tryRun('ip', ['netns', 'pids', ns.name])).out.split(/\s+/).filter(Boolean).map(Number);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, signal);
        } catch {
          /* already gone */
        }
      }
      await sleep(1000);
    }
  }
  const links = new Set((await ipJson<IpLink>(['link', 'show'])).map((l) => l.ifname));
  for (const v of plan.veths) {
    if (links.has(v.host)) {
      await ip(['link', 'del', v.host]);
      removed++;
    }
  }
  for (const ns of plan.namespaces) {
    if (existing.has(ns.name)) {
      await ip(['netns', 'del', ns.name]);
      removed++;
    }
    rmSync(`/etc/netns/${ns.name}`, { recursive: true, force: true });
  }
  for (const b of plan.bridges) {
    if (links.has(b.name)) {
      await ip(['link', 'del', b.name]);
      removed++;
    }
  }
  // `ip netns add` bind-mounts /run/netns onto itself; when no namespace is left, take that mount away too.
  if (existsSync('/run/netns') && readdirSync('/run/netns').length === 0) {
    if (readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === '/run/netns')) await tryRun('umount', ['/run/netns']);
    rmdirSync('/run/netns');
  }
  if (existsSync('/etc/netns') && readdirSync('/etc/netns').length === 0) rmdirSync('/etc/netns');
  return `${removed} removed`;
}

export interface TopologyState {
  readonly namespaces: Record<string, boolean>;
  readonly bridges: Record<string, boolean>;
  readonly veths: Record<string, boolean>;
  /**
   * Each bridge forwards nothing it receives (IPv4 forwarding 0, IPv6 off). Writing net.ipv4.ip_forward=1 on the host
   * (a container engine starting) sets every interface's forwarding to 1: the lab's packets would then leave the machine.
   */
  readonly isolated: Record<string, boolean>;
}

/** What the host's /proc says a lab bridge does with what it receives: isolated when it forwards nothing. */
export function bridgeIsolated(bridge: string): boolean {
  const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined);
  return read(`/proc/sys/net/ipv4/conf/${bridge}/forwarding`) === '0' && read(`/proc/sys/net/ipv6/conf/${bridge}/disable_ipv6`) !== '0';
}

export async function topologyState(plan: TopologyPlan): Promise<TopologyState> {
  const ns = new Set(await listNetns());
  const links = new Map((await ipJson<IpLink>(['link', 'show'])).map((l) => [l.ifname, l]));
  return {
    namespaces: Object.fromEntries(plan.namespaces.map((n) => [n.name, ns.has(n.name)])),
    bridges: Object.fromEntries(plan.bridges.map((b) => [b.name, !!links.get(b.name)?.flags?.includes('UP')])),
    veths: Object.fromEntries(plan.veths.map((v) => [v.host, links.get(v.host)?.master === v.bridge])),
    isolated: Object.fromEntries(plan.bridges.map((b) => [b.name, links.has(b.name) && bridgeIsolated(b.name)])),
  };
}
