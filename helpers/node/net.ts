/** What a node's kernel says about its interfaces, routes and forwarding, read over SSH; nothing is changed or sent. */
import type { Lab } from '../lab/model.ts';
import { inService } from './deployer.ts';
import { quote } from './quote.ts';
import type { NodeShell } from './ssh.ts';

export interface NodeAddress {
  readonly family: 'inet' | 'inet6';
  readonly address: string;
  readonly prefix: number;
  readonly scope: string | undefined;
}

export interface NodeLink {
  readonly name: string;
  readonly mtu: number;
  /** Administratively up (`ip link set … up`). */
  readonly adminUp: boolean;
  /** Has a carrier (LOWER_UP): the other end of the cable is there and up. */
  readonly carrier: boolean;
  readonly operstate: string | undefined;
  /** The bridge or OVS datapath the interface is enslaved to (`ovs-system` for an OVS port). */
  readonly master: string | undefined;
  readonly addresses: readonly NodeAddress[];
}

export interface NodeRoute {
  /** `default` or a CIDR; a host route comes back as a bare address. */
  readonly dst: string;
  readonly gateway: string | undefined;
  readonly dev: string | undefined;
  readonly metric: number;
  /** Gateways of a multipath route. */
  readonly nexthops: readonly { gateway?: string; dev?: string }[];
}

interface IpAddrJson {
  ifname: string;
  mtu: number;
  flags?: string[];
  operstate?: string;
  master?: string;
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

interface IpRouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  nexthops?: { gateway?: string; dev?: string }[];
}

function json<T>(shell: NodeShell, command: string, text: string): T[] {
  try {
    return text.trim() ? (JSON.parse(text) as T[]) : [];
  } catch (error) {
    throw new Error(`on ${shell.node.name}: \`${command}\` did not print JSON (${String(error)}): ${text.slice(0, 200)}`);
  }
}

/** Every interface of the node with its link state, MTU and addresses (`ip -j addr show`). */
export async function nodeLinks(shell: NodeShell): Promise<NodeLink[]> {
  const command = 'ip -j addr show';
  return json<IpAddrJson>(shell, command, await shell.out(command)).map((l) => ({
    name: l.ifname,
    mtu: l.mtu,
    adminUp: l.flags?.includes('UP') ?? false,
    carrier: l.flags?.includes('LOWER_UP') ?? false,
    operstate: l.operstate,
    master: l.master,
    addresses: (l.addr_info ?? [])
      .filter((a) => a.family === 'inet' || a.family === 'inet6')
      .map((a) => ({ family: a.family as 'inet' | 'inet6', address: a.local, prefix: a.prefixlen, scope: a.scope })),
  }));
}

export interface NodeRouting {
  /** The IPv4 main routing table (`ip -j -4 route show table main`). */
  readonly routes: readonly NodeRoute[];
  /** Whether the node forwards IPv4 between its interfaces (net.ipv4.ip_forward, read from /proc). */
  readonly forwarding: boolean;
}

/** The node's routing table and forwarding switch, in one round trip. */
export async function nodeRouting(shell: NodeShell): Promise<NodeRouting> {
  const command = "ip -j -4 route show table main && echo '#forward' && cat /proc/sys/net/ipv4/ip_forward";
  const [table = '', forward = ''] = (await shell.out(command)).split('#forward');
  const routes = json<IpRouteJson>(shell, command, table).map((r) => ({
    dst: r.dst,
    gateway: r.gateway,
    dev: r.dev,
    metric: r.metric ?? 0,
    nexthops: r.nexthops ?? [],
  }));
  return { routes, forwarding: forward.trim() === '1' };
}

export interface PingResult {
  readonly transmitted: number;
  readonly received: number;
  /** ping's complaint, if any (e.g. "connect: Network is unreachable"). */
  readonly said: string;
}

/**
 * Ping `address` from `shell`'s node, bound to interface `dev` (SO_BINDTODEVICE: the echo leaves through that
 * interface or not at all, never by another route). Bounded: an echo every 0.2 s until one is answered, 2 s at most.
 */
export async function pingOver(shell: NodeShell, dev: string, address: string): Promise<PingResult> {
  const r = await shell.run(`ping -n -q -c 1 -i 0.2 -w 2 -I ${quote(dev)} ${quote(address)}`);
  const m = r.stdout.match(/(\d+) packets transmitted, (\d+) (?:packets )?received/);
  const said = r.stderr.trim().split('\n').filter(Boolean).slice(-2).join(' | ');
  return { transmitted: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), said };
}

/** Bytes of IP and ICMP header in an echo request: the payload of a full-MTU don't-fragment probe is the MTU minus these. */
export const echoHeaderBytes = (address: string) => (address.includes(':') ? 48 : 28);

/**
 * A full-size echo: `payload` bytes with don't-fragment set (`ping -M do`), bound to `dev` like pingOver. A hop with a
 * smaller MTU drops it (or the sender refuses it: "message too long"); a small echo would still pass there.
 */
export async function pingDontFragment(shell: NodeShell, dev: string, address: string, payload: number): Promise<PingResult> {
  const r = await shell.run(`ping -n -q -c 2 -i 0.2 -w 2 -M do -s ${payload} -I ${dev} ${address}`);
  const m = r.stdout.match(/(\d+) packets transmitted, (\d+) (?:packets )?received/);
  const said = `${r.stderr}\n${r.stdout}`.split('\n').filter((l) => /too long|frag|mtu|unreachable/i.test(l)).slice(-2).join(' | ');
  return { transmitted: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), said };
}

export type OvsPort =
  | { readonly ovs: false; readonly why: string }
  | { readonly ovs: true; readonly bridge: string | undefined; readonly said: string };

/**
 * The OVS bridge an interface is a port of, through the deployer (Kolla: inside openvswitch_vswitchd). When the
 * node has no OVS — no ovs-vsctl, or an ovs-vsctl with no database socket on the node — says so instead of
 * guessing; a database that exists but does not answer is an answer (a broken OVS), not an absence.
 */
export async function ovsBridgeOfPort(lab: Lab, shell: NodeShell, port: string): Promise<OvsPort> {
  const probe = inService(lab, 'ovs-vsctl', 'ovs-vsctl --version');
  const query = inService(lab, 'ovs-vsctl', `ovs-vsctl --timeout=5 port-to-br ${quote(port)}`);
  // One round trip; exit 200 means "no ovs-vsctl here", anything else is port-to-br's own answer.
  const r = await shell.run(`if why=$(${probe} 2>&1 >/dev/null); then ${query}; else echo "$why" | head -n 1 >&2; exit 200; fi`);
  const said = (r.stderr || r.stdout).trim();
  if (r.code === 200) return { ovs: false, why: `no ovs-vsctl on ${shell.node.name} (${said || 'not found'})` };
  if (r.code !== 0 && /database connection failed \(No such file or directory\)/.test(said)) {
    return { ovs: false, why: `no OVS database on ${shell.node.name} (${said})` };
  }
  return { ovs: true, bridge: r.code === 0 ? r.stdout.trim() || undefined : undefined, said };
}

/** Local addresses of listening TCP sockets from `ss -Hltn` (column 4), e.g. 10.0.3.11:3260, *:3260, [::]:3260. */
export const listeningAddresses = (ssOutput: string): string[] =>
  ssOutput.split('\n').filter((l) => l.trim()).map((l) => l.trim().split(/\s+/)[3] ?? '');

/** A listener on every address of the node: it does not keep a service on the network the spec gives it. */
const WILDCARD = /^(0\.0\.0\.0|\*|\[::\]|::|\[::ffff:0\.0\.0\.0\])(%\S+)?:\d+$/;

/**
 * What is wrong with a service's listeners on one node: nothing on `want:port`, or a wildcard listener beside or
 * instead of it (the service is then reachable on every network of the node, not only the one the spec names).
 */
export function listenerFindings(what: string, want: string, port: number, listening: readonly string[]): string[] {
  const wanted = want.includes(':') ? `[${want}]:${port}` : `${want}:${port}`;
  const wildcards = listening.filter((a) => WILDCARD.test(a));
  const seen = listening.join(', ') || `nothing on ${port}`;
  const findings: string[] = [];
  if (!listening.includes(wanted)) findings.push(`no ${what} on ${wanted} (listening: ${seen})`);
  if (wildcards.length) findings.push(`${what} listens on ${wildcards.join(', ')}: every network of the node, not only ${want}`);
  return findings;
}
