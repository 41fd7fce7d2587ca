/** A zone as one server serves it: its SOA and NS, with the header flags, and where its NS names point. */
import type { SoaData } from 'dns-packet';
import { lookupA, sameName, seen, type Lookup } from './resolve.ts';
import { serverName, type DnsServer } from './servers.ts';
import { ask, type Reply } from './wire.ts';

export interface ZoneAuthority {
  readonly server: DnsServer;
  readonly zone: string;
  /** Why the server gave no usable reply (timeout, refused connection); the other fields are then absent. */
  readonly error?: string;
  readonly soa?: { readonly rcode: string; readonly aa: boolean; readonly record: SoaData | undefined };
  readonly ns?: { readonly rcode: string; readonly aa: boolean; readonly names: readonly { name: string; a: Lookup }[] };
}

const soaOf = (r: Reply, zone: string) =>
  r.answers.find((a): a is Extract<typeof a, { type: 'SOA' }> => a.type === 'SOA' && sameName(a.name, zone))?.data;
const nsOf = (r: Reply, zone: string) =>
  r.answers.flatMap((a) => (a.type === 'NS' && sameName(a.name, zone) ? [a.data] : []));

/** Ask `server` for the SOA and NS of `zone` (no recursion wanted), and each NS name's A records there. */
export async function zoneAuthority(server: DnsServer, zone: string): Promise<ZoneAuthority> {
  try {
    const [soa, ns] = await Promise.all([
      ask(server.address, zone, 'SOA', { recursionDesired: false }),
      ask(server.address, zone, 'NS', { recursionDesired: false }),
    ]);
    const names = await Promise.all(nsOf(ns, zone).map(async (name) => ({ name, a: await lookupA(server.address, name) })));
    return {
      server,
      zone,
      soa: { rcode: soa.rcode, aa: soa.aa, record: soaOf(soa, zone) },
      ns: { rcode: ns.rcode, aa: ns.aa, names },
    };
  } catch (error) {
    return { server, zone, error: (error as Error).message };
  }
}

/**
 * What is wrong with the authority of the lab's zones: a server that does not answer, answers without AA, has
 * no SOA or NS; an NS name that does not resolve to a DNS server of the spec; a DNS server no NS names; an SOA
 * whose primary name is not among the NS names.
 */
export function authorityFindings(servers: readonly DnsServer[], seenZones: readonly ZoneAuthority[]): string[] {
  const out: string[] = [];
  for (const z of seenZones) {
    const at = `zone ${z.zone} at ${serverName(z.server)}`;
    if (z.error || !z.soa || !z.ns) {
      out.push(`${at}: no answer (${z.error ?? 'no reply'}), expected an authoritative SOA and NS`);
      continue;
    }
    if (!z.soa.aa || !z.ns.aa) out.push(`${at}: answer is not authoritative (AA clear, rcode ${z.soa.rcode}), expected AA set`);
    if (!z.soa.record) out.push(`${at}: no SOA record (rcode ${z.soa.rcode})`);
    if (z.ns.names.length === 0) out.push(`${at}: no NS records (rcode ${z.ns.rcode})`);
    const named = new Set<string>();
    for (const ns of z.ns.names) {
      const hits = servers.filter((s) => s.addresses.some((a) => ns.a.values.includes(a)));
      hits.forEach((s) => named.add(s.node));
      if (hits.length === 0) {
        out.push(`${at}: NS ${ns.name} resolves to ${seen(ns.a)}, which is no DNS server of the spec (${servers.map(serverName).join(', ')})`);
      }
    }
    if (z.ns.names.length > 0) {
      for (const s of servers.filter((x) => !named.has(x.node))) out.push(`${at}: no NS record names DNS server ${serverName(s)}`);
    }
    const mname = z.soa.record?.mname;
    if (mname && z.ns.names.length > 0 && !z.ns.names.some((n) => sameName(n.name, mname))) {
      out.push(`${at}: SOA primary ${mname} is not among its NS (${z.ns.names.map((n) => n.name).join(', ')})`);
    }
  }
  return out;
}

export interface ZoneSerial {
  readonly server: DnsServer;
  readonly zone: string;
  readonly serial: number | undefined;
  /** Why there is no serial: no reply, no SOA. */
  readonly error?: string;
}

/** The SOA serial of `zone` at `server` (asked without recursion). */
export async function zoneSerial(server: DnsServer, zone: string): Promise<ZoneSerial> {
  try {
    const reply = await ask(server.address, zone, 'SOA', { recursionDesired: false });
    const serial = soaOf(reply, zone)?.serial;
    return serial === undefined ? { server, zone, serial, error: `no SOA (rcode ${reply.rcode})` } : { server, zone, serial };
  } catch (error) {
    return { server, zone, serial: undefined, error: (error as Error).message };
  }
}

/** Secondaries whose serial of a zone is not the primary's (or that, or the primary, have none). */
export function serialMismatches(serials: readonly ZoneSerial[]): string[] {
  const out: string[] = [];
  const zones = [...new Set(serials.map((s) => s.zone))];
  for (const zone of zones) {
    const inZone = serials.filter((s) => s.zone === zone);
    const primary = inZone.find((s) => s.server.role === 'primary');
    if (!primary) {
      out.push(`zone ${zone}: no primary server to compare with`);
      continue;
    }
    if (primary.serial === undefined) {
      out.push(`zone ${zone} at primary ${serverName(primary.server)}: no serial (${primary.error ?? 'no SOA'})`);
      continue;
    }
    for (const s of inZone.filter((x) => x.server.role === 'secondary')) {
      const got = s.serial === undefined ? `no serial (${s.error ?? 'no SOA'})` : `serial ${s.serial}`;
      if (s.serial !== primary.serial) out.push(`zone ${zone} at secondary ${serverName(s.server)}: ${got}, expected the primary's serial ${primary.serial}`);
    }
  }
  return out;
}
