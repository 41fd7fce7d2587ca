/** OVN's southbound view of the chassis: which node registered, with which encapsulation IP and type. */
import { guestSsh, ovnSouthbound } from '../lab/defaults.ts';
import type { Lab, LabNode } from '../lab/model.ts';
import { inService } from './deployer.ts';
import { quote, shellLine } from './quote.ts';
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

/** ovn-*ctl's CSV rows: fields split on commas outside double quotes, the quotes ("" inside) undone. */
const rows = (out: string) =>
  out.split('\n').filter(Boolean).map((l) => [...l.matchAll(/(?:^|,)("(?:[^"]|"")*"|[^,]*)/g)].map((m) => m[1]!.replace(/^"(.*)"$/s, '$1').replace(/""/g, '"')));

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

/**
 * Where the northbound DB listens: beside the southbound one, on OVN's northbound port (6641), as Kolla and the
 * embedded lab run it.
 */
export function northbound(lab: Lab): { node: LabNode; db: string } {
  const sb = southbound(lab);
  return { node: sb.node, db: sb.db.replace(/:6642$/, ':6641') };
}

/** What Neutron wrote into OVN's northbound DB for one tenant network, port and security group. */
export interface NorthboundTenant {
  /** The logical switch `neutron-<network id>`, when there is one. */
  readonly logicalSwitch: { readonly name: string; readonly otherConfig: string; readonly ports: readonly string[] } | undefined;
  /** The logical switch port named by the Neutron port's ID: its row UUID, addresses and port security. */
  readonly port: { readonly uuid: string; readonly addresses: string; readonly portSecurity: string } | undefined;
  /** The port group `pg_<security group id>`: its member ports (row UUIDs) and its ACLs as `ovn-nbctl acl-list` prints them. */
  readonly portGroup: { readonly name: string; readonly ports: readonly string[]; readonly acls: readonly string[] } | undefined;
}

/** The port group name Neutron's OVN driver gives a security group. */
export const portGroupName = (securityGroupId: string) => `pg_${securityGroupId.replace(/-/g, '_')}`;

export async function northboundTenant(
  lab: Lab,
  shell: Pick<NodeShell, 'out'>,
  db: string,
  ids: { network: string; port: string; securityGroup: string },
): Promise<NorthboundTenant> {
  const nbctl = (args: string) => shell.out(inService(lab, 'ovn-nbctl', `ovn-nbctl --db=${db} --timeout=10 ${args}`));
  const csv = (args: string) => nbctl(`--format=csv --data=bare --no-headings ${args}`);
  const pg = portGroupName(ids.securityGroup);
  const [ls, lsp, group] = await Promise.all([
    csv(`--columns=name,other_config,ports find Logical_Switch name=neutron-${ids.network}`),
    csv(`--columns=_uuid,addresses,port_security find Logical_Switch_Port name=${ids.port}`),
    csv(`--columns=name,ports find Port_Group name=${pg}`),
  ]);
  const [lsRow] = rows(ls);
  const [lspRow] = rows(lsp);
  const [pgRow] = rows(group);
  const acls = pgRow ? (await nbctl(`acl-list ${pg}`)).split('\n').map((l) => l.trim()).filter(Boolean) : [];
  return {
    logicalSwitch: lsRow ? { name: lsRow[0]!, otherConfig: lsRow[1] ?? '', ports: (lsRow[2] ?? '').split(/\s+/).filter(Boolean) } : undefined,
    port: lspRow ? { uuid: lspRow[0]!, addresses: lspRow[1] ?? '', portSecurity: lspRow[2] ?? '' } : undefined,
    portGroup: pgRow ? { name: pgRow[0]!, ports: (pgRow[1] ?? '').split(/\s+/).filter(Boolean), acls } : undefined,
  };
}

/** The Neutron objects of a tenant network as Neutron returned them. */
export interface NeutronTenant {
  readonly network: { id: string; name: string; 'provider:network_type'?: string; 'provider:segmentation_id'?: number | null };
  readonly subnet: { id: string; cidr: string; allocation_pools?: { start: string; end: string }[] };
  readonly port: { id: string; name: string; mac_address: string; fixed_ips: { subnet_id: string; ip_address: string }[]; security_groups: string[]; port_security_enabled?: boolean };
  readonly group: { id: string; name: string };
}

/** ACL matches Neutron's OVN driver writes for an ingress rule (to-lport, allow-related). */
const ingressAcl = (acls: readonly string[], match: RegExp) => acls.some((a) => /^to-lport\b/.test(a) && /allow-related$/.test(a) && match.test(a));

/**
 * What Neutron made of the tenant objects, against the spec and against OVN's northbound DB: the segment type and ID,
 * the logical switch of the network, the port on it with Neutron's MAC and address as its port security, and the
 * security group as a port group holding the port with an ingress ACL for SSH and ICMP.
 */
export function northboundFindings(lab: Lab, n: NeutronTenant, nb: NorthboundTenant, inPool: (ip: string) => boolean): string[] {
  const out: string[] = [];
  const type = lab.spec.neutron?.tenantNetworkType;
  const seenType = n.network['provider:network_type'];
  if (type && seenType !== type) out.push(`network ${n.network.name} is ${seenType ?? 'of unknown type'}, the spec says ${type}`);
  const segment = n.network['provider:segmentation_id'];
  if (seenType && seenType !== 'flat' && seenType !== 'local' && !(typeof segment === 'number' && segment > 0)) {
    out.push(`network ${n.network.name} (${seenType}) has no segmentation ID (${segment ?? 'none'})`);
  }
  const ip = n.port.fixed_ips.find((f) => f.subnet_id === n.subnet.id)?.ip_address;
  if (!ip) out.push(`port ${n.port.name} has no address on subnet ${n.subnet.cidr}`);
  else if (!inPool(ip)) out.push(`port ${n.port.name} got ${ip}, outside the allocation pools of subnet ${n.subnet.cidr}`);
  if (!n.port.security_groups.includes(n.group.id)) out.push(`port ${n.port.name} is not in security group ${n.group.name} (its groups: ${n.port.security_groups.join(', ') || 'none'})`);
  const ls = `neutron-${n.network.id}`;
  if (!nb.logicalSwitch) {
    out.push(`OVN's northbound DB has no logical switch ${ls} for network ${n.network.name}`);
  } else if (!nb.port || !nb.logicalSwitch.ports.includes(nb.port.uuid)) {
    out.push(`logical switch ${ls} has no port ${n.port.id} (port ${n.port.name})${nb.port ? '' : ': OVN has no such logical switch port'}`);
  }
  if (nb.port) {
    const want = [n.port.mac_address, ...(ip ? [ip] : [])];
    if (!want.every((w) => nb.port!.addresses.split(/\s+/).includes(w))) out.push(`OVN port ${n.port.id} has addresses "${nb.port.addresses}", Neutron gave it ${want.join(' ')}`);
    if (n.port.port_security_enabled !== false && !want.every((w) => nb.port!.portSecurity.split(/\s+/).includes(w))) {
      out.push(`OVN port ${n.port.id} has port security "${nb.port.portSecurity}", expected ${want.join(' ')}`);
    }
  }
  const pg = portGroupName(n.group.id);
  if (!nb.portGroup) {
    out.push(`OVN's northbound DB has no port group ${pg} for security group ${n.group.name}`);
    return out;
  }
  if (nb.port && !nb.portGroup.ports.includes(nb.port.uuid)) out.push(`port group ${pg} (security group ${n.group.name}) does not hold port ${n.port.id}`);
  const ssh = guestSsh(lab).port;
  const sshAcl = new RegExp(`tcp\\.dst == ${ssh}\\b|tcp\\.dst >= \\d+ && tcp\\.dst <= \\d+`);
  if (!ingressAcl(nb.portGroup.acls, sshAcl)) out.push(`port group ${pg} (security group ${n.group.name}) has no ingress ACL allowing tcp/${ssh}`);
  if (!ingressAcl(nb.portGroup.acls, /\bicmp4\b/)) out.push(`port group ${pg} (security group ${n.group.name}) has no ingress ACL allowing icmp4`);
  return out;
}

/** ovn-nbctl's options for the northbound DB: as the southbound's (SSL files too), on the northbound port. */
export function northboundArgs(lab: Lab): string[] {
  const nb = northbound(lab);
  return southbound(lab).args.map((a) => (a.startsWith('--db=') ? `--db=${nb.db}` : a));
}

/** A DHCP_Options row of OVN's northbound DB: the options OVN's DHCP answers with, and whose they are. */
export interface DhcpOptions {
  readonly cidr: string;
  readonly options: Readonly<Record<string, string>>;
  /** subnet_id, and port_id on a row a port's extra DHCP options made. */
  readonly externalIds: Readonly<Record<string, string>>;
}

type OvsdbDatum = string | number | boolean | ['map', [string, string][]] | ['set', unknown[]] | ['uuid', string];

/** `ovn-nbctl --format=json --columns=cidr,options,external_ids list|find DHCP_Options` as rows. */
export function parseDhcpOptions(json: string): DhcpOptions[] {
  const table = JSON.parse(json) as { headings: string[]; data: OvsdbDatum[][] };
  const map = (d: OvsdbDatum | undefined) => (Array.isArray(d) && d[0] === 'map' ? Object.fromEntries(d[1]) : {});
  const at = (row: OvsdbDatum[], column: string) => row[table.headings.indexOf(column)];
  return table.data.map((row) => ({
    cidr: String(at(row, 'cidr') ?? ''),
    options: map(at(row, 'options')),
    externalIds: map(at(row, 'external_ids')),
  }));
}

/** The DHCP_Options rows Neutron's OVN driver keeps for one subnet (external_ids:subnet_id). */
export async function subnetDhcpOptions(lab: Lab, shell: Pick<NodeShell, 'out'>, subnetId: string): Promise<DhcpOptions[]> {
  const args = [...northboundArgs(lab), '--timeout=10', '--format=json', '--columns=cidr,options,external_ids'];
  const command = `ovn-nbctl ${shellLine([...args, 'find', 'DHCP_Options', `external_ids:subnet_id=${subnetId}`])}`;
  return parseDhcpOptions(await shell.out(inService(lab, 'ovn-nbctl', command)));
}
