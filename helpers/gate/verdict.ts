import type { Decision, Decisions, Waiver } from './decisions.ts';
import { DESTRUCTIVE, LAYERS, layerOf, type Layer } from './layers.ts';
import { layerGates, layerLines, stoppedAt, type LayerGate } from './gated.ts';
import { reapedLine, type Reaped } from './ledger.ts';

/** Why a check did not run: its own declaration, or what it depends on. */
export type SkipKind = 'not-applicable' | 'lacks' | 'not-due' | 'waived' | 'blocked' | 'undeclared';

export type CheckStatus = 'passed' | 'failed' | 'skipped';

export interface CheckResult {
  readonly checkId: string | undefined;
  readonly name: string;
  readonly file: string;
  readonly status: CheckStatus;
  readonly skip?: { kind: SkipKind; reason: string; by?: Layer };
  readonly message?: string;
  readonly durationMs?: number;
}

/**
 * `passed`: every check the decision names ran and passed, or does not apply to this lab. `partial`: some passed,
 * the others could not prove anything here (not due, a capability the lab lacks, not in this run, not written).
 * `design only`: the same, and only checks of the spec (pre.*) passed. Neither of the two is a pass.
 */
export type DecisionStatus = 'passed' | 'partial' | 'design only' | 'failed' | 'waived' | 'skipped' | 'blocked' | 'uncovered' | 'not in this run';

export interface MatrixRow {
  readonly decision: string;
  readonly title: string;
  readonly source: string;
  readonly status: DecisionStatus;
  readonly checks: { id: string; status: CheckStatus | 'not run'; note?: string; by?: Layer }[];
  /** For a partial or design-only decision: each check that proved nothing here, and why. */
  readonly unproven?: string[];
  readonly waiver?: Waiver & { expired: boolean };
}

export interface Verdict {
  readonly lab: string;
  readonly pass: boolean;
  readonly layers: readonly Layer[];
  readonly counts: { passed: number; failed: number; skipped: number; blocked: number; waived: number };
  readonly reasons: readonly string[];
  readonly matrix: readonly MatrixRow[];
  readonly unmappedChecks: readonly string[];
  /** What the reaper removed before this run (leftovers of dead earlier runs), when it ran. */
  readonly reaped?: Reaped;
  /** Each layer as a gate, in the design's order; `gated`: the layers ran one after another, each a hard gate. */
  readonly gates?: readonly LayerGate[];
  readonly gated?: boolean;
}

type CheckRow = MatrixRow['checks'][number];

/** A check proved its part when it passed, or when the lab spec says it does not apply to this lab. */
const proves = (c: CheckRow, r: CheckResult | undefined) => c.status === 'passed' || r?.skip?.kind === 'not-applicable';

function decisionStatus(rows: readonly CheckRow[], results: Map<string, CheckResult>): { status: DecisionStatus; unproven?: string[] } {
  const ran = rows.map((r) => results.get(r.id)).filter((r): r is CheckResult => r !== undefined);
  if (ran.some((r) => r.status === 'failed')) return { status: 'failed' };
  // One check that could not run leaves the decision unproven, however many others passed.
  if (ran.some((r) => r.skip?.kind === 'blocked')) return { status: 'blocked' };
  // A waived failure is not a pass, whatever its neighbours did.
  if (ran.some((r) => r.skip?.kind === 'waived')) return { status: 'waived' };
  const passed = rows.filter((c) => c.status === 'passed');
  if (passed.length === 0) {
    if (ran.length > 0 && ran.every((r) => r.skip && ['not-applicable', 'lacks', 'not-due'].includes(r.skip.kind))) return { status: 'skipped' };
    return { status: 'uncovered' };
  }
  const unproven = rows.filter((c) => !proves(c, results.get(c.id)));
  if (unproven.length === 0) return { status: 'passed' };
  const why = unproven.map((c) => `${c.id}: ${c.note ?? c.status}`);
  const designOnly = passed.every((c) => layerOf(c.id) === 'preflight') && unproven.some((c) => layerOf(c.id) !== 'preflight');
  return { status: designOnly ? 'design only' : 'partial', unproven: why };
}

/** Why a check the decision names has no result: its layer was not run, or no check of that ID exists. */
function notRunNote(id: string, layers: readonly Layer[]): string {
  const layer = layerOf(id);
  if (layers.includes(layer)) return `not run: no check ${id} ran in layer ${layer} (not written yet, or filtered out)`;
  // npm test never reboots the lab: say how the proof is had.
  if (DESTRUCTIVE.includes(layer)) return `layer ${layer} changes the lab and runs only by name (npx vitest run --project ${layer})`;
  return `not run: layer ${layer} is not in this run`;
}

/** The gate: every rule that turns a run red, applied to the decisions in scope of the layers that ran. */
export function judge(
  decisions: Decisions,
  layers: readonly Layer[],
  results: readonly CheckResult[],
  today: string,
  leftovers: readonly string[] = [],
  reaped?: Reaped,
  gated = false,
): Verdict {
  const byId = new Map<string, CheckResult>();
  for (const r of results) if (r.checkId) byId.set(r.checkId, r);
  const reasons: string[] = [];

  const matrix: MatrixRow[] = decisions.all.map((d: Decision) => {
    const inScope = d.checks.some((c) => layers.includes(layerOf(c)));
    const checks = d.checks.map((id) => {
      const r = byId.get(id);
      const note = r?.skip ? `${r.skip.kind}: ${r.skip.reason}` : r ? undefined : notRunNote(id, layers);
      return { id, status: r ? r.status : ('not run' as const), ...(note ? { note } : {}), ...(r?.skip?.by ? { by: r.skip.by } : {}) };
    });
    const w = decisions.waivers.find((x) => x.decision === d.id);
    const judged = inScope ? decisionStatus(checks, byId) : { status: 'not in this run' as const };
    return {
      decision: d.id,
      title: d.title,
      source: d.source,
      status: judged.status,
      checks,
      ...(judged.unproven ? { unproven: judged.unproven } : {}),
      ...(w ? { waiver: { ...w, expired: w.expires < today } } : {}),
    };
  });

  const counts = {
    passed: results.filter((r) => r.status === 'passed').length,
    failed: results.filter((r) => r.status === 'failed').length,
    skipped: results.filter((r) => r.status === 'skipped' && r.skip?.kind !== 'blocked' && r.skip?.kind !== 'waived').length,
    blocked: results.filter((r) => r.skip?.kind === 'blocked').length,
    waived: results.filter((r) => r.skip?.kind === 'waived').length,
  };

  if (counts.failed > 0) reasons.push(`${counts.failed} check(s) failed: ${results.filter((r) => r.status === 'failed').map((r) => r.checkId ?? r.name).join(', ')}`);
  if (counts.passed + counts.failed === 0) reasons.push('zero checks ran: a run that proves nothing cannot pass');
  const undeclared = results.filter((r) => r.status === 'skipped' && (!r.skip || r.skip.kind === 'undeclared'));
  if (undeclared.length > 0) reasons.push(`skipped for a reason the lab spec does not declare: ${undeclared.map((r) => r.checkId ?? r.name).join(', ')}`);
  const notChecks = results.filter((r) => !r.checkId);
  if (notChecks.length > 0) reasons.push(`tests without a check ID (use check()): ${notChecks.map((r) => `${r.file} › ${r.name}`).join(', ')}`);
  const uncovered = matrix.filter((m) => m.status === 'uncovered');
  if (uncovered.length > 0) reasons.push(`decision(s) no executed check covers: ${uncovered.map((m) => m.decision).join(', ')}`);
  const gates = layerGates(results, layers, gated);
  const stop = stoppedAt(gates);
  const above = gates.filter((g) => g.status === 'blocked' && gated).map((g) => g.layer);
  if (stop && above.length > 0) reasons.push(`the gate stopped at layer ${stop}: ${above.join(', ')} blocked by it, not run`);
  const blocked = matrix.filter((m) => m.status === 'blocked');
  if (blocked.length > 0) {
    // Checks a lower layer blocked are counted per layer, not listed: the layer line above says why.
    const under = new Map(gates.filter((g) => g.by).map((g) => [g.layer, g.by!]));
    const lower = (r: CheckResult) => r.skip?.by ?? (r.checkId ? under.get(layerOf(r.checkId)) : undefined);
    const ids = results.filter((r) => r.skip?.kind === 'blocked' && !lower(r)).map((r) => r.checkId ?? r.name);
    const byLayer = LAYERS.map((l) => [l, results.filter((r) => r.skip?.kind === 'blocked' && lower(r) === l).length] as const)
      .filter(([, n]) => n > 0);
    const parts = [...ids, ...byLayer.map(([l, n]) => `${n} blocked by ${l}`)];
    reasons.push(`decision(s) blocked, not proven: ${blocked.map((m) => m.decision).join(', ')} (blocked checks: ${parts.join(', ')})`);
  }
  const expired = matrix.filter((m) => m.waiver?.expired && m.status === 'failed');
  if (expired.length > 0) reasons.push(`expired waiver(s) no longer count: ${expired.map((m) => `${m.decision} (expired ${m.waiver!.expires})`).join(', ')}`);

  if (leftovers.length > 0) reasons.push(`cloud resources this run created are still there: ${leftovers.join(', ')}`);

  const mapped = new Set(decisions.all.flatMap((d) => d.checks));
  const unmappedChecks = results.filter((r) => r.checkId && !mapped.has(r.checkId)).map((r) => r.checkId!);
  return { lab: decisions.lab, pass: reasons.length === 0, layers, counts, reasons, matrix, unmappedChecks, ...(reaped ? { reaped } : {}), gates, gated };
}

/** How a status reads in every report (matrix, summary, JUnit, Allure): only `passed` reads PASS. */
export const ICON: Record<DecisionStatus | CheckStatus | 'not run', string> = {
  passed: 'PASS',
  partial: 'PARTIAL',
  'design only': 'DESIGN ONLY',
  failed: 'FAIL',
  waived: 'WAIVED',
  skipped: 'SKIP',
  blocked: 'BLOCKED',
  uncovered: 'UNCOVERED',
  'not in this run': '—',
  'not run': 'not run',
};

const ORDER: readonly DecisionStatus[] = ['passed', 'partial', 'design only', 'failed', 'blocked', 'uncovered', 'waived', 'skipped'];

/** "decisions: 12 passed, 3 partial, 1 design only": the decisions in scope by status. */
export function decisionTally(v: Pick<Verdict, 'matrix'>): string {
  const count = (s: DecisionStatus) => v.matrix.filter((m) => m.status === s).length;
  const parts = ORDER.filter((s) => count(s) > 0).map((s) => `${count(s)} ${s}`);
  return `decisions: ${parts.join(', ') || 'none in scope'}`;
}

/** Decisions that passed checks but are not proven: what is left to prove and why, one line each. */
export const unprovenLines = (v: Pick<Verdict, 'matrix'>): string[] =>
  v.matrix.filter((m) => m.unproven?.length).map((m) => `${m.decision} ${ICON[m.status]}: not proven by ${m.unproven!.join('; ')}`);

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function matrixMarkdown(v: Verdict): string {
  const lines = [
    `# Decisions matrix — lab \`${v.lab}\``,
    '',
    `Gate: **${v.pass ? 'PASS' : 'FAIL'}** · layers: ${v.layers.join(', ') || 'none'} · ${decisionTally(v)} · checks: passed ${v.counts.passed}, failed ${v.counts.failed}, skipped ${v.counts.skipped}, blocked ${v.counts.blocked}, waived ${v.counts.waived}`,
    '',
    ...(v.reasons.length ? ['Why the gate fails:', '', ...v.reasons.map((r) => `- ${r}`), ''] : []),
    ...(v.reaped ? [`Before the checks — ${reapedLine(v.reaped)}`, ''] : []),
    ...(v.gates?.length ? ['```', ...layerLines(v.gates, v.gated === true), '```', ''] : []),
    '| decision | title | source | status | checks |',
    '|---|---|---|---|---|',
    ...v.matrix.map((m) => {
      const waiver = m.waiver ? ` (waiver until ${m.waiver.expires}${m.waiver.expired ? ', EXPIRED' : ''})` : '';
      const unproven = m.unproven?.length ? `<br>not proven: ${m.unproven.map(cell).join('<br>')}` : '';
      return `| ${m.decision} | ${cell(m.title)} | ${cell(m.source)} | ${ICON[m.status]}${waiver}${unproven} | ${m.checks.map((c) => `\`${c.id}\` ${ICON[c.status]}`).join('<br>')} |`;
    }),
  ];
  if (v.unmappedChecks.length) lines.push('', `Checks that prove no decision of this lab: ${v.unmappedChecks.map((c) => `\`${c}\``).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

export function matrixText(v: Verdict): string {
  const rows = v.matrix.filter((m) => m.status !== 'not in this run');
  const width = Math.max(8, ...rows.map((m) => m.decision.length));
  const out = [`Decisions of lab ${v.lab} (layers: ${v.layers.join(', ')}):`];
  for (const m of rows) {
    out.push(`  ${m.decision.padEnd(width)}  ${ICON[m.status].padEnd(11)}  ${m.title}`);
    const shown = m.checks.filter((c) => !c.by && (c.status === 'failed' || (m.status !== 'passed' && c.note)));
    // Checks that say the same (a lab not attached here blocks them all alike) share one line.
    const same = new Map<string, string[]>();
    for (const c of shown) {
      const said = `${c.status}${c.note ? ` (${c.note})` : ''}`;
      same.set(said, [...(same.get(said) ?? []), c.id]);
    }
    for (const [said, ids] of same) out.push(`  ${''.padEnd(width)}    ${ids.join(', ')}: ${said}`);
    // One line per lower layer that blocked checks of this decision, not one per check.
    for (const l of LAYERS) {
      const by = m.checks.filter((c) => c.by === l).map((c) => c.id);
      if (by.length) out.push(`  ${''.padEnd(width)}    blocked by ${l}: ${by.join(', ')}`);
    }
  }
  if (v.gates?.length) out.push(...layerLines(v.gates, v.gated === true));
  out.push(
    `Gate: ${v.pass ? 'PASS' : 'FAIL'} — ${decisionTally(v)}; checks: passed ${v.counts.passed}, failed ${v.counts.failed}, skipped ${v.counts.skipped}, blocked ${v.counts.blocked}, waived ${v.counts.waived}`,
  );
  for (const r of v.reasons) out.push(`  ✗ ${r}`);
  if (v.reaped) out.push(`  ${reapedLine(v.reaped)}`);
  return out.join('\n');
}
