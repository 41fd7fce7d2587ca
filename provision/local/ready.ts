/**
 * "Up" means ready for every check: the conditions the components name (each judged with the checks' own helpers,
 * so ready and checked can never disagree on what healthy means), all side by side, each within one bound. A
 * condition that runs out of time says what it waited for and what it saw last.
 */
import type { Lab } from '../../helpers/lab/model.ts';
import { closeAgents } from '../../helpers/prometheus/http.ts';
import type { Condition } from './component.ts';
import { sleep } from './sh.ts';

export type { Condition };

export class NotReady extends Error {
  override name = 'NotReady';
}

/** Wait, all conditions side by side, until each holds; throw NotReady naming every one that did not. */
export async function waitReady(lab: Lab, list: readonly Condition[], timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  try {
    const results = await Promise.all(list.map((c) => holds(c, deadline)));
    const missed = results.filter((r) => r !== true);
    if (missed.length) throw new NotReady(`lab ${lab.name} is not ready after ${timeoutMs / 1000} s:\n  ${missed.join('\n  ')}`);
    return list.map((c) => c.what).join('; ') || 'nothing to wait for';
  } finally {
    await closeAgents();
  }
}

async function holds(c: Condition, deadline: number): Promise<true | string> {
  let last = 'not probed';
  for (;;) {
    const r = await c.probe().catch((e: unknown) => `no answer: ${String(e instanceof Error ? e.message : e).split('\n')[0]}`);
    if (r === true) return true;
    last = r;
    if (Date.now() > deadline) return `${c.what}: ${last}`;
    await sleep(2000);
  }
}
