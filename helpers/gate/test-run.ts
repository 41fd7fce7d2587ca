/**
 * `npm test [-- --gated] [Vitest options]`: the acceptance of every layer, through Vitest (helpers/gate/gated.ts says
 * what it is handed). Vitest's exit code, the gate's verdict, is this script's.
 */
import { execa } from 'execa';
import { acceptanceArgs } from './gated.ts';

const { gated, vitest: args } = acceptanceArgs(process.argv.slice(2));
const env = gated ? { STACKGATE_GATED: '1' } : {};
const vitest = execa('vitest', args, { preferLocal: true, stdio: 'inherit', reject: false, env });
// Ctrl-C reaches Vitest from the terminal as well: it removes the run's cloud resources before it exits.
process.on('SIGINT', () => undefined);
for (const signal of ['SIGTERM', 'SIGHUP'] as const) process.on(signal, () => vitest.kill(signal));
process.exitCode = (await vitest).exitCode ?? 1;
