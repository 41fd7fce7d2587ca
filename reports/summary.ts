// The nightly job's summary (GitHub's $GITHUB_STEP_SUMMARY, Markdown): the gate's verdict, the failed decisions,
// the counts, and the trend against the previous run of the same lab in the Allure history.
//
//   npx tsx reports/summary.ts [--decisions reports/decisions.json] [--history reports/history.jsonl] [--exit-code N]
//
// Run it before `npm run report`: the report appends tonight's run to the history, whose last run of the lab is
// then no longer the previous night.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { reapedLine } from '../helpers/gate/ledger.ts';
import { decisionTally, ICON, type CheckResult, type Verdict } from '../helpers/gate/verdict.ts';

export type RunVerdict = Verdict & { results: CheckResult[] };

/** One run in Allure 3's history file (one JSON object a line); only what the summary reads. */
export interface HistoryRun {
  readonly uuid?: string;
  readonly timestamp: number;
  readonly testResults: Record<string, { status: string; name?: string; labels?: { name: string; value?: string }[] }>;
}

export interface RunCounts {
  readonly passed: number;
  readonly failed: number;
  /** Not executed: skipped, blocked or waived (the history keeps no reason). */
  readonly notExecuted: number;
}

export interface PreviousRun {
  readonly timestamp: number;
  readonly counts: RunCounts;
  /** Check ID → Allure status. */
  readonly checks: ReadonlyMap<string, string>;
}

export function readHistory(file: string): HistoryRun[] {
  if (!existsSync(file)) return [];
  const runs: HistoryRun[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const run = JSON.parse(line) as HistoryRun;
      if (typeof run.timestamp === 'number' && run.testResults && typeof run.testResults === 'object') runs.push(run);
    } catch {
      // A torn last line (a job killed while the report was written) leaves the runs before it intact.
    }
  }
  return runs;
}

const labelOf = (r: HistoryRun['testResults'][string], name: string) => r.labels?.find((l) => l.name === name)?.value;

/** The latest run in the history that judged `lab` (a check's Allure suite is its lab), with its checks. */
export function previousRun(history: readonly HistoryRun[], lab: string): PreviousRun | undefined {
  for (const run of [...history].sort((a, b) => b.timestamp - a.timestamp)) {
    const results = Object.values(run.testResults).filter((r) => labelOf(r, 'suite') === lab);
    if (results.length === 0) continue;
    const checks = new Map<string, string>();
    for (const r of results) checks.set(labelOf(r, 'check') ?? r.name ?? '?', r.status);
    return {
      timestamp: run.timestamp,
      checks,
      counts: {
        passed: results.filter((r) => r.status === 'passed').length,
        failed: results.filter((r) => r.status === 'failed' || r.status === 'broken').length,
        notExecuted: results.filter((r) => r.status !== 'passed' && r.status !== 'failed' && r.status !== 'broken').length,
      },
    };
  }
  return undefined;
}

const delta = (now: number, before: number) => (now === before ? '±0' : now > before ? `+${now - before}` : `−${before - now}`);
const utc = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export interface SummaryInput {
  readonly verdict: RunVerdict | undefined;
  readonly history: readonly HistoryRun[];
  /** The acceptance's exit code as the workflow recorded it; '' when it did not run. */
  readonly exitCode?: string;
  readonly lab?: string;
}

/** The job summary in Markdown. */
export function summarize({ verdict, history, exitCode, lab }: SummaryInput): string {
  if (!verdict) {
    const why = exitCode === undefined || exitCode === '' ? 'the acceptance did not run' : `the run stopped before the gate reporter (exit code ${exitCode})`;
    return `## stackgate nightly${lab ? ` — lab \`${lab}\`` : ''}: gate **FAIL**\n\nNo verdict: ${why}. See the job log.\n`;
  }
  const v = verdict;
  const out = [`## stackgate nightly — lab \`${v.lab}\`: gate **${v.pass ? 'PASS' : 'FAIL'}**`, ''];
  out.push(`Layers: ${v.layers.join(', ') || 'none'}`, '');
  if (exitCode !== undefined && exitCode !== '' && (exitCode === '0') !== v.pass) {
    out.push(`> The acceptance exited ${exitCode} although the gate says ${v.pass ? 'PASS' : 'FAIL'}: ${v.pass ? 'an error outside the checks (see the log); the job fails' : 'the exit code is wrong'}.`, '');
  }

  out.push('| passed | failed | skipped | blocked | waived |', '|---:|---:|---:|---:|---:|');
  out.push(`| ${v.counts.passed} | ${v.counts.failed} | ${v.counts.skipped} | ${v.counts.blocked} | ${v.counts.waived} |`, '');
  out.push(`Decisions in scope: ${decisionTally(v).replace(/^decisions: /, '')}`, '');
  if (v.reaped) out.push(`**Leftovers of earlier runs**: ${cell(reapedLine(v.reaped))}`, '');

  if (v.reasons.length) out.push('**Why the gate fails**', '', ...v.reasons.map((r) => `- ${cell(r)}`), '');

  const failed = v.matrix.filter((m) => ['failed', 'uncovered', 'blocked'].includes(m.status));
  if (failed.length) {
    out.push('**Failed decisions**', '', '| decision | title | status | checks |', '|---|---|---|---|');
    for (const m of failed) {
      const checks = m.checks.filter((c) => c.status === 'failed' || m.status !== 'failed');
      out.push(`| ${m.decision} | ${cell(m.title)} | ${m.status} | ${checks.map((c) => `\`${c.id}\` ${c.status}`).join(', ')} |`);
    }
    out.push('');
  }

  // Not failures (the gate passes them), but not proven either: what is left to prove, and why.
  const unproven = v.matrix.filter((m) => m.unproven?.length);
  if (unproven.length) {
    out.push('**Decisions not proven** (partial: some checks could not run; design only: only the spec was checked)', '');
    out.push('| decision | title | status | not proven by |', '|---|---|---|---|');
    for (const m of unproven) out.push(`| ${m.decision} | ${cell(m.title)} | ${ICON[m.status]} | ${m.unproven!.map((u) => `\`${cell(u).replace(/: /, '` ')}`).join('<br>')} |`);
    out.push('');
  }

  const prev = previousRun(history, v.lab);
  if (!prev) {
    out.push('**Trend**: no earlier run of this lab in the history (first night, or the history was not restored).');
  } else {
    const notExecuted = v.counts.skipped + v.counts.blocked + v.counts.waived;
    out.push(
      `**Trend** against the previous run (${utc(prev.timestamp)}): passed ${v.counts.passed} (${delta(v.counts.passed, prev.counts.passed)}), ` +
        `failed ${v.counts.failed} (${delta(v.counts.failed, prev.counts.failed)}), not executed ${notExecuted} (${delta(notExecuted, prev.counts.notExecuted)})`,
    );
    const now = new Map(v.results.filter((r) => r.checkId).map((r) => [r.checkId!, r.status]));
    const newlyFailing = [...now].filter(([id, s]) => s === 'failed' && !['failed', 'broken'].includes(prev.checks.get(id) ?? '')).map(([id]) => id);
    const fixed = [...now].filter(([id, s]) => s === 'passed' && ['failed', 'broken'].includes(prev.checks.get(id) ?? '')).map(([id]) => id);
    const added = [...now.keys()].filter((id) => !prev.checks.has(id));
    const gone = [...prev.checks.keys()].filter((id) => !now.has(id));
    const list = (ids: string[]) => ids.sort().map((id) => `\`${id}\``).join(', ');
    out.push('');
    if (newlyFailing.length) out.push(`- newly failing: ${list(newlyFailing)}`);
    if (fixed.length) out.push(`- fixed: ${list(fixed)}`);
    if (added.length) out.push(`- new checks: ${list(added)}`);
    if (gone.length) out.push(`- checks no longer run: ${list(gone)}`);
    if (!newlyFailing.length && !fixed.length && !added.length && !gone.length) out.push('- no check changed its outcome');
  }
  out.push('', 'Artifacts: `allure-report` (open index.html through a web server, e.g. `npx allure open`), `decisions-matrix`, `junit`.', '');
  return out.join('\n');
}

function arg(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1] ?? '';
  return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

export function main(argv: readonly string[]): string {
  const reports = resolve(process.env.STACKGATE_REPORTS ?? 'reports');
  const decisionsFile = resolve(arg(argv, '--decisions') ?? join(reports, 'decisions.json'));
  const historyFile = resolve(arg(argv, '--history') ?? process.env.STACKGATE_ALLURE_HISTORY ?? join('reports', 'history.jsonl'));
  let verdict: RunVerdict | undefined;
  try {
    verdict = JSON.parse(readFileSync(decisionsFile, 'utf8')) as RunVerdict;
  } catch {
    verdict = undefined;
  }
  return summarize({ verdict, history: readHistory(historyFile), exitCode: arg(argv, '--exit-code'), lab: process.env.STACKGATE_LAB });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.stdout.write(main(process.argv.slice(2)));
