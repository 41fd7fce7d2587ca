// The fault drills, proven on the running embedded lab (Vitest project `drills`, run by `npm run test:self`
// after the self-tests): on the healthy lab the layers pass; with each drill injected exactly its listed checks
// fail, each naming one of its decisions and its object; after revert the lab passes again. The detection table
// goes to reports/drills.md. Skipped (with the reason) where the lab is not up or this is not root.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../../helpers/gate/child-run.ts';
import { DESTRUCTIVE, layerOf, type Layer } from '../../../helpers/gate/layers.ts';
import { loadLab, repoRoot } from '../../../helpers/lab/load.ts';
import { status } from '../index.ts';
import { drillCatalogue, type Drill } from './index.ts';

interface Result {
  checkId?: string;
  status: 'passed' | 'failed' | 'skipped';
  skip?: { kind: string; reason: string };
  message?: string;
}

const lab = loadLab(process.env.STACKGATE_LAB ?? 'embedded');
const root = process.getuid?.() === 0;
const up = root && lab.provider === 'local' ? (await status(lab)).up : false;
// Unset: every drill but the slow ones (reboots, long bounds), which the nightly workflow runs with
// STACKGATE_DRILLS=slow; `all` runs the whole catalogue; name,name narrows the run (a trailing * takes every drill whose
// name begins so: `lb-*` is Octavia's, which the nightly runs on the embedded-lb lab).
const chosen = process.env.STACKGATE_DRILLS?.split(',').filter(Boolean) ?? [];
const tier = chosen.length === 1 && (chosen[0] === 'all' || chosen[0] === 'slow') ? chosen[0] : undefined;
const only = chosen.length && !tier ? chosen : undefined;
const catalogue = drillCatalogue(lab);
const named = (d: Drill, n: string) => (n.endsWith('*') ? d.name.startsWith(n.slice(0, -1)) : d.name === n);
const wanted = (d: Drill) => (only ? only.some((n) => named(d, n)) : tier === 'all' || (tier === 'slow') === Boolean(d.slow));
const drills = catalogue.filter(wanted);
const left = only ? [] : catalogue.filter((d) => !wanted(d));
const scratch = join(repoRoot, 'reports/tmp/drills');

/**
 * The bound of one run of layers; each drill's test gets it and a minute more, so a run that hangs ends with its
 * own output (what it waited for) instead of a bare test timeout, and is stopped before the next drill begins.
 */
// 540 s: with the floating IPs cut, the compute layer waits out every SSH bound of the checks that borrow the guest
// (compute.tenant-api-reach beside guest-dns and guest-reachable) and ran past 420 s in CI.
const RUN_MS = 540_000;
const DRILL_MS = RUN_MS + 60_000;

/** Run some layers against the lab in a child Vitest; its own results only, never the real report. */
async function runLayers(layers: readonly Layer[], tag: string, env: Readonly<Record<string, string>> = {}): Promise<Result[]> {
  // Never a bare `vitest run`: it would run every project, these drills included.
  if (layers.length === 0) return [];
  const args = layers.flatMap((l) => ['--project', l]);
  const run = await runChecks({ lab: lab.file, scratch: join(scratch, tag), args, timeoutMs: RUN_MS, env: { ...env } });
  const tail = run.output.slice(-4000);
  if (run.timedOut) throw new Error(`layers ${layers.join(', ')} still running after ${RUN_MS / 1000} s; interrupted:\n${tail}`);
  if (!run.verdict) throw new Error(`layers ${layers.join(', ')} stopped before the gate reporter:\n${tail}`);
  return run.verdict.results;
}

const failedIds = (results: Result[]) => results.filter((r) => r.status === 'failed').map((r) => r.checkId ?? '?').sort();
const passedIds = (results: Result[]) =>
  results.filter((r) => r.status === 'passed').map((r) => r.checkId ?? '?').sort();
const blockedIds = (results: Result[]) => results.filter((r) => r.skip?.kind === 'blocked').map((r) => r.checkId ?? '?').sort();
/** What each expected check did instead, so that a missed drill names its cause (a blocked boot, a pass). */
const outcomes = (results: Result[], checks: readonly string[]) =>
  checks.map((id) => {
    const r = results.find((x) => x.checkId === id);
    if (!r) return `${id}: not run`;
    const why = r.skip ? `: ${r.skip.kind}: ${r.skip.reason}` : r.message ? `: ${r.message}` : '';
    return `${id} ${r.status}${why}`.slice(0, 600);
  }).join('; ');
const layersOf = (checks: readonly string[]) => [...new Set(checks.map(layerOf))];
const rows: string[] = [];

describe.skipIf(!up)(`fault drills on lab ${lab.name}`, () => {
  // Without the layers that change the lab (persistence reboots it: persistence.live.ts proves it healthy).
  const allLayers = [...new Set([...layersOf(drills.flatMap((d) => d.checks)), ...drills.flatMap((d) => d.layers ?? [])])]
    .filter((l) => !DESTRUCTIVE.includes(l));

  const t0 = performance.now();
  beforeAll(async () => {
    for (const d of drills) await d.revert(lab); // a crashed earlier run may have left one in
    const healthy = await runLayers(allLayers, 'healthy');
    expect(failedIds(healthy), 'checks failing on the healthy lab before any drill').toEqual([]);
  }, DRILL_MS);

  afterAll(async () => {
    for (const d of drills) await d.revert(lab);
    // A tier replaces its table in reports/; a chosen few (STACKGATE_DRILLS=name,…) go to tmp.
    // Another bundled lab's drills (`lb-*` on embedded-lb) are that lab's table: reports/drills-<lab>.md.
    const own = lab.name !== 'embedded' && only?.some((n) => n.endsWith('*'));
    const file = join(repoRoot, own ? `reports/drills-${lab.name}.md`
      : only ? 'reports/tmp/drills-some.md' : tier === 'slow' ? 'reports/drills-slow.md' : 'reports/drills.md');
    const others = readdirSync(join(repoRoot, 'reports')).filter((f) => /^drills-.+\.md$/.test(f) && join(repoRoot, 'reports', f) !== file);
    mkdirSync(dirname(file), { recursive: true });
    const caught = rows.filter((r) => r.includes('| caught |')).length;
    writeFileSync(
      file,
      [
        `# Fault drills — detection table (lab \`${lab.name}\`)`,
        '',
        'Each drill is injected into the running lab, the layers of its checks are run, and it is reverted.',
        '',
        '| drill | decisions | expected to fail | observed failing | verdict | seconds |',
        '|---|---|---|---|---|---|',
        ...rows,
        ...left.map((d) => `| ${d.name} | ${d.decisions.join(', ')} | ${d.checks.join(', ')} | not run here | ${d.slow ? 'slow' : 'quick'} | — |`),
        '',
        `${caught} of ${drills.length} drills caught; ${Math.round((performance.now() - t0) / 1000)} s in all, with the healthy runs before and after.`,
        '',
        ...(others.length ? [`Other tables: ${others.map((f) => `reports/${f}`).join(', ')}.`, ''] : []),
      ].join('\n'),
    );
  }, 300_000);

  for (const drill of drills) {
    it(`${drill.name}: ${drill.description}`, async () => {
      const started = performance.now();
      let observed: string[] = [];
      let ok = false;
      try {
        await drill.inject(lab);
        const results = await runLayers(drill.layers ?? layersOf(drill.checks), drill.name, drill.env);
        observed = failedIds(results);
        if (drill.after) expect(await drill.after(lab), `after the run with ${drill.name} in place`).toEqual([]);
        // Each expected check's outcome and each unexpected failure's message, so a miss names its cause.
        const unexpected = observed.filter((id) => !drill.checks.includes(id));
        expect(observed, `checks failing with ${drill.name} in place (${outcomes(results, [...unexpected, ...drill.checks])})`)
          .toEqual([...drill.checks].sort());
        // Blocked, not failed: a check that stands on a failing one says so instead of failing twice.
        if (drill.blocked) expect(blockedIds(results), `checks blocked with ${drill.name} in place`).toEqual(expect.arrayContaining([...drill.blocked]));
        if (drill.passes) {
          expect(passedIds(results), `checks passing with ${drill.name} in place`)
            .toEqual(expect.arrayContaining([...drill.passes]));
        }
        for (const r of results.filter((x) => x.status === 'failed')) {
          expect(drill.decisions.some((d) => r.message?.includes(`[${d}`) || r.message?.includes(`; ${d} `)), `${r.checkId} names a decision of ${drill.decisions.join('/')}: ${r.message}`).toBe(true);
          if (!drill.objectless?.includes(r.checkId ?? '')) expect(r.message, `${r.checkId} names the object`).toContain(drill.object);
        }
        ok = true;
      } finally {
        await drill.revert(lab);
        const seconds = ((performance.now() - started) / 1000).toFixed(0);
        rows.push(`| ${drill.name} | ${drill.decisions.join(', ')} | ${drill.checks.join(', ')} | ${observed.join(', ') || (drill.after ? 'none; the run removed it' : '—')} | ${ok ? 'caught' : 'MISSED'} | ${seconds} |`);
      }
    }, DRILL_MS);
  }

  for (const d of left) it.skip(`${d.name}: ${d.slow ? `slow (${d.slow}): STACKGATE_DRILLS=slow` : 'quick: run without STACKGATE_DRILLS'}`, () => {});

  it('the lab passes again after every drill is reverted', async () => {
    expect(failedIds(await runLayers(allLayers, 'reverted'))).toEqual([]);
  }, DRILL_MS);
});

describe.runIf(!up)('fault drills', () => {
  it.skip(`need the ${lab.name} lab up and root (npm run lab -- up)`, () => {});
});
