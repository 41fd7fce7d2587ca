/**
 * Whether a DNS server offers recursion to a client, seen from this host with a source address on one lab network
 * at a time. Read from the RA flag of a reply about the lab domain: no name outside the lab is ever resolved.
 */
import { networkInterfaces } from 'node:os';
import { contains } from '../net/ip.ts';
import type { Lab } from '../lab/model.ts';
import { serverName, type DnsServer } from './servers.ts';
import { ask } from './wire.ts';

export interface Vantage {
  readonly network: string;
  /** This host's address on the network, or undefined when it has none (the network cannot be tested from here). */
  readonly address: string | undefined;
  /** The spec allows recursion for clients on this network. */
  readonly allowed: boolean;
}

/** This host's IPv4 addresses. */
export function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address));
}

/** For each lab network: the address this host can speak from there, and whether the spec allows recursion there. */
export function vantages(lab: Lab, addresses: readonly string[]): Vantage[] {
  const recursion = new Set(lab.spec.dns?.recursion ?? []);
  return lab.networks.map((n) => ({ network: n.name, address: addresses.find((a) => contains(n.cidr, a)), allowed: recursion.has(n.name) }));
}

/** Networks whose side of the policy (allowed, refused) this host cannot test, when that side has networks. */
export function untestableSides(all: readonly Vantage[]): string[] {
  const out: string[] = [];
  for (const allowed of [true, false]) {
    const side = all.filter((v) => v.allowed === allowed);
    if (side.length > 0 && side.every((v) => !v.address)) {
      out.push(
        `recursion ${allowed ? 'offered' : 'refused'} cannot be tested: this host has no address on network ${side.map((v) => v.network).join(', ')}`,
      );
    }
  }
  return out;
}

export interface RecursionSeen {
  readonly server: DnsServer;
  readonly client: Vantage & { address: string };
  /** RA of the reply; undefined when there was none. */
  readonly offered: boolean | undefined;
  readonly error?: string;
}

/** Ask `server` about the lab domain with RD set, from `client`'s address, and read RA. */
export async function recursionOffered(server: DnsServer, client: Vantage & { address: string }, domain: string): Promise<RecursionSeen> {
  try {
    const reply = await ask(server.address, domain, 'SOA', { localAddress: client.address });
    return { server, client, offered: reply.ra };
  } catch (error) {
    return { server, client, offered: undefined, error: (error as Error).message };
  }
}

/** Replies whose RA does not follow the spec's recursion networks, and servers that did not reply. */
export function recursionFindings(seen: readonly RecursionSeen[]): string[] {
  return seen.flatMap((s) => {
    const who = `client ${s.client.address} on network ${s.client.network} (recursion ${s.client.allowed ? 'allowed' : 'not allowed'} by the spec)`;
    if (s.offered === undefined) return [`${serverName(s.server)} gave ${who} no answer (${s.error ?? 'no reply'})`];
    if (s.offered === s.client.allowed) return [];
    return [`${serverName(s.server)} ${s.offered ? 'offers' : 'refuses'} recursion to ${who}: RA ${s.offered ? 'set' : 'clear'}, expected ${s.client.allowed ? 'set' : 'clear'}`];
  });
}
