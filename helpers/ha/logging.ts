/**
 * Central logging as the spec's `logging` says: numbered messages logged on a sender node, looked for in the file a
 * collector keeps for that sender (`<directory>/<sender address>.log`, `{node}` the collector).
 */
import type { Lab, LabNode } from '../lab/model.ts';
import type { LoggingSpec } from '../lab/spec.ts';
import { shellLine } from '../node/quote.ts';
import type { NodeShell } from '../node/ssh.ts';

export interface Logging {
  readonly spec: LoggingSpec;
  readonly collectors: readonly LabNode[];
  /** A node that is no collector: it only forwards (seed 004's compute nodes). */
  readonly sender: LabNode | undefined;
  readonly boundMs: number;
}

export function loggingOf(lab: Lab): Logging | undefined {
  const spec = lab.spec.logging;
  if (!spec) return undefined;
  const collectors = spec.collectors.map((c) => lab.node(c));
  const others = lab.nodes.filter((n) => !spec.collectors.includes(n.name) && n.apiAddress);
  const sender = others.find((n) => n.roles.includes('compute')) ?? others[0];
  return { spec, collectors, sender, boundMs: (spec.deliverySeconds ?? 20) * 1000 };
}

export function senderFile(log: Logging, collector: LabNode, sender: LabNode): string {
  const dir = (log.spec.directory ?? '/var/log/remote').replaceAll('{node}', collector.name);
  return `${dir}/${sender.apiAddress ?? sender.name}.log`;
}

/**
 * The command that logs messages 1..count tagged `tag` on the sender: to the node's own rsyslog on the loopback port
 * the spec names (nodes that share one /dev/log), else to /dev/log.
 */
export function logCommand(log: Logging, tag: string, count: number): string {
  const to = log.spec.localPort ? ['-d', '-n', '127.0.0.1', '-P', String(log.spec.localPort)] : [];
  const one = shellLine(['logger', ...to, '-t', tag, '--']);
  return `for i in $(seq 1 ${count}); do ${one} "${tag} message $i of ${count}" || exit 1; done`;
}

/** The message numbers of `tag` found in the collector's file of the sender. */
export async function numbersAt(shell: NodeShell, file: string, tag: string): Promise<number[]> {
  const pattern = shellLine([`${tag} message [0-9]* of`]);
  const r = await shell.run(`grep -ho ${pattern} ${shellLine([file])} 2>/dev/null || true`);
  const numbers = r.stdout.split('\n').map((l) => Number(/ message (\d+) of/.exec(l)?.[1])).filter((n) => n > 0);
  return [...new Set(numbers)].sort((a, b) => a - b);
}

/** Numbers 1..count that are not among those seen. */
export const missingNumbers = (seen: readonly number[], count: number) =>
  Array.from({ length: count }, (_, i) => i + 1).filter((n) => !seen.includes(n));

/** Wait until the collector's file holds every number or the bound passes; what is missing then (empty: all there). */
export async function awaitDelivery(
  shell: NodeShell, file: string, tag: string, count: number, boundMs: number,
): Promise<{ missing: number[]; seen: number[]; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const seen = await numbersAt(shell, file, tag);
    const missing = missingNumbers(seen, count);
    if (missing.length === 0 || Date.now() - t0 > boundMs) return { missing, seen, ms: Date.now() - t0 };
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** "3, 7-9" for a list of numbers. */
export function ranges(numbers: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < numbers.length; i++) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    out.push(j > i ? `${numbers[i]}-${numbers[j]}` : `${numbers[i]}`);
    i = j;
  }
  return out.join(', ');
}
