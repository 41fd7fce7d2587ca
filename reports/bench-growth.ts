// How the gate's cost grows with the lab: per layer, wall time against the number of nodes. The configurations are
// derived from the running lab's spec (compute nodes added with extra-node.ts; Nova's fake driver for the
// compute-light ones) plus the bundled single-node spec; each is brought up in turn with `lab up`: nodes join a
// running lab, while a change of lab or of compute driver purges the previous one first (a fresh Nova, no hypervisor
// records of the other driver). Part of `npm run bench:scale` (reports/bench-scale.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ACCEPTANCE } from '../helpers/gate/layers.ts';
import { loadLab, repoRoot } from '../helpers/lab/load.ts';
import { Lab } from '../helpers/lab/model.ts';
import type { LabSpec } from '../helpers/lab/spec.ts';
import { withExtraCompute, withFakeCompute, writeSpecCopy } from '../provision/local/extra-node.ts';
import { median } from './bench-out.ts';

export interface Config {
  /** e.g. fake-4: Nova's fake driver, four nodes. */
  readonly id: string;
  readonly lab: string;
  readonly file: string;
  readonly nodes: number;
  readonly computeNodes: number;
  readonly driver: 'fake' | 'libvirt';
}

export interface Run {
  readonly layers: Record<string, number>;
  readonly full: number;
  readonly exit: number;
  /** From decisions.json; absent where the run was taken from the benchmark's log (see the entry's note). */
  readonly passed?: number;
  readonly failed?: number;
  readonly skipped?: number;
}

export interface Growth {
  readonly configs: { config: Config; upS: number; upExit: number; runs: Run[]; note?: string }[];
}

/** The configurations of the issue: the lab as it is and with one more real compute node; 3, 4 and 6 compute-light
 * nodes (the lab's own shape, fake driver); one compute-light node (the bundled all-in-one spec). */
export function configs(lab: Lab, dir: string, single: Lab): Config[] {
  const out: Config[] = [];
  const add = (id: string, spec: LabSpec, from: Lab) => {
    const grown = new Lab(spec, from.file);
    const file = writeSpecCopy(from, spec, join(dir, id));
    out.push({
      id, lab: grown.name, file, nodes: grown.nodes.length,
      computeNodes: grown.nodesWithRole('compute').length,
      driver: spec.compute?.virtType === 'fake' ? 'fake' : 'libvirt',
    });
  };
  const grow = (spec: LabSpec, times: number) => {
    let s = spec;
    for (let i = 0; i < times; i++) s = withExtraCompute(new Lab(s, lab.file)).spec;
    return s;
  };
  add(`real-${lab.nodes.length}`, lab.spec, lab);
  add(`real-${lab.nodes.length + 1}`, grow(lab.spec, 1), lab);
  const light = withFakeCompute(lab.spec);
  add(`fake-${lab.nodes.length}`, light, lab);
  add(`fake-${lab.nodes.length + 1}`, grow(light, 1), lab);
  add(`fake-${lab.nodes.length + 3}`, grow(light, 3), lab);
  add(`fake-${single.nodes.length}`, withFakeCompute(single.spec), single);
  return out;
}

const quiet = { cwd: repoRoot, reject: false, all: true, env: { FORCE_COLOR: '0', STACKGATE_RUN: '' } } as const;

async function timed(cmd: string, args: string[], env: Record<string, string>) {
  const t0 = performance.now();
  const r = await execa(cmd, args, { ...quiet, env: { ...quiet.env, ...env } });
  return { s: (performance.now() - t0) / 1000, exit: r.exitCode ?? -1, out: String(r.all ?? '') };
}

const lab = (c: Config) => ['provision/cli.ts', '--lab', c.file];

/**
 * Bring each configuration up in turn and time every acceptance layer on its own and `npm test`, `runs` times; `done`
 * gets each configuration's results as soon as it has them (an interrupted benchmark keeps what it measured). The lab
 * must be up as the first configuration's lab (same name and compute driver).
 */
export async function measure(cs: readonly Config[], runs: number, log: (s: string) => void,
  done: (entry: Growth['configs'][number]) => void = () => {}): Promise<Growth> {
  const result: Growth['configs'] = [];
  let current: Config | undefined = cs[0];
  for (const c of cs) {
    if (current && (current.lab !== c.lab || current.driver !== c.driver)) {
      const d = await timed('npx', ['tsx', ...lab(current), 'down', '--purge'], {});
      if (d.exit !== 0) throw new Error(`lab down --lab ${current.file} failed:\n${d.out.slice(-2000)}`);
    }
    const u = await timed('npx', ['tsx', ...lab(c), 'up'], {});
    current = c;
    log(`${c.id}: up ${u.s.toFixed(1)} s, exit ${u.exit}`);
    const entry = { config: c, upS: u.s, upExit: u.exit, runs: [] as Run[] };
    result.push(entry);
    if (u.exit !== 0) {
      done(entry);
      continue;
    }
    for (let i = 0; i < runs; i++) {
      const layers: Record<string, number> = {};
      for (const layer of ACCEPTANCE) {
        const t = await timed(join(repoRoot, 'node_modules/.bin/vitest'), ['run', '--project', layer],
          { STACKGATE_LAB: c.file });
        layers[layer] = t.s;
      }
      const full = await timed('npm', ['test'], { STACKGATE_LAB: c.file });
      const v = JSON.parse(readFileSync(join(repoRoot, 'reports/decisions.json'), 'utf8')) as
        { counts: { passed: number; failed: number; skipped: number; blocked: number } };
      entry.runs.push({
        layers, full: full.s, exit: full.exit, passed: v.counts.passed, failed: v.counts.failed,
        skipped: v.counts.skipped + v.counts.blocked,
      });
      log(`${c.id} run ${i + 1}/${runs}: npm test ${full.s.toFixed(1)} s (exit ${full.exit}); ` +
        Object.entries(layers).map(([l, s]) => `${l} ${s.toFixed(1)}`).join(', '));
    }
    done(entry);
  }
  return { configs: result };
}

/** Least-squares slope of y over x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx ? points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx : 0;
}

const f1 = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(1));

export function growthMarkdown(g: Growth): string[] {
  const rows = g.configs.map(({ config, upS, upExit, runs }) => {
    const med = (pick: (r: Run) => number) => (runs.length ? median(runs.map(pick)) : undefined);
    const last = runs.at(-1);
    return {
      config, upS, upExit,
      layers: Object.fromEntries(ACCEPTANCE.map((l) => [l, med((r) => r.layers[l] ?? NaN)])),
      full: med((r) => r.full),
      exits: runs.map((r) => r.exit).join(', ') || '—',
      checks: last?.passed !== undefined ? `${last.passed} / ${last.failed} / ${last.skipped}` : '—',
    };
  });
  // The quick layers' growth per node, over the configurations of the lab's own shape with the fake driver (same
  // checks, only the node count differs).
  const family = rows.filter((r) => r.config.driver === 'fake' && r.config.lab === g.configs[0]?.config.lab);
  const perNode = ACCEPTANCE.map((l) => {
    const pts = family.flatMap((r) => (r.layers[l] === undefined ? [] : [[r.config.nodes, r.layers[l]!] as const]));
    return `${l} ${pts.length >= 2 ? slope(pts).toFixed(2) : '—'}`;
  });
  const fullOf = (n: number) => family.find((r) => r.config.nodes === n)?.full;
  const small = Math.min(...family.map((r) => r.config.nodes));
  const big = Math.max(...family.map((r) => r.config.nodes));
  const ratio = fullOf(big) !== undefined && fullOf(small) ? fullOf(big)! / fullOf(small)! : undefined;
  return [
    '## Cost against the number of nodes',
    '',
    'Each configuration brought up with `lab up --lab <spec>`; then, per run, every acceptance layer on its own ' +
      '(`vitest run --project <layer>`, whole process) and `npm test` (all layers side by side, `lab ensure` first). ' +
      'Medians over the runs, seconds. fake-N: N nodes, Nova\'s fake driver (no guests); real-N: real guests under ' +
      'TCG. checks = passed / failed / skipped in the last `npm test`.',
    '',
    `| config | lab | nodes | compute | up (s) | ${ACCEPTANCE.join(' | ')} | npm test | exits | checks |`,
    `|---|---|---|---|---|${ACCEPTANCE.map(() => '---|').join('')}---|---|---|`,
    ...rows.map((r) => `| ${r.config.id} | ${r.config.lab} | ${r.config.nodes} | ${r.config.computeNodes} | ` +
      `${f1(r.upS)}${r.upExit ? ` (exit ${r.upExit})` : ''} | ${ACCEPTANCE.map((l) => f1(r.layers[l])).join(' | ')} | ` +
      `${f1(r.full)} | ${r.exits} | ${r.checks} |`),
    '',
    ...g.configs.flatMap((e) => (e.note ? [`- ${e.config.id}: ${e.note}`] : [])),
    '',
    `Growth per added node (least squares over ${family.map((r) => r.config.id).join(', ') || '—'}, s/node): ` +
      `${perNode.join(', ')}.`,
    `npm test on ${big} nodes against ${small} nodes (fake driver): ` +
      `${ratio === undefined ? '—' : `${ratio.toFixed(2)}×`} (goal ≤ 1.5×).`,
    '',
  ];
}

/** The all-in-one spec beside the lab's own: the single-node configuration. */
export const singleNode = () => loadLab('all-in-one');
