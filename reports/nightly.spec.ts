// The nightly workflow (.github/workflows/nightly.yml): valid against the published workflow schema, shaped as the
// issue asks (inputs, history restored before and saved after, the three artifacts, a summary, the gate decides
// the job), and the job summary script it runs.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { execa } from 'execa';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/lab/load.ts';
import type { RunVerdict, HistoryRun } from './summary.ts';
import { previousRun, summarize } from './summary.ts';
import { condition, evaluate, interpolate, loadWorkflow, parseCommandFile, type Evaluation, type Step } from './workflow.ts';

const workflowFile = join(repoRoot, '.github/workflows/nightly.yml');
const schemaFile = join(repoRoot, 'fixtures/schema/github-workflow.json');
const workflow = loadWorkflow(workflowFile);
const job = Object.values(workflow.jobs)[0]!;
const stepIndex = (pred: (s: Step) => boolean) => job.steps.findIndex(pred);
const uses = (action: string) => (s: Step) => s.uses?.split('@')[0] === action;

function validator() {
  // SchemaStore writes draft-07 without a "type" beside every keyword and with union types: strict about unknown
  // keywords and formats, relaxed about those styles and about `required` names declared in a sibling branch.
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false, allowUnionTypes: true });
  return ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')) as object);
}

describe('the nightly workflow against the published GitHub workflow schema', () => {
  it('the schema fixture is the file its provenance names', () => {
    const provenance = readFileSync(join(repoRoot, 'fixtures/schema/github-workflow.provenance.md'), 'utf8');
    expect(provenance).toContain('https://github.com/SchemaStore/schemastore');
    expect(provenance).toMatch(/commit: [0-9a-f]{40}/);
    expect(provenance).toContain('path: src/schemas/json/github-workflow.json');
    const sha = createHash('sha256').update(readFileSync(schemaFile)).digest('hex');
    expect(provenance).toContain(`sha256: ${sha}`);
    expect(JSON.parse(readFileSync(schemaFile, 'utf8')).$schema).toBe('http://json-schema.org/draft-07/schema#');
  });

  it('nightly.yml is valid', () => {
    const validate = validator();
    const ok = validate(parse(readFileSync(workflowFile, 'utf8')));
    expect(validate.errors ?? [], 'schema errors').toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema catches what a typo would break (so the test above proves something)', () => {
    const validate = validator();
    const doc = parse(readFileSync(workflowFile, 'utf8')) as { jobs: Record<string, Record<string, unknown>>; on: Record<string, unknown> };
    const typo = structuredClone(doc);
    (typo.jobs.acceptance!.steps as Record<string, unknown>[])[0]!.uzes = 'actions/checkout@v4';
    expect(validate(typo)).toBe(false);
    const noRunner = structuredClone(doc);
    delete noRunner.jobs.acceptance!['runs-on'];
    expect(validate(noRunner)).toBe(false);
    const badInput = structuredClone(doc);
    ((badInput.on.workflow_dispatch as { inputs: Record<string, Record<string, unknown>> }).inputs.lab!).type = 'text';
    expect(validate(badInput)).toBe(false);
  });
});

describe('the nightly workflow does what the issue asks', () => {
  it('runs on a schedule and by hand, with the runner label and the lab as inputs', () => {
    expect(workflow.on.schedule?.[0]?.cron).toMatch(/^\S+ \S+ \* \* \*$/);
    const inputs = workflow.on.workflow_dispatch?.inputs ?? {};
    expect(Object.keys(inputs).sort()).toEqual(['lab', 'runner']);
    expect(job['runs-on']).toContain('self-hosted');
    expect(JSON.stringify(job['runs-on'])).toContain('inputs.runner');
    expect(job.env?.STACKGATE_LAB).toContain('inputs.lab');
  });

  it('keeps the lab state the checkout would clean, and brings the embedded lab up through `lab ensure`', () => {
    expect(job.steps[stepIndex(uses('actions/checkout'))]?.with?.clean).toBe(false);
    expect(job.steps.some((s) => s.run?.includes('npm run lab -- ensure'))).toBe(true);
  });

  it('restores the Allure history before the acceptance, and saves it after the report appended tonight', () => {
    const restore = stepIndex(uses('actions/cache/restore'));
    const acceptance = stepIndex((s) => s.id === 'acceptance');
    const summary = stepIndex((s) => Boolean(s.run?.includes('reports/summary.ts')));
    const report = stepIndex((s) => Boolean(s.run?.includes('npm run report')));
    const save = stepIndex(uses('actions/cache/save'));
    expect([restore, acceptance, summary, report, save].every((i) => i >= 0)).toBe(true);
    expect(restore).toBeLessThan(acceptance);
    expect(acceptance).toBeLessThan(summary); // the summary reads the previous night: before the report appends
    expect(summary).toBeLessThan(report);
    expect(report).toBeLessThan(save);
    expect(job.steps[restore]!.with?.path).toBe('reports/history.jsonl');
    expect(job.steps[save]!.with?.path).toBe('reports/history.jsonl');
    expect(String(job.steps[restore]!.with?.['restore-keys'])).not.toContain('run_id');
    for (const i of [summary, report, save]) expect(job.steps[i]!.if).toBe('always()');
  });

  it('uploads the HTML report, the decisions matrix, JUnit, the persistence results and the slow drills\' table, also when the gate failed', () => {
    const uploads = job.steps.filter(uses('actions/upload-artifact'));
    const paths = uploads.flatMap((s) => String(s.with?.path).split('\n').map((p) => p.trim()).filter(Boolean));
    expect(paths.sort()).toEqual([
      'reports/allure-report', 'reports/decisions.json', 'reports/decisions.md', 'reports/drills-slow.md', 'reports/junit.xml',
      'reports/tmp/persistence',
    ]);
    for (const u of uploads) expect(u.if).toBe('always()');
    // Where the acceptance and `npm run report` write them.
    expect(readFileSync(join(repoRoot, 'reports/render.ts'), 'utf8')).toContain("join(reports, 'allure-report')");
    expect(readFileSync(join(repoRoot, 'vitest.config.ts'), 'utf8')).toContain('fileReporters(');
    expect(readFileSync(join(repoRoot, 'helpers/gate/redacting-reporters.ts'), 'utf8')).toContain('/junit.xml');
  });

  it('runs only npm scripts and files that exist', () => {
    const scripts = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const s of job.steps.filter((x) => x.run)) {
      for (const m of s.run!.matchAll(/npm run (?:-s )?([\w:-]+)/g)) expect(Object.keys(scripts), s.name).toContain(m[1]);
      for (const m of s.run!.matchAll(/\b((?:reports|helpers|provision)\/[\w./-]+\.ts)\b/g)) expect(existsSync(join(repoRoot, m[1]!)), m[1]).toBe(true);
    }
  });

  it('fails the job exactly when the gate fails: the last step exits with the acceptance, persistence, slow drills\' and scale exit codes', async () => {
    const gate = job.steps.at(-1)!;
    expect(gate.if).toBe('always()');
    const acceptance = job.steps.find((s) => s.id === 'acceptance')!;
    expect(acceptance.run).toContain('npm test');
    expect(acceptance['continue-on-error']).toBeUndefined();
    const out = (code?: string) => (code === undefined ? {} : { 'exit-code': code });
    const ev = (a?: string, p?: string, d?: string, sc?: string): Evaluation => ({
      context: {
        steps: {
          acceptance: { outputs: out(a) }, persistence: { outputs: out(p) }, slowdrills: { outputs: out(d) },
          scale: { outputs: out(sc) },
        },
      },
      jobStatus: 'success',
    });
    const cases = [
      ['0', '0', '0', '0', 0], ['1', '0', '0', '0', 1], ['0', '1', '0', '0', 1], ['0', '0', '1', '0', 1],
      ['0', '0', '0', '1', 1], [undefined, '0', '0', '0', 1], ['0', undefined, '0', '0', 1], ['0', '0', undefined, '0', 1],
      ['0', '0', '0', undefined, 1],
    ] as const;
    for (const [a, p, d, sc, want] of cases) {
      const run = interpolate(gate.run!, ev(a, p, d, sc));
      const r = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', run], { reject: false });
      expect(r.exitCode, `gate step with acceptance ${a}, persistence ${p}, slow drills ${d}, scale ${sc}`).toBe(want);
    }
    // The acceptance step itself never fails the job early: it records the code for the steps after it.
    const r = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', acceptance.run!.replace('npm test', 'false')], { reject: false, env: { GITHUB_OUTPUT: '/dev/null' } });
    expect(r.exitCode).toBe(0);
  });
});

describe('workflow expressions (the dry run evaluates them as the runner does)', () => {
  const ev = (context: Evaluation['context'], jobStatus: Evaluation['jobStatus'] = 'success'): Evaluation => ({ context, jobStatus });
  it('falls back through || to the first non-empty value', () => {
    expect(evaluate("inputs.lab || vars.STACKGATE_LAB || 'embedded'", ev({ inputs: {}, vars: {} }))).toBe('embedded');
    expect(evaluate("inputs.lab || vars.STACKGATE_LAB || 'embedded'", ev({ inputs: { lab: 'primary' }, vars: {} }))).toBe('primary');
    expect(evaluate("inputs.lab || vars.STACKGATE_LAB || 'embedded'", ev({ inputs: { lab: '' }, vars: { STACKGATE_LAB: 'kolla-aio' } }))).toBe('kolla-aio');
  });
  it('compares strings case-insensitively, and knows always(), success() and failure()', () => {
    expect(evaluate("runner.os == 'linux'", ev({ runner: { os: 'Linux' } }))).toBe(true);
    expect(condition({ if: "always() && steps.lab.outputs.brought-up == 'true'" }, ev({ steps: { lab: { outputs: { 'brought-up': 'true' } } } }, 'failure'))).toBe(true);
    expect(condition({ if: "steps.lab.outputs.brought-up == 'true'" }, ev({ steps: { lab: { outputs: { 'brought-up': 'true' } } } }, 'failure'))).toBe(false);
    expect(condition({}, ev({}, 'failure'))).toBe(false);
    expect(condition({ if: '${{ failure() }}' }, ev({}, 'failure'))).toBe(true);
    expect(evaluate("!(a == 'x') && 'yes'", ev({ a: 'y' }))).toBe('yes');
  });
  it('interpolates ${{ }} in text and reads $GITHUB_OUTPUT files', () => {
    expect(interpolate('key-${{ env.L }}-${{ github.run_id }}', ev({ env: { L: 'embedded' }, github: { run_id: '42' } }))).toBe('key-embedded-42');
    expect(parseCommandFile('exit-code=1\nmulti<<EOF\na\nb\nEOF\nx=y=z\n')).toEqual({ 'exit-code': '1', multi: 'a\nb', x: 'y=z' });
  });
});

describe('the job summary (reports/summary.ts)', () => {
  const verdict = (over: Partial<RunVerdict> = {}): RunVerdict => ({
    lab: 'embedded',
    pass: false,
    layers: ['tls', 'dns'],
    counts: { passed: 7, failed: 1, skipped: 2, blocked: 1, waived: 0 },
    reasons: ['1 check(s) failed: tls.old-protocols-refused'],
    matrix: [
      { decision: 'TLS-03', title: 'TLS floor | Kolla', source: 'Design', status: 'failed', checks: [{ id: 'tls.old-protocols-refused', status: 'failed' }] },
      { decision: 'DNS-01', title: 'Authoritative', source: 'Design', status: 'passed', checks: [{ id: 'dns.authoritative-soa', status: 'passed' }] },
      { decision: 'VIP-02', title: 'External VIP', source: 'Design', status: 'uncovered', checks: [{ id: 'net.external-network', status: 'not run' }] },
    ],
    unmappedChecks: [],
    results: [
      { checkId: 'tls.old-protocols-refused', name: 'x', file: 'f', status: 'failed' },
      { checkId: 'dns.authoritative-soa', name: 'y', file: 'f', status: 'passed' },
      { checkId: 'dns.new-check', name: 'z', file: 'f', status: 'passed' },
    ],
    ...over,
  });
  const result = (check: string, status: string, lab = 'embedded') => ({ status, labels: [{ name: 'suite', value: lab }, { name: 'check', value: check }] });
  const history: HistoryRun[] = [
    { timestamp: Date.UTC(2026, 10, 20, 2, 17), testResults: { a: result('tls.old-protocols-refused', 'failed'), b: result('dns.authoritative-soa', 'failed') } },
    { timestamp: Date.UTC(2026, 10, 21, 2, 17), testResults: { a: result('tls.old-protocols-refused', 'passed'), b: result('dns.authoritative-soa', 'failed'), c: result('dns.gone', 'passed') } },
    { timestamp: Date.UTC(2026, 10, 21, 9, 0), testResults: { a: result('pre.other-lab', 'passed', 'primary') } },
  ];

  it('gives the verdict, the reasons, the failed decisions and the counts', () => {
    const md = summarize({ verdict: verdict(), history: [], exitCode: '1' });
    expect(md).toContain('lab `embedded`: gate **FAIL**');
    expect(md).toContain('| 7 | 1 | 2 | 1 | 0 |');
    expect(md).toContain('- 1 check(s) failed: tls.old-protocols-refused');
    expect(md).toContain('| TLS-03 | TLS floor \\| Kolla | failed | `tls.old-protocols-refused` failed |');
    expect(md).toContain('| VIP-02 | External VIP | uncovered | `net.external-network` not run |');
    expect(md).not.toContain('| DNS-01');
    expect(md).toContain('no earlier run of this lab');
  });

  it('compares with the latest earlier run of the same lab', () => {
    const prev = previousRun(history, 'embedded')!;
    expect(prev.timestamp).toBe(Date.UTC(2026, 10, 21, 2, 17));
    expect(prev.counts).toEqual({ passed: 2, failed: 1, notExecuted: 0 });
    const md = summarize({ verdict: verdict(), history, exitCode: '1' });
    expect(md).toContain('against the previous run (2026-11-21 02:17 UTC): passed 7 (+5), failed 1 (±0), not executed 3 (+3)');
    expect(md).toContain('- newly failing: `tls.old-protocols-refused`');
    expect(md).toContain('- fixed: `dns.authoritative-soa`');
    expect(md).toContain('- new checks: `dns.new-check`');
    expect(md).toContain('- checks no longer run: `dns.gone`');
  });

  it('says PASS, and flags an exit code that disagrees with the verdict', () => {
    const pass = verdict({ pass: true, reasons: [], counts: { passed: 9, failed: 0, skipped: 0, blocked: 0, waived: 0 } });
    expect(summarize({ verdict: pass, history: [], exitCode: '0' })).toContain('gate **PASS**');
    expect(summarize({ verdict: pass, history: [], exitCode: '1' })).toContain('exited 1 although the gate says PASS');
  });

  it('lists the decisions not proven, partial or design only, with why; and what the reaper removed', () => {
    const partial = verdict({
      pass: true,
      reasons: [],
      matrix: [{ decision: 'STO-03', title: 'Ceph', source: 'Design', status: 'partial', checks: [], unproven: ['storage.ceph-health: not-due: not yet due: Ceph arrives in phase 2'] }],
      reaped: { run: 'r1', removed: ['server sg-dead-srv'], failed: [] },
    });
    const md = summarize({ verdict: partial, history: [], exitCode: '0' });
    expect(md).toContain('Decisions in scope: 1 partial');
    expect(md).toContain('| STO-03 | Ceph | PARTIAL | `storage.ceph-health` not-due: not yet due: Ceph arrives in phase 2 |');
    expect(md).toContain('**Leftovers of earlier runs**: reaper: removed 1 leftover(s) of dead earlier runs: server sg-dead-srv');
    expect(md).not.toMatch(/STO-03[^\n]*PASS/);
  });

  it('without a verdict the gate failed, and says why', () => {
    expect(summarize({ verdict: undefined, history: [], exitCode: '', lab: 'embedded' })).toContain('No verdict: the acceptance did not run');
    expect(summarize({ verdict: undefined, history: [], exitCode: '1' })).toContain('stopped before the gate reporter (exit code 1)');
  });
});
