/**
 * `npm test [-- --gated] [Vitest options]`: `lab ensure`, then the acceptance of every layer through Vitest
 * (acceptanceArgs says what it is handed). Vitest's exit code, the gate's verdict, is this script's. It imports nothing
 * heavy: it is on the path of every run.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acceptanceArgs } from './layers.ts';
import { ENSURED_ENV } from './ensured.ts';

const { vitest: args, env: acceptance, ensure } = acceptanceArgs(process.argv.slice(2));
const at = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

// `lab ensure` and Vitest's start side by side (about 2 s each): the global setup waits for the ensure's outcome in
// this file before it sends anything to the lab (helpers/gate/ensured.ts).
const folder = ensure ? mkdtempSync(join(tmpdir(), 'stackgate-ensure-')) : undefined;
const outcome = folder && join(folder, 'exit');
const ensureArgs = [at('node_modules/tsx/dist/cli.mjs'), at('provision/cli.ts'), 'ensure'];
const ensuring = outcome ? spawn(process.execPath, ensureArgs, { stdio: 'inherit' }) : undefined;
const env = { ...process.env, ...acceptance, ...(outcome ? { [ENSURED_ENV]: outcome } : {}) };
const vitest = spawn(process.execPath, [at('node_modules/vitest/vitest.mjs'), ...args], { stdio: 'inherit', env });
let failedEnsure: number | undefined;
ensuring?.on('exit', (code) => {
  // Whole or not at all: the global setup reads it as soon as it exists.
  writeFileSync(`${outcome!}.tmp`, String(code ?? 1));
  renameSync(`${outcome!}.tmp`, outcome!);
  if (code === 0) return;
  // Its message is the run's one error (a malformed spec, a lab that cannot come up): Vitest is still waiting for it in
  // its global setup, before any check or cloud resource, and has nothing to say or clean up.
  failedEnsure = code ?? 1;
  vitest.kill('SIGKILL');
});
// Ctrl-C reaches Vitest (and the ensure) from the terminal as well: it removes the run's cloud resources before it
// exits.
process.on('SIGINT', () => undefined);
for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    ensuring?.kill(signal);
    vitest.kill(signal);
  });
}
vitest.on('exit', (code) => {
  if (folder) rmSync(folder, { recursive: true, force: true });
  process.exitCode = failedEnsure ?? code ?? 1;
});
