/** Neutron as an operator reads it: its agents, the external network and its subnet, judged against the spec. */
import { contains, inRange, parseCidr } from '../net/ip.ts';
import type { Lab } from '../lab/model.ts';
import type { Cloud } from './cloud.ts';

export interface Agent {
  readonly agent_type: string;
  readonly host: string;
  readonly alive: boolean;
  readonly admin_state_up: boolean;
  readonly binary: string;
}

/** Agents of the ML2/OVS and DHCP/L3 world, which an OVN deployment must not run. */
const NOT_WITH_OVN = ['L3 agent', 'DHCP agent', 'Open vSwitch agent', 'Linux bridge agent', 'Metering agent'];
const OVN_CONTROLLER = ['OVN Controller agent', 'OVN Controller Gateway agent'];

export async function agents(cloud: Cloud): Promise<Agent[]> {
  return (await cloud.get<{ agents: Agent[] }>('network', '/v2.0/agents')).body.agents;
}

/** With the OVN backend: no L3/DHCP/OVS agents anywhere, an alive OVN controller on every network and compute node. */
export function ovnAgentFindings(lab: Lab, seen: readonly Agent[]): string[] {
  const findings = seen.filter((a) => NOT_WITH_OVN.includes(a.agent_type)).map((a) => `${a.agent_type} runs on ${a.host}: the OVN backend needs none`);
  for (const node of lab.nodesWithRole('network', 'compute')) {
    const mine = seen.filter((a) => OVN_CONTROLLER.includes(a.agent_type) && (a.host === node.hostname || a.host.split('.')[0] === node.hostname));
    if (mine.length === 0) findings.push(`${node.name} (${node.roles.filter((r) => r === 'network' || r === 'compute').join(', ')}) has no OVN controller agent (agents on: ${[...new Set(seen.map((a) => a.host))].join(', ') || 'no host'})`);
    for (const a of mine.filter((x) => !x.alive)) findings.push(`${a.agent_type} on ${node.name} is not alive`);
  }
  return findings;
}

interface ExternalNetwork {
  id: string;
  name: string;
  'router:external': boolean;
  'provider:physical_network'?: string | null;
  'provider:network_type'?: string;
  subnets: string[];
}

interface Subnet {
  id: string;
  cidr: string;
  gateway_ip: string | null;
  allocation_pools: { start: string; end: string }[];
}

export interface ExternalSeen {
  readonly network: ExternalNetwork | undefined;
  readonly subnets: Subnet[];
}

export async function externalNetwork(cloud: Cloud, name: string): Promise<ExternalSeen> {
  const nets = (await cloud.get<{ networks: ExternalNetwork[] }>('network', `/v2.0/networks?name=${encodeURIComponent(name)}`)).body.networks;
  const network = nets[0];
  if (!network) return { network: undefined, subnets: [] };
  const subnets = (await cloud.get<{ subnets: Subnet[] }>('network', `/v2.0/subnets?network_id=${network.id}`)).body.subnets;
  return { network, subnets };
}

/** The external network on the spec's physnet, its pools inside the floating range, clear of every VIP and gateway. */
export function externalNetworkFindings(lab: Lab, seen: ExternalSeen): string[] {
  const spec = lab.spec.neutron?.externalNetwork;
  const name = spec?.name ?? '?';
  const net = seen.network;
  if (!net) return [`external network "${name}" does not exist in Neutron`];
  const findings: string[] = [];
  if (!net['router:external']) findings.push(`network ${name} is not router:external`);
  const physnet = lab.spec.neutron?.physnet;
  if (physnet && net['provider:physical_network'] !== physnet) findings.push(`network ${name} is on physnet ${net['provider:physical_network'] ?? 'none'}, the spec says ${physnet}`);
  const labNet = spec?.network ? lab.networks.find((n) => n.name === spec.network) : undefined;
  if (seen.subnets.length === 0) findings.push(`network ${name} has no subnet`);
  const taken = [
    ...lab.vips.map((v) => ({ what: `VIP ${v.name}`, address: v.address })),
    ...lab.networks.flatMap((n) => (n.gateway ? [{ what: `gateway of ${n.name}`, address: n.gateway }] : [])),
  ];
  for (const s of seen.subnets) {
    if (labNet && !contains(labNet.cidr, s.cidr.split('/')[0]!)) findings.push(`subnet ${s.cidr} of ${name} is not on the ${labNet.name} network`);
    for (const pool of s.allocation_pools) {
      if (spec?.floatingRange && (!inRange(spec.floatingRange, pool.start) || !inRange(spec.floatingRange, pool.end))) {
        findings.push(`allocation pool ${pool.start}–${pool.end} of ${name} reaches outside the floating range ${spec.floatingRange.start}–${spec.floatingRange.end}`);
      }
      for (const t of taken) if (contains(parseCidr(s.cidr), t.address) && inRange(pool, t.address)) findings.push(`allocation pool ${pool.start}–${pool.end} of ${name} includes ${t.what} ${t.address}`);
    }
  }
  return findings;
}
