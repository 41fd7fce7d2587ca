/** Look names up at one chosen DNS server with Node's own resolver (c-ares), bounded in time. */
import { Resolver } from 'node:dns/promises';

/** What one lookup saw: the values (empty when none), or why there were none (ENOTFOUND, ENODATA, ETIMEOUT …). */
export interface Lookup {
  readonly values: readonly string[];
  readonly error?: string;
}

/** A lookup's result in a message: "192.168.105.102", "10.0.2.250, 192.168.105.250" or "nothing (ENOTFOUND)". */
export function seen(lookup: Lookup): string {
  if (lookup.values.length > 0) return lookup.values.join(', ');
  return `nothing (${lookup.error ?? 'empty answer'})`;
}

/** DNS names compare without case and without the root's trailing dot. */
export function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}

/** The A answer set each name must have: every record of the spec under that name (names compared as DNS does). */
export function expectedAnswers(records: readonly { name: string; address: string; what: string }[]): { name: string; addresses: string[]; what: string }[] {
  const byName = new Map<string, { name: string; addresses: string[]; what: string }>();
  for (const r of records) {
    const key = r.name.replace(/\.$/, '').toLowerCase();
    const prior = byName.get(key);
    if (!prior) byName.set(key, { name: r.name, addresses: [r.address], what: r.what });
    else if (!prior.addresses.includes(r.address)) byName.set(key, { ...prior, addresses: [...prior.addresses, r.address], what: `${prior.what}, ${r.what}` });
  }
  return [...byName.values()];
}

/** The same set of addresses, in any order and without duplicates counting. */
export const sameAnswer = (seenValues: readonly string[], expected: readonly string[]) =>
  new Set(seenValues).size === new Set(expected).size && expected.every((x) => seenValues.includes(x));

/** Per try; c-ares doubles it for its one retry. A lab server answers in milliseconds: one that does not costs ~1.5 s. */
export const LOOKUP_TIMEOUT_MS = 500;

/** A resolver that asks only `server` (one retry unless told), optionally from a chosen source address. */
export function resolverAt(server: string, options: { localAddress?: string; timeoutMs?: number; tries?: number } = {}): Resolver {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? LOOKUP_TIMEOUT_MS, tries: options.tries ?? 2 });
  resolver.setServers([server]);
  if (options.localAddress) resolver.setLocalAddress(options.localAddress);
  return resolver;
}

async function settle(query: Promise<string[]>): Promise<Lookup> {
  try {
    return { values: await query };
  } catch (error) {
    return { values: [], error: (error as NodeJS.ErrnoException).code ?? String(error) };
  }
}

/** The A records of `name` at `server`. */
export function lookupA(server: string, name: string): Promise<Lookup> {
  return settle(resolverAt(server).resolve4(name));
}

/** The PTR records of a reverse name (e.g. 101.105.168.192.in-addr.arpa) at `server`. */
export function lookupPtr(server: string, ptrName: string): Promise<Lookup> {
  return settle(resolverAt(server).resolvePtr(ptrName));
}
