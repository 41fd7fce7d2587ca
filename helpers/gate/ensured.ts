import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where `npm test` (helpers/gate/test-run.ts) writes the exit code of the `lab ensure` it runs beside Vitest. */
export const ENSURED_ENV = 'STACKGATE_ENSURED';

/**
 * Wait until `npm test`'s `lab ensure` has ended (at once when the run is not `npm test`). A failed ensure has said
 * why itself, and `npm test` stops Vitest: the error here is for a Vitest started some other way with the variable set.
 */
export async function labEnsured(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const file = env[ENSURED_ENV];
  if (!file) return;
  while (!existsSync(file)) await sleep(50);
  const code = readFileSync(file, 'utf8').trim();
  if (code !== '0') throw new Error(`lab ensure ended with exit code ${code}: its message is above; no check ran`);
}
