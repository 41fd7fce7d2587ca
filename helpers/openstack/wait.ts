/** Bounded polling that remembers every state it saw, so a timeout says where the thing got stuck. */
import { setTimeout as sleep } from 'node:timers/promises';
import { checkTimeLeft } from '../gate/budget.ts';

export interface Transition {
  readonly state: string;
  /** Seconds since the wait began. */
  readonly at: number;
}

export interface WaitOptions<T> {
  /** For messages: "server sg-ab12cd-vm". */
  readonly what: string;
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Poll every intervalMs for the first minute: for what the run's own path waits on and settles in seconds (a boot). */
  readonly steady?: boolean;
  readonly signal?: AbortSignal;
  /** The state shown in transitions and messages, e.g. "BUILD/spawning". */
  readonly state: (value: T) => string;
  /** Done when true; a string is a terminal failure (e.g. the server went to ERROR with this fault). */
  readonly done: (value: T) => boolean | string;
}

export class WaitError extends Error {
  override name = 'WaitError';
  constructor(
    message: string,
    readonly transitions: readonly Transition[],
  ) {
    super(message);
  }
}

export const transitionsText = (t: readonly Transition[]) => t.map((x) => `${x.at.toFixed(1)} s ${x.state}`).join(' → ');

/**
 * Poll until `done`; returns the last value and the transitions seen. Inside a check the wait also ends where the
 * check's own time would, and says so.
 */
export async function waitFor<T>(poll: () => Promise<T>, o: WaitOptions<T>): Promise<{ value: T; transitions: Transition[] }> {
  const t0 = Date.now();
  const left = checkTimeLeft();
  const cut = left !== undefined && left < o.timeoutMs;
  const bound = cut ? left : o.timeoutMs;
  const why = cut ? `, when the check's own time ran out (this wait allows ${Math.round(o.timeoutMs / 1000)} s: the check's bound is shorter)` : '';
  const transitions: Transition[] = [];
  let interval = o.intervalMs ?? 500;
  for (;;) {
    const value = await poll();
    const state = o.state(value);
    if (transitions.at(-1)?.state !== state) transitions.push({ state, at: (Date.now() - t0) / 1000 });
    const done = o.done(value);
    if (done === true) return { value, transitions };
    if (typeof done === 'string') throw new WaitError(`${o.what} ${done} (${transitionsText(transitions)})`, transitions);
    const elapsed = Date.now() - t0;
    if (elapsed >= bound) {
      throw new WaitError(`${o.what} still ${state} after ${Math.round(elapsed / 1000)} s${why} (${transitionsText(transitions)})`, transitions);
    }
    await sleep(Math.min(interval, bound - elapsed), undefined, o.signal ? { signal: o.signal } : undefined);
    // At most 2 s between polls: most of what a run waits for (a server's deletion, a guest's console, a volume's
    // attachment) settles within seconds, and a longer pause only adds to when the wait notices.
    if (!o.steady || elapsed > 60_000) interval = Math.min(interval * 1.5, Math.max(o.intervalMs ?? 0, 2000));
  }
}
