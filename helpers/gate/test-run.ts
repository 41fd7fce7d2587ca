/**
 * `npm test [-- --gated] [Vitest options]`: the acceptance of every layer, through Vitest (acceptanceArgs says what it
 * is handed). Vitest's exit code, the gate's verdict, is this script's. It imports nothing heavy: it is on the path of
 * every run.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { acceptanceArgs } from './layers.ts';

const { vitest: args, env: acceptance } = acceptanceArgs(process.argv.slice(2));
const bin = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const vitest = spawn(process.execPath, [bin, ...args], { stdio: 'inherit', env: { ...process.env, ...acceptance } });
// Ctrl-C reaches Vitest from the terminal as well: it removes the run's cloud resources before it exits.
process.on('SIGINT', () => undefined);
for (const signal of ['SIGTERM', 'SIGHUP'] as const) process.on(signal, () => vitest.kill(signal));
vitest.on('exit', (code) => (process.exitCode = code ?? 1));
