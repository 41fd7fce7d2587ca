import type { Decision, Decisions, Waiver } from './decisions.ts';
import { layerOf, type Layer } from './layers.ts';
import type { SkipKind } from './check.ts';

export type CheckStatus = 'passed' | 'failed' | 'skipped';

export interface CheckResult {
  readonly checkId: string | undefined;
  readonly name: string;
  readonly file: string;
  readonly status: CheckStatus;
  readonly skip?: { kind: SkipKind; reason: string };
  readonly message?: string;
  readonly durationMs?: number;
}

export type DecisionStatus = 'passed' | 'failed' | 'waived' | 'skipped' | 'blocked' | 'uncovered' | 'not in this run';

export interface MatrixRow {
  readonly decision: string;
  readonly title: string;
  readonly source: string;
  readonly status: DecisionStatus;
  readonly checks: { id: string; status: CheckStatus | 'not run'; note?: string }[];
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
}

function decisionStatus(rows: MatrixRow['checks'], results: Map<string, CheckResult>): DecisionStatus {
  const ran = rows.map((r) => results.get(r.id)).filter((r): r is CheckResult => r !== undefined);
  if (ran.some((r) => r.status === 'failed')) return 'failed';
  // One check that could not run leaves the decision unproven, however many others passed.
  if (ran.some((r) => r.skip?.kind === 'blocked')) return 'blocked';
  if (ran.some((r) => r.status === 'passed')) return 'passed';
  if (ran.some((r) => r.skip?.kind === 'waived')) return 'waived';
  if (ran.length > 0 && ran.every((r) => r.skip && ['not-applicable', 'lacks', 'not-due'].includes(r.skip.kind))) return 'skipped';
  return 'uncovered';
}

/** The gate: every rule that turns a run red, applied to the decisions in scope of the layers that ran. */
export function judge(decisions: Decisions, layers: readonly Layer[], results: readonly CheckResult[], today: string, leftovers: readonly string[] = []): Verdict {
  const byId = new Map<string, CheckResult>();
  for (const r of results) if (r.checkId) byId.set(r.checkId, r);
  const reasons: string[] = [];

  const matrix: MatrixRow[] = decisions.all.map((d: Decision) => {
    const inScope = d.checks.some((c) => layers.includes(layerOf(c)));
    const checks = d.checks.map((id) => {
      const r = byId.get(id);
      return { id, status: r ? r.status : ('not run' as const), ...(r?.skip ? { note: `${r.skip.kind}: ${r.skip.reason}` } : {}) };
    });
    const w = decisions.waivers.find((x) => x.decision === d.id);
    return {
      decision: d.id,
      title: d.title,
      source: d.source,
      status: inScope ? decisionStatus(checks, byId) : 'not in this run',
      checks,
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
  const blocked = matrix.filter((m) => m.status === 'blocked');
  if (blocked.length > 0) {
    const ids = results.filter((r) => r.skip?.kind === 'blocked').map((r) => r.checkId ?? r.name);
    reasons.push(`decision(s) blocked, not proven: ${blocked.map((m) => m.decision).join(', ')} (blocked checks: ${ids.join(', ')})`);
  }
  const expired = matrix.filter((m) => m.waiver?.expired && m.status === 'failed');
  if (expired.length > 0) reasons.push(`expired waiver(s) no longer count: ${expired.map((m) => `${m.decision} (expired ${m.waiver!.expires})`).join(', ')}`);

  if (leftovers.length > 0) reasons.push(`cloud resources this run created are still there: ${leftovers.join(', ')}`);

  const mapped = new Set(decisions.all.flatMap((d) => d.checks));
  const unmappedChecks = results.filter((r) => r.checkId && !mapped.has(r.checkId)).map((r) => r.checkId!);
  return { lab: decisions.lab, pass: reasons.length === 0, layers, counts, reasons, matrix, unmappedChecks };
}

const ICON: Record<string, string> = {
  passed: 'PASS',
  failed: 'FAIL',
  waived: 'WAIVED',
  skipped: 'SKIP',
  blocked: 'BLOCKED',
  uncovered: 'UNCOVERED',
  'not in this run': '—',
  'not run': 'not run',
};

export function matrixMarkdown(v: Verdict): string {
  const lines = [
    `# Decisions matrix — lab \`${v.lab}\``,
    '',
    `Gate: **${v.pass ? 'PASS' : 'FAIL'}** · layers: ${v.layers.join(', ') || 'none'} · passed ${v.counts.passed}, failed ${v.counts.failed}, skipped ${v.counts.skipped}, blocked ${v.counts.blocked}, waived ${v.counts.waived}`,
    '',
    ...(v.reasons.length ? ['Why the gate fails:', '', ...v.reasons.map((r) => `- ${r}`), ''] : []),
    '| decision | title | source | status | checks |',
    '|---|---|---|---|---|',
    ...v.matrix.map(
      (m) =>
        `| ${m.decision} | ${m.title.replace(/\|/g, '\\|')} | ${m.source.replace(/\|/g, '\\|')} | ${ICON[m.status]}${m.waiver ? ` (waiver until ${m.waiver.expires}${m.waiver.expired ? ', EXPIRED' : ''})` : ''} | ${m.checks.map((c) => `\`${c.id}\` ${ICON[c.status]}`).join('<br>')} |`,
    ),
  ];
  if (v.unmappedChecks.length) lines.push('', `Checks that prove no decision of this lab: ${v.unmappedChecks.map((c) => `\`${c}\``).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

export function matrixText(v: Verdict): string {
  const rows = v.matrix.filter((m) => m.status !== 'not in this run');
  const width = Math.max(8, ...rows.map((m) => m.decision.length));
  const out = [`Decisions of lab ${v.lab} (layers: ${v.layers.join(', ')}):`];
  for (const m of rows) {
    out.push(`  ${m.decision.padEnd(width)}  ${ICON[m.status]!.padEnd(9)}  ${m.title}`);
    for (const c of m.checks) if (c.status === 'failed' || (m.status !== 'passed' && c.note)) out.push(`  ${''.padEnd(width)}    ${c.id}: ${c.status}${c.note ? ` (${c.note})` : ''}`);
  }
  out.push(
    `Gate: ${v.pass ? 'PASS' : 'FAIL'} — passed ${v.counts.passed}, failed ${v.counts.failed}, skipped ${v.counts.skipped}, blocked ${v.counts.blocked}, waived ${v.counts.waived}`,
  );
  for (const r of v.reasons) out.push(`  ✗ ${r}`);
  return out.join('\n');
}
