/**
 * The time the running check has left. A wait inside a check ends where the check's own Vitest timeout would end
 * it, a few seconds early, so that it fails with what it waited for instead of Vitest's bare "Test timed out".
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const deadlines = new AsyncLocalStorage<number>();

/** Spare left for the failure to be judged and reported: a tenth of the bound, 3 to 15 s. */
export const spareMs = (timeoutMs: number) => Math.min(15_000, Math.max(3_000, Math.round(timeoutMs / 10)));

/** Run a check's body under its Vitest timeout (none for 0 or undefined, as Vitest has none then). */
export function withinBound<T>(timeoutMs: number | undefined, body: () => T): T {
  if (!timeoutMs || timeoutMs <= 0) return body();
  return deadlines.run(Date.now() + timeoutMs - spareMs(timeoutMs), body);
}

/** Milliseconds the running check may still wait; undefined outside a check. Never below 0. */
export function checkTimeLeft(): number | undefined {
  const deadline = deadlines.getStore();
  return deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
}

/** What a check is given before Vitest's own timer ends it: enough for its failure to be reported. */
const REPORT_MS = 2_000;

export class CheckTimeout extends Error {
  override name = 'CheckTimeout';
}

/**
 * The check's body, failed with a message just before Vitest's timeout would end it with a bare "Test timed out"
 * that names no decision (a request the lab never answers: a commit waiting for a lost synchronous standby). The
 * body is left to end on its own; what it throws then is dropped, as Vitest drops it after a timeout.
 */
export async function beforeVitestTimeout<T>(work: Promise<T>, timeoutMs: number | undefined): Promise<T> {
  if (!timeoutMs || timeoutMs <= REPORT_MS) return work;
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      work.catch(() => undefined);
      reject(new CheckTimeout(`still not done when the check's own time ran out (${Math.round(timeoutMs / 1000)} s): ` +
        'a step it waits on never answered'));
    }, timeoutMs - REPORT_MS);
    timer.unref();
  });
  try {
    return await Promise.race([work, bound]);
  } finally {
    clearTimeout(timer);
  }
}
