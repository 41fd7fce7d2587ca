// `npm run bench:layers [-- --runs N] [--layers a,b]`: wall time of each layer against the current lab
// (STACKGATE_LAB), N runs each, medians and min/max into reports/bench/layers.{md,json} (layers-<lab> for a lab other
// than the embedded one). A benchmark, not a test.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { LAYERS } from '../helpers/gate/layers.ts';
import { loadLab, repoRoot } from '../helpers/lab/load.ts';
import { machine, median, writeBench } from './bench-out.ts';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const runs = Number(arg('runs') ?? 5);
const layers = (arg('layers')?.split(',') ?? [...LAYERS]).filter((l) => (LAYERS as readonly string[]).includes(l));
const lab = loadLab();

interface Sample {
  wallMs: number;
  npxMs: number;
  passed: number;
  failed: number;
  skipped: number;
  /** Each check's own duration in this run (ms), from the gate's results. */
  checks: Record<string, number>;
}

// The layer as Vitest runs it, and as an operator types it: npx adds npm's own start-up (about half a second here).
async function timed(file: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  await execa(file, args, { cwd: repoRoot, reject: false, env: { FORCE_COLOR: '0' } });
  return performance.now() - t0;
}

interface Verdict {
  counts: { passed: number; failed: number; skipped: number; blocked: number };
  results: { checkId: string; durationMs: number }[];
}

/** The three longest checks of a layer (median of their own durations): where its time goes. */
function slowest(samples: Sample[]): string {
  const ids = Object.keys(samples[0]?.checks ?? {});
  const med = ids.map((id) => [id, median(samples.map((s) => (s.checks[id] ?? 0) / 1000))] as const);
  return med.sort((a, b) => b[1] - a[1]).slice(0, 3).map(([id, sec]) => `${id} ${sec.toFixed(1)}`).join(', ');
}

const results: Record<string, Sample[]> = {};
for (const layer of layers) {
  results[layer] = [];
  for (let i = 0; i < runs; i++) {
    const wallMs = await timed(join(repoRoot, 'node_modules/.bin/vitest'), ['run', '--project', layer]);
    const npxMs = await timed('npx', ['vitest', 'run', '--project', layer]);
    const v = JSON.parse(readFileSync(join(repoRoot, 'reports/decisions.json'), 'utf8')) as Verdict;
    const checks = Object.fromEntries(v.results.map((r) => [r.checkId, r.durationMs]));
    results[layer].push({ wallMs, npxMs, passed: v.counts.passed, failed: v.counts.failed, skipped: v.counts.skipped + v.counts.blocked, checks });
    process.stdout.write(`${layer} run ${i + 1}/${runs}: ${(wallMs / 1000).toFixed(2)} s (npx ${(npxMs / 1000).toFixed(2)} s), ${v.counts.passed} passed, ${v.counts.failed} failed\n`);
  }
}

const host = machine();
const rows = layers.map((l) => {
  const w = results[l]!.map((s) => s.wallMs / 1000);
  const n = results[l]!.map((s) => s.npxMs / 1000);
  const last = results[l]!.at(-1)!;
  return { layer: l, median: median(w), min: Math.min(...w), max: Math.max(...w), npxMedian: median(n), npxMax: Math.max(...n), checks: `${last.passed} passed, ${last.failed} failed, ${last.skipped} skipped`, slowest: slowest(results[l]!) };
});
const md = [
  `# Layer wall times — lab \`${lab.name}\``,
  '',
  `${runs} runs per layer, whole processes (Vitest start-up, collection, checks, reporters, exit): \`vitest run --project <layer>\` from node_modules/.bin, and the same through \`npx\`. Machine: ${host}. Date: ${new Date().toISOString().slice(0, 10)}.`,
  '',
  'Checks run side by side within a layer, so their durations overlap; the longest say where the wall time goes.',
  '',
  '| layer | median (s) | min (s) | max (s) | npx median (s) | npx max (s) | checks (last run) | longest checks (s, median) |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.layer} | ${r.median.toFixed(2)} | ${r.min.toFixed(2)} | ${r.max.toFixed(2)} | ${r.npxMedian.toFixed(2)} | ${r.npxMax.toFixed(2)} | ${r.checks} | ${r.slowest} |`),
  '',
].join('\n');
// Another bundled lab's layers (embedded-lb's loadbalancer) get a table of their own beside the embedded lab's.
writeBench(lab.name === 'embedded' ? 'layers' : `layers-${lab.name}`, md, { lab: lab.name, runs, machine: host, rows, results });
