/** What the spec says about the lab's DNS: its servers (where to ask), its zones, the catalog's names. */
import type { Lab, Vip } from '../lab/model.ts';

export interface DnsServer {
  readonly node: string;
  readonly role: 'primary' | 'secondary';
  /** Where queries go: the node's management address. */
  readonly address: string;
  /** Every address of the node (an NS record may name any of them). */
  readonly addresses: readonly string[];
}

/** For messages: "node1 (192.168.105.101)". */
export const serverName = (s: DnsServer) => `${s.node} (${s.address})`;

/** The spec's dns.servers, each with the address queries go to. A server without one is a spec error: throw. */
export function dnsServers(lab: Lab): DnsServer[] {
  return (lab.spec.dns?.servers ?? []).map((s) => {
    const node = lab.node(s.node);
    const address = node.managementAddress ?? node.apiAddress;
    if (!address) throw new Error(`lab ${lab.name}: DNS server ${s.node} has no management address to ask`);
    return { node: node.name, role: s.role ?? 'primary', address, addresses: Object.values(node.addresses) };
  });
}

/** The zones the lab's DNS is authoritative for: the lab domain, then every reverse zone of its records. */
export function labZones(lab: Lab): string[] {
  const domain = lab.spec.dns?.domain;
  if (!domain) return [];
  return [domain, ...new Set(lab.ptrRecords.map((p) => p.zone))];
}

/** One endpoint as a catalog publishes it (Keystone's catalog or the spec's expected catalog). */
export interface PublishedEndpoint {
  readonly service: string;
  readonly type: string;
  readonly interface: string;
  readonly url: string;
}

/** The catalog the spec expects, as published endpoints (until the check reads Keystone's own catalog). */
export function expectedEndpoints(lab: Lab): PublishedEndpoint[] {
  return lab.expectedCatalog.map((c) => ({
    service: c.service,
    type: c.type,
    interface: c.interface,
    url: `${c.scheme}://${c.host}:${c.port}`,
  }));
}

export interface CatalogName {
  readonly host: string;
  readonly interface: string;
  /** The VIP the name must resolve to, from the spec (the service's VIP for that interface, else the endpoint VIP). */
  readonly vip: Vip | undefined;
  /** The services published under this host name and interface, for messages. */
  readonly services: readonly string[];
}

/**
 * The host names a catalog publishes (IP literals are no names and are left out), one per host and interface,
 * each with the VIP the spec puts that interface on. Takes any catalog: the spec's expected one now, Keystone's
 * real one (service type, interface, URL) once the compute layer reads it.
 */
export function catalogNames(lab: Lab, endpoints: readonly PublishedEndpoint[]): CatalogName[] {
  const expected = lab.expectedCatalog;
  const byKey = new Map<string, CatalogName>();
  for (const e of endpoints) {
    const host = new URL(e.url).hostname.replace(/\.$/, '').toLowerCase();
    if (/^[\d.]+$/.test(host) || host.startsWith('[')) continue;
    const vipName =
      expected.find((x) => x.type === e.type && x.interface === e.interface)?.vip ??
      lab.spec.endpoints?.[e.interface as keyof NonNullable<typeof lab.spec.endpoints>];
    const key = `${host} ${e.interface}`;
    const prior = byKey.get(key);
    const vip = vipName ? lab.vips.find((v) => v.name === vipName) : undefined;
    byKey.set(key, { host, interface: e.interface, vip: prior?.vip ?? vip, services: [...new Set([...(prior?.services ?? []), e.service])] });
  }
  return [...byKey.values()];
}

