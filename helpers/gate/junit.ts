/**
 * The gate's verdict in JUnit: Vitest's JUnit file lists the checks; this adds a suite of the decisions in scope
 * (only a proven decision reads as passed there), the reaper's line and, when a layer did not pass, the line of every
 * layer, so a CI that reads JUnit alone sees them all.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { reapedLine } from './ledger.ts';
import { layerLines, stoppedAt } from './gated.ts';
import { ICON, type MatrixRow, type Verdict } from './verdict.ts';

const xml = (s: string) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

/** Why the decision is not passed, in one message; undefined for a passed one. */
function outcome(m: MatrixRow): { element: 'failure' | 'skipped'; message: string } | undefined {
  if (m.status === 'passed') return undefined;
  const checks = m.checks.map((c) => `${c.id} ${c.status}${c.note ? ` (${c.note})` : ''}`).join('; ');
  const message = m.unproven?.length ? `${ICON[m.status]}: not proven by ${m.unproven.join('; ')}` : `${ICON[m.status]}: ${checks}`;
  // The statuses that fail the gate are failures here too; the rest are not a pass either.
  return { element: ['failed', 'blocked', 'uncovered'].includes(m.status) ? 'failure' : 'skipped', message };
}

export function decisionsSuite(v: Verdict): { xml: string; tests: number; failures: number } {
  const rows = v.matrix.filter((m) => m.status !== 'not in this run');
  const cases = rows.map((m) => {
    const o = outcome(m);
    const name = xml(`${m.decision} ${m.title}`);
    const status = `<properties><property name="status" value="${xml(m.status)}"/></properties>`;
    return o
      ? `    <testcase classname="stackgate decisions" name="${name}">${status}<${o.element} message="${xml(o.message)}"/></testcase>`
      : `    <testcase classname="stackgate decisions" name="${name}">${status}</testcase>`;
  });
  if (v.reaped) {
    const line = xml(reapedLine(v.reaped));
    cases.push(`    <testcase classname="stackgate" name="reaper: leftovers of dead earlier runs"><system-out>${line}</system-out></testcase>`);
  }
  const stop = v.gates ? stoppedAt(v.gates) : undefined;
  if (stop) {
    const lines = xml(layerLines(v.gates!, v.gated === true).join('\n'));
    cases.push(`    <testcase classname="stackgate" name="layers: the gate stopped at ${stop}"><system-out>${lines}</system-out></testcase>`);
  }
  const failures = rows.filter((m) => outcome(m)?.element === 'failure').length;
  const skipped = rows.filter((m) => outcome(m)?.element === 'skipped').length;
  const reaped = v.reaped ? `\n    <properties><property name="reaped" value="${xml(reapedLine(v.reaped))}"/></properties>` : '';
  const suite = [
    `  <testsuite name="stackgate decisions of lab ${xml(v.lab)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}">${reaped}`,
    ...cases,
    '  </testsuite>',
  ].join('\n');
  return { xml: suite, tests: cases.length, failures };
}

/** Add the decisions suite to a JUnit file Vitest wrote, keeping the totals of its root element true. */
export function addDecisionsToJUnit(file: string, v: Verdict): void {
  const text = readFileSync(file, 'utf8');
  const end = text.lastIndexOf('</testsuites>');
  if (end < 0) throw new Error(`${file} is not a JUnit file Vitest wrote (no </testsuites>)`);
  const suite = decisionsSuite(v);
  const add = (attr: string, n: number) => (head: string) => head.replace(new RegExp(`\\b${attr}="(\\d+)"`), (_, x: string) => `${attr}="${Number(x) + n}"`);
  const root = /<testsuites\b[^>]*>/.exec(text);
  if (!root) throw new Error(`${file} has no <testsuites> element`);
  const head = [add('tests', suite.tests), add('failures', suite.failures)].reduce((h, f) => f(h), root[0]);
  const body = text.slice(0, end).replace(root[0], () => head);
  writeFileSync(file, `${body}${suite.xml}\n${text.slice(end)}`);
}
