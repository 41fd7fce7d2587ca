/** OVN's southbound view of the chassis: which node registered, with which encapsulation IP and type. */
import { ovnSouthbound } from '../lab/defaults.ts';
import type { Lab, LabNode } from '../lab/model.ts';
import { inService } from './deployer.ts';
import { quote } from './quote.ts';
import type { NodeShell } from './ssh.ts';

export interface Encap {
  readonly chassis: string;
  readonly hostname: string;
  readonly ip: string;
  readonly type: string;
}

export interface Southbound {
  readonly node: LabNode;
  /** The connection, e.g. tcp:192.168.10.11:6642 or ssl:…:6642. */
  readonly db: string;
  /** ovn-sbctl's options for it: --db, and over SSL the client's key, certificate and CA. */
  readonly args: readonly string[];
}

/** Where the southbound DB listens: the first control node's API address, at the spec's scheme and port. */
export function southbound(lab: Lab): Southbound {
  const node = lab.nodesWithRole('control')[0];
  if (!node?.apiAddress) throw new Error(`lab ${lab.name}: no control node with an API address for the OVN southbound DB`);
  const sb = ovnSouthbound(lab);
  const db = `${sb.scheme}:${node.apiAddress}:${sb.port}`;
  return { node, db, args: [`--db=${db}`, ...(sb.ssl ? ['-p', sb.ssl.key, '-c', sb.ssl.cert, '-C', sb.ssl.ca] : [])] };
}

const rows = (out: string) => out.split('\n').filter(Boolean).map((l) => l.split(','));

export async function chassisEncaps(lab: Lab, shell: Pick<NodeShell, 'out'>, sb: Pick<Southbound, 'args'>): Promise<Encap[]> {
  const sbctl = (args: string) => shell.out(inService(lab, 'ovn-sbctl', `ovn-sbctl ${sb.args.map(quote).join(' ')} --timeout=10 --format=csv --data=bare --no-headings ${args}`));
  const [chassis, encaps] = await Promise.all([sbctl('--columns=name,hostname list Chassis'), sbctl('--columns=chassis_name,ip,type list Encap')]);
  const hostOf = new Map(rows(chassis).map(([name = '', hostname = '']) => [name, hostname]));
  return rows(encaps).map(([chassisName = '', ip = '', type = '']) => ({ chassis: chassisName, hostname: hostOf.get(chassisName) ?? '', ip, type }));
}

/** Every network and compute node registered once, encapsulating with the spec's type on its tunnel address. */
export function encapFindings(lab: Lab, seen: readonly Encap[]): string[] {
  const tunnel = lab.networks.find((n) => n.purpose.includes('tunnel'));
  const type = lab.spec.neutron?.tenantNetworkType;
  const findings: string[] = [];
  for (const node of lab.nodesWithRole('network', 'compute')) {
    const mine = seen.filter((e) => e.hostname === node.hostname || e.hostname.split('.')[0] === node.hostname);
    const want = tunnel ? node.addresses[tunnel.name] : undefined;
    if (mine.length === 0) {
      findings.push(`${node.name} is not registered as an OVN chassis (chassis seen: ${seen.map((e) => `${e.hostname} ${e.ip}`).join(', ') || 'none'})`);
      continue;
    }
    for (const e of mine) {
      if (want && e.ip !== want) findings.push(`chassis of ${node.name} encapsulates from ${e.ip}, expected its ${tunnel!.name} address ${want}`);
      if (type && type !== 'vlan' && type !== 'flat' && e.type !== type) findings.push(`chassis of ${node.name} uses ${e.type} encapsulation, the spec says ${type}`);
    }
  }
  return findings;
}
