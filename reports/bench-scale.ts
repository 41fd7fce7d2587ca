// `npm run bench:scale [-- --runs N] [--part join|growth|none] [--configs a,b]`: how the lab and the gate scale, into
// reports/bench/scale.{md,json}. Two parts (both by default; a part not re-run keeps its last results):
// - growth: per layer, wall time against the number of nodes (reports/bench-growth.ts); the lab it starts from is
//   brought back at the end; `--configs` measures only those (e.g. fake-3,fake-4), keeping the others' last results;
// - join: a compute node joining and leaving the running lab, timed. Each run: the lab's spec grown by one compute
//   node (extra-node.ts, from the lab's own addressing), `lab up` with it (the join), then `lab up` with the lab's own
//   spec (the leave: drained, forgotten, removed). It keeps both wall times, what each `up` started, restarted and
//   stopped, and where the join spent its time.
// The lab must be up.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { loadLab, repoRoot } from '../helpers/lab/load.ts';
import { withExtraCompute, writeSpecCopy } from '../provision/local/extra-node.ts';
import { status } from '../provision/local/index.ts';
import { machine, median, stepTimes, writeBench } from './bench-out.ts';
import { configs, type Growth, growthMarkdown, measure, singleNode } from './bench-growth.ts';

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const runs = Number(arg('--runs') ?? 3);
const part = arg('--part');
const only = arg('--configs')?.split(',').filter(Boolean);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs wants a whole number ≥ 1, got ${arg('--runs')}`);
// --part none measures nothing: the table written again from scale.json (after a note was added to it, say).
if (part && !['join', 'growth', 'none'].includes(part)) throw new Error(`--part wants join, growth or none, got ${part}`);
const lab = loadLab();
if (lab.provider !== 'local') throw new Error(`bench:scale scales the embedded lab: lab ${lab.name} is not local`);
/** The lab up as `spec` says (the growth part may start from one of its own configurations). */
async function needUp(spec: typeof lab) {
  if (!(await status(spec)).up) throw new Error(`bench:scale needs lab ${spec.name} up as ${spec.file} says: npm run lab -- up --lab ${spec.file}`);
}
const scratch = join(repoRoot, 'reports/tmp/bench-scale');

interface Up {
  wallS: number;
  exit: number;
  /** What `up` said it started / restarted / stopped (its "what up changes" lines). */
  changes: string[];
  steps: Record<string, number>;
}
interface Join { lab: string; node: string; runs: number; samples: { run: number; join: Up; leave: Up }[] }
interface Saved { machine: string; date: string; growth?: Growth; join?: Join }

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

async function measureJoin(): Promise<Join> {
  const grown = withExtraCompute(lab);
  const grownFile = writeSpecCopy(lab, grown.spec, join(scratch, 'join'));
  const samples: Join['samples'] = [];
  for (let n = 1; n <= runs; n++) {
    const joined = await up(grownFile);
    const left = await up(lab.file);
    samples.push({ run: n, join: joined, leave: left });
    process.stdout.write(`run ${n}/${runs}: join ${joined.wallS.toFixed(1)} s (exit ${joined.exit}), ` +
      `leave ${left.wallS.toFixed(1)} s (exit ${left.exit})\n`);
    if (joined.exit !== 0 || left.exit !== 0) break;
  }
  return { lab: lab.name, node: grown.node, runs, samples };
}

function joinMarkdown(j: Join): string[] {
  const med = (xs: number[]) => (xs.length ? median(xs).toFixed(1) : '—');
  const first = j.samples[0];
  const slow = Object.entries(first?.join.steps ?? {}).filter(([, s]) => s >= 2).sort((a, b) => b[1] - a[1]);
  return [
    `## Compute node ${j.node} joining and leaving the running lab \`${j.lab}\``,
    '',
    `Each run: \`lab up --lab <spec + ${j.node}>\` (join), then \`lab up --lab ${j.lab}\` (leave).`,
    '',
    '| run | join (s) | exit | leave (s) | exit |',
    '|---|---|---|---|---|',
    ...j.samples.map((s) =>
      `| ${s.run} | ${s.join.wallS.toFixed(1)} | ${s.join.exit} | ${s.leave.wallS.toFixed(1)} | ${s.leave.exit} |`),
    '',
    `Median: join ${med(j.samples.map((s) => s.join.wallS))} s, leave ${med(j.samples.map((s) => s.leave.wallS))} s.`,
    '',
    '### What the first join changed',
    '',
    ...(first?.join.changes ?? []).map((l) => `    ${l.trim()}`),
    '',
    '### What the first leave changed',
    '',
    ...(first?.leave.changes ?? []).map((l) => `    ${l.trim()}`),
    '',
    '### Where the first join spent its time (steps of 2 s or more)',
    '',
    '| step | s |',
    '|---|---|',
    ...slow.map(([name, s]) => `| ${name} | ${s.toFixed(1)} |`),
    '',
  ];
}

const jsonFile = join(repoRoot, 'reports/bench/scale.json');
const before = existsSync(jsonFile) ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as Partial<Saved>) : {};
// scale.json before the growth part held the join part at its top level.
const saved: Saved = {
  machine: machine(), date: new Date().toISOString().slice(0, 10),
  growth: before.growth,
  join: before.join ?? ('samples' in before ? (before as unknown as Join) : undefined),
};

if (part === undefined || part === 'join') {
  await needUp(lab);
  saved.join = await measureJoin();
}
if (part === undefined || part === 'growth') {
  const all = configs(lab, scratch, singleNode());
  const unknown = (only ?? []).filter((id) => !all.some((c) => c.id === id));
  if (unknown.length) throw new Error(`--configs: no configuration ${unknown.join(', ')} (there are ${all.map((c) => c.id).join(', ')})`);
  const cs = only ? all.filter((c) => only.includes(c.id)) : all;
  await needUp(loadLab(cs[0]!.file));
  // Each configuration's results replace its earlier ones as soon as they are in; the order stays the list's.
  const kept = new Map((saved.growth?.configs ?? []).map((e) => [e.config.id, e]));
  await measure(cs, runs, (s) => process.stdout.write(`${s}\n`), (entry) => {
    kept.set(entry.config.id, entry);
    saved.growth = { configs: all.flatMap((c) => (kept.has(c.id) ? [kept.get(c.id)!] : [])) };
    writeFileSync(jsonFile, `${JSON.stringify(saved, null, 2)}\n`);
  });
  const last = cs.at(-1)!;
  process.stdout.write(`bringing lab ${lab.name} back as it was\n`);
  await execa('npx', ['tsx', 'provision/cli.ts', 'down', '--purge', '--lab', last.file], { cwd: repoRoot });
  await up(lab.file);
}

const md = [
  `# Scaling — lab \`${lab.name}\``,
  '',
  `Machine: ${saved.machine}. Date: ${saved.date}. Generated by \`npm run bench:scale\` (reports/bench-scale.ts).`,
  '',
  ...(saved.growth ? growthMarkdown(saved.growth) : []),
  ...(saved.join ? joinMarkdown(saved.join) : []),
].join('\n');
writeBench('scale', md, saved);
