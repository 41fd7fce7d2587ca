// `npm run bench:full [-- --runs N]`: N consecutive full acceptance runs (`npm test`) against the current lab
// (STACKGATE_LAB): wall time, counts, failing checks and leftovers of each, into reports/bench/full-runs.{md,json}.
// The flakiness measure of the gate on a healthy lab. A benchmark, not a test: it never stops on a red run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { loadLab, repoRoot } from '../helpers/lab/load.ts';
import { machine, writeBench } from './bench-out.ts';

const i = process.argv.indexOf('--runs');
const runs = Number(i >= 0 ? process.argv[i + 1] : 5);
const lab = loadLab();

interface Verdict {
  pass: boolean;
  counts: { passed: number; failed: number; skipped: number; blocked: number };
  results: { checkId?: string; status: string }[];
  reasons: string[];
}

const samples: { run: number; wallS: number; exit: number; pass: boolean; passed: number; failed: number; skipped: number; failing: string[]; reasons: string[] }[] = [];
for (let n = 1; n <= runs; n++) {
  const t0 = performance.now();
  const r = await execa('npm', ['test'], { cwd: repoRoot, reject: false, env: { FORCE_COLOR: '0', STACKGATE_RUN: '' } });
  const wallS = (performance.now() - t0) / 1000;
  const v = JSON.parse(readFileSync(join(repoRoot, 'reports/decisions.json'), 'utf8')) as Verdict;
  const failing = v.results.filter((x) => x.status === 'failed' || x.status === 'broken').map((x) => x.checkId ?? '?');
  samples.push({ run: n, wallS, exit: r.exitCode ?? -1, pass: v.pass, passed: v.counts.passed, failed: v.counts.failed, skipped: v.counts.skipped + v.counts.blocked, failing, reasons: v.reasons });
  process.stdout.write(`run ${n}/${runs}: ${wallS.toFixed(1)} s, exit ${r.exitCode}, ${v.counts.passed} passed, ${v.counts.failed} failed${failing.length ? ` (${failing.join(', ')})` : ''}\n`);
}

const walls = samples.map((s) => s.wallS).sort((a, b) => a - b);
const median = walls[Math.floor(walls.length / 2)]!;
const green = samples.filter((s) => s.exit === 0 && s.pass && s.failed === 0).length;
const host = machine();
const md = [
  `# Consecutive full acceptance runs — lab \`${lab.name}\``,
  '',
  `${runs} consecutive \`npm test\` runs (every layer, one Vitest process each, the gate's exit code). Machine: ${host}. Date: ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '| run | wall (s) | exit | gate | passed | failed | skipped/blocked | failing checks | gate reasons (leftovers included) |',
  '|---|---|---|---|---|---|---|---|---|',
  ...samples.map((s) => `| ${s.run} | ${s.wallS.toFixed(1)} | ${s.exit} | ${s.pass ? 'pass' : 'FAIL'} | ${s.passed} | ${s.failed} | ${s.skipped} | ${s.failing.join(', ') || '—'} | ${s.reasons.join('; ') || '—'} |`),
  '',
  `${green} of ${runs} runs green; median ${median.toFixed(1)} s, min ${walls[0]!.toFixed(1)} s, max ${walls.at(-1)!.toFixed(1)} s.`,
  '',
].join('\n');
writeBench('full-runs', md, { lab: lab.name, runs, machine: host, samples });
