// `npm run ui [-- --lab NAME|PATH] [vitest options]`: the Vitest UI on the acceptance projects (never the project's
// own tests or the fault drills), against one lab: --lab, else $STACKGATE_LAB, else the default lab.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { LAYERS } from '../helpers/gate/layers.ts';
import { loadLab, repoRoot } from '../helpers/lab/load.ts';

const argv = process.argv.slice(2);
const at = argv.findIndex((a) => a === '--lab' || a.startsWith('--lab='));
const labArg = at < 0 ? undefined : argv[at]!.includes('=') ? argv[at]!.slice(6) : argv[at + 1];
const rest = at < 0 ? argv : argv.filter((_, i) => i !== at && !(i === at + 1 && !argv[at]!.includes('=')));
const lab = loadLab(labArg || process.env.STACKGATE_LAB || undefined);

console.log(`Vitest UI on lab ${lab.name} — ${lab.title} (provider ${lab.provider}, release ${lab.release}; ${lab.file})`);
if (lab.provider === 'local') console.log(`  the embedded lab must be up for the live layers: npm run lab -- up (checks are reported blocked otherwise)`);

const child = spawn(process.execPath, [join(repoRoot, 'node_modules/vitest/vitest.mjs'), '--ui', '--watch', ...LAYERS.flatMap((l) => ['--project', l]), ...rest], {
  cwd: repoRoot,
  stdio: 'inherit',
  env: { ...process.env, STACKGATE_LAB: lab.file },
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
