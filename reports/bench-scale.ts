// `npm run bench:scale [-- --runs N]`: a compute node joining and leaving the running lab, timed. Each run: the
// lab's spec grown by one compute node (extra-node.ts, from the lab's own addressing), `lab up` with it (the join),
// then `lab up` with the lab's own spec (the leave: drained, forgotten, removed). The table keeps both wall times,
// what each `up` started, restarted and stopped, and where the join spent its time. The lab must be up.
import { join } from 'node:path';
import { execa } from 'execa';
import { loadLab, repoRoot } from '../helpers/lab/load.ts';
import { withExtraCompute, writeSpecCopy } from '../provision/local/extra-node.ts';
import { status } from '../provision/local/index.ts';
import { machine, median, stepTimes, writeBench } from './bench-out.ts';

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const runs = Number(arg('--runs') ?? 3);
const lab = loadLab();
if (lab.provider !== 'local') throw new Error(`bench:scale scales the embedded lab: lab ${lab.name} is not local`);
if (!(await status(lab)).up) throw new Error(`bench:scale needs lab ${lab.name} up: run npm run lab -- up first`);
const grown = withExtraCompute(lab);
const grownFile = writeSpecCopy(lab, grown.spec, join(repoRoot, 'reports/tmp/bench-scale'));

interface Up {
  wallS: number;
  exit: number;
  /** What `up` said it started / restarted / stopped (its "what up changes" lines). */
  changes: string[];
  steps: Record<string, number>;
}

async function up(file: string): Promise<Up> {
  const t0 = performance.now();
  const r = await execa('npx', ['tsx', 'provision/cli.ts', 'up', '--lab', file], {
    cwd: repoRoot, reject: false, all: true, env: { FORCE_COLOR: '0' },
  });
  const out = String(r.all ?? '');
  const changes = out.split('\n').filter((l) => /^\s{2}(start|restart|stop|nodes joining|nodes leaving)\b/.test(l))
    .map((l) => l.replaceAll(`${repoRoot}/`, ''));
  return { wallS: (performance.now() - t0) / 1000, exit: r.exitCode ?? -1, changes, steps: stepTimes(out) };
}

const samples: { run: number; join: Up; leave: Up }[] = [];
for (let n = 1; n <= runs; n++) {
  const joined = await up(grownFile);
  const left = await up(lab.file);
  samples.push({ run: n, join: joined, leave: left });
  process.stdout.write(`run ${n}/${runs}: join ${joined.wallS.toFixed(1)} s (exit ${joined.exit}), ` +
    `leave ${left.wallS.toFixed(1)} s (exit ${left.exit})\n`);
  if (joined.exit !== 0 || left.exit !== 0) break;
}

const med = (xs: number[]) => (xs.length ? median(xs).toFixed(1) : '—');
const first = samples[0];
const slow = Object.entries(first?.join.steps ?? {}).filter(([, s]) => s >= 2).sort((a, b) => b[1] - a[1]);
const md = [
  `# Scaling the running lab — lab \`${lab.name}\`, compute node ${grown.node} joining and leaving`,
  '',
  `Each run: \`lab up --lab <spec + ${grown.node}>\` (join), then \`lab up --lab ${lab.name}\` (leave). ` +
    `Machine: ${machine()}. Date: ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '| run | join (s) | exit | leave (s) | exit |',
  '|---|---|---|---|---|',
  ...samples.map((s) =>
    `| ${s.run} | ${s.join.wallS.toFixed(1)} | ${s.join.exit} | ${s.leave.wallS.toFixed(1)} | ${s.leave.exit} |`),
  '',
  `Median: join ${med(samples.map((s) => s.join.wallS))} s, leave ${med(samples.map((s) => s.leave.wallS))} s.`,
  '',
  '## What the first join changed',
  '',
  ...(first?.join.changes ?? []).map((l) => `    ${l.trim()}`),
  '',
  '## What the first leave changed',
  '',
  ...(first?.leave.changes ?? []).map((l) => `    ${l.trim()}`),
  '',
  '## Where the first join spent its time (steps of 2 s or more)',
  '',
  '| step | s |',
  '|---|---|',
  ...slow.map(([name, s]) => `| ${name} | ${s.toFixed(1)} |`),
  '',
].join('\n');
writeBench('scale', md, { lab: lab.name, node: grown.node, runs, machine: machine(), samples });
