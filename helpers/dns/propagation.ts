/**
 * A change on the primary DNS server reaching every secondary (NOTIFY, then a transfer): a TXT record of the run
 * added with nsupdate on the primary node (to its own loopback, the only address the lab takes updates from), then
 * asked of each secondary until it answers or the bound passes; removed the same way afterwards.
 */
import { shellLine } from '../node/quote.ts';
import type { NodeShell } from '../node/ssh.ts';
import { resolverAt } from './resolve.ts';
import { serverName, type DnsServer } from './servers.ts';

export const DEFAULT_PROPAGATION_SECONDS = 10;

/** The nsupdate script (stdin of nsupdate) that adds or deletes one TXT record. */
export function nsupdateScript(change: 'add' | 'delete', name: string, value: string): string {
  const record = change === 'add' ? `${name}. 60 TXT "${value}"` : `${name}. TXT`;
  return ['server 127.0.0.1', `update ${change} ${record}`, 'send', ''].join('\n');
}

/** Run nsupdate on the primary node; an error names the node and what nsupdate said. */
export async function nsupdate(shell: NodeShell, change: 'add' | 'delete', name: string, value: string): Promise<void> {
  const r = await shell.run(shellLine(['nsupdate']), nsupdateScript(change, name, value));
  const said = (r.stderr || r.stdout).trim();
  if (r.code !== 0) throw new Error(`nsupdate ${change} ${name} TXT on ${r.node} failed: ${said}`);
}

async function txtAt(server: DnsServer, name: string): Promise<string[]> {
  try {
    return (await resolverAt(server.address).resolveTxt(name)).map((parts) => parts.join(''));
  } catch {
    return [];
  }
}

/** How long each secondary took to answer with the value; `undefined` where it never did within the bound. */
export async function propagation(
  secondaries: readonly DnsServer[], name: string, value: string, boundMs: number,
): Promise<Map<DnsServer, number | undefined>> {
  const t0 = Date.now();
  const took = new Map<DnsServer, number | undefined>(secondaries.map((s) => [s, undefined]));
  while (Date.now() - t0 <= boundMs && [...took.values()].some((v) => v === undefined)) {
    for (const s of secondaries) {
      if (took.get(s) === undefined && (await txtAt(s, name)).includes(value)) took.set(s, Date.now() - t0);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return took;
}

/** The secondaries that did not serve the record within the bound, named with what they answered. */
export async function propagationFindings(
  took: ReadonlyMap<DnsServer, number | undefined>, name: string, value: string, boundSeconds: number,
): Promise<string[]> {
  const late = [...took].filter(([, ms]) => ms === undefined).map(([s]) => s);
  return Promise.all(late.map(async (s) => {
    const now = await txtAt(s, name);
    return `secondary ${serverName(s)}: TXT ${name} "${value}" added on the primary ` +
      `not served within ${boundSeconds} s ` +
      `(answers ${now.length ? now.map((v) => `"${v}"`).join(', ') : 'nothing'})`;
  }));
}
