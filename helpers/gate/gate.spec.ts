import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../lab/load.ts';
import { runChecks } from './child-run.ts';
import { ledgerDir, noteReaped } from './ledger.ts';

const fixture = join(repoRoot, 'fixtures/gate');

interface Run {
  dir: string;
  exitCode: number;
  output: string;
  matrix: { pass: boolean; reasons: readonly string[]; matrix: readonly { decision: string; status: string }[] };
}

const base = [
  { id: 'R-01', title: 'Rule one', source: 'Rules', checks: ['pre.rule-one'] },
  { id: 'R-02', title: 'Rule two', source: 'Rules', checks: ['pre.rule-two'] },
];

/** Run the tiny suite in a child Vitest with a decision record of our choosing. */
async function gate(name: string, opts: { mode?: string; decisions?: object[]; waivers?: object[]; args?: string[]; env?: Record<string, string>; lab?: string } = {}): Promise<Run> {
  const dir = join(repoRoot, 'reports/tmp/gate', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // A lab of its own name keeps a case's ledger folder apart from the other cases running beside it.
  writeFileSync(join(dir, 'lab.yaml'), readFileSync(join(fixture, 'lab.yaml'), 'utf8').replace(/^name: tiny$/m, `name: ${opts.lab ?? 'tiny'}`));
  writeFileSync(join(dir, 'decisions.yaml'), JSON.stringify({ lab: opts.lab ?? 'tiny', decisions: opts.decisions ?? base, waivers: opts.waivers ?? [] }));
  const run = await runChecks({
    lab: join(dir, 'lab.yaml'),
    scratch: join(dir, 'run'),
    args: ['--config', join(fixture, 'vitest.config.ts'), ...(opts.args ?? ['--project', 'preflight'])],
    cwd: fixture,
    env: { GATE_CASE: opts.mode ?? 'pass', STACKGATE_TODAY: '2026-06-01', ...opts.env },
  });
  return { dir: join(dir, 'run'), exitCode: run.exitCode, output: run.output, matrix: run.verdict ?? { pass: false, reasons: [], matrix: [] } };
}

const status = (run: Run, id: string) => run.matrix.matrix.find((m) => m.decision === id)?.status;

describe('the gate', { concurrent: true }, () => {
  it('passes when every decision in scope is proven', async () => {
    const run = await gate('pass');
    expect(run.exitCode, run.output).toBe(0);
    expect(run.matrix.pass).toBe(true);
    expect(status(run, 'R-01')).toBe('passed');
  });

  it('fails on a failed check, naming the decision and the object', async () => {
    const run = await gate('fail', { mode: 'fail' });
    expect(run.exitCode).toBe(1);
    expect(status(run, 'R-01')).toBe('failed');
    expect(run.output).toContain('[R-01 Rule one] node one');
  });

  it('fails when the run leaves a cloud resource behind, even with every check passed', async () => {
    const run = await gate('leak', { mode: 'leak' });
    rmSync(join(repoRoot, 'reports/ledger/tiny'), { recursive: true, force: true });
    expect(run.exitCode).toBe(1);
    expect(status(run, 'R-01')).toBe('passed');
    expect(run.matrix.reasons.join()).toContain('cloud resources this run created are still there: network sg-leak-net (net-1)');
  });

  it('fails on a decision no executed check covers', async () => {
    const run = await gate('uncovered', { decisions: [...base, { id: 'R-03', title: 'Rule three', source: 'Rules', checks: ['pre.rule-missing'] }] });
    expect(run.exitCode).toBe(1);
    expect(status(run, 'R-03')).toBe('uncovered');
    expect(run.matrix.reasons.join()).toContain('no executed check covers: R-03');
  });

  it('fails when zero checks ran', async () => {
    const run = await gate('zero', { args: ['--project', 'preflight', '-t', 'no check has this name', '--passWithNoTests'] });
    expect(run.exitCode).toBe(1);
    expect(run.matrix.reasons.join()).toContain('zero checks ran');
  });

  it('fails on a skip the lab spec does not declare, but accepts a declared one', async () => {
    const undeclared = await gate('undeclared', { mode: 'undeclared-skip' });
    expect(undeclared.exitCode).toBe(1);
    expect(undeclared.matrix.reasons.join()).toContain('does not declare: pre.rule-two');
    const declared = await gate('declared', { mode: 'declared-skip' });
    expect(declared.exitCode, declared.output).toBe(0);
    expect(status(declared, 'R-02')).toBe('skipped');
  });

  it('honours a waiver until it expires', async () => {
    const waiver = { decision: 'R-01', justification: 'known deviation, fixed next quarter', expires: '2026-12-31' };
    const waived = await gate('waived', { mode: 'waived', waivers: [waiver] });
    expect(waived.exitCode, waived.output).toBe(0);
    expect(status(waived, 'R-01')).toBe('waived');
    const expired = await gate('expired', { mode: 'expired', waivers: [{ ...waiver, expires: '2026-05-31' }] });
    expect(expired.exitCode).toBe(1);
    expect(expired.output).toContain('waiver expired on R-01 2026-05-31');
    expect(expired.matrix.reasons.join()).toContain('expired waiver');
  });

  it('blocks live layers of a lab that is not attached here, without sending anything', async () => {
    const run = await gate('blocked', {
      decisions: [...base, { id: 'R-03', title: 'Rule three', source: 'Rules', checks: ['net.rule-three'] }],
      args: ['--project', 'preflight', '--project', 'network'],
    });
    expect(run.exitCode).toBe(1);
    expect(status(run, 'R-03')).toBe('blocked');
    expect(run.output).toMatch(/blocked: lab tiny is not attached to this host/);
  });

  it('shows a decision proven in part as PARTIAL, and one proven by the spec alone as DESIGN ONLY: PASS nowhere', async () => {
    const run = await gate('partial', {
      mode: 'not-due',
      decisions: [
        ...base,
        { id: 'R-04', title: 'Rule four', source: 'Rules', checks: ['pre.rule-one', 'pre.rule-two'] },
        { id: 'R-05', title: 'Rule five', source: 'Rules', checks: ['pre.rule-one', 'net.rule-three'] },
      ],
    });
    expect(run.exitCode, run.output).toBe(0);
    expect([status(run, 'R-04'), status(run, 'R-05')]).toEqual(['partial', 'design only']);
    const md = readFileSync(join(run.dir, 'decisions.md'), 'utf8').split('\n');
    expect(md.find((l) => l.startsWith('| R-04'))).toMatch(/\| PARTIAL<br>not proven: pre\.rule-two: not-due: not yet due: rule two arrives in phase 9/);
    expect(md.find((l) => l.startsWith('| R-05'))).toMatch(/\| DESIGN ONLY<br>not proven: net\.rule-three: not run: layer network is not in this run/);
    expect(run.output).toMatch(/R-04\s+PARTIAL\s+Rule four/);
    const junit = readFileSync(join(run.dir, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/name="R-04 Rule four"><properties><property name="status" value="partial"\/><\/properties><skipped message="PARTIAL: not proven by pre.rule-two/);
    expect(junit).toMatch(/name="R-05 Rule five">.*<skipped message="DESIGN ONLY: /);
    const allure = join(run.dir, 'allure-results');
    const globals = readdirSync(allure).filter((f) => f.endsWith('-globals.json'));
    const attached = globals.flatMap((f) => (JSON.parse(readFileSync(join(allure, f), 'utf8')) as { attachments: { name: string; source: string }[] }).attachments);
    expect(attached.map((a) => a.name)).toContain('decisions not proven (partial, design only)');
    expect(readFileSync(join(allure, attached.find((a) => a.name === 'decisions matrix')!.source), 'utf8')).toContain('| R-04 | Rule four | Rules | PARTIAL');
  });

  it("puts what the reaper removed before the run into the matrix, JUnit and Allure, and consumes the reaper's note", async () => {
    const run = 'gatereap1';
    noteReaped('tiny-reaped', { run, removed: ['server sg-dead1-compute-server', 'network sg-dead1-compute-net'], failed: [] });
    const r = await gate('reaped', { env: { STACKGATE_RUN: run }, lab: 'tiny-reaped' });
    const line = 'reaper: removed 2 leftover(s) of dead earlier runs: server sg-dead1-compute-server, network sg-dead1-compute-net';
    expect(r.output).toContain(line);
    expect(readFileSync(join(r.dir, 'decisions.md'), 'utf8')).toContain(line);
    expect(readFileSync(join(r.dir, 'junit.xml'), 'utf8')).toContain(`<system-out>${line}</system-out>`);
    const allure = join(r.dir, 'allure-results');
    expect(readdirSync(allure).filter((f) => f.endsWith('.txt')).map((f) => readFileSync(join(allure, f), 'utf8'))).toContain(`${line}\n`);
    expect(existsSync(join(ledgerDir('tiny-reaped'), `${run}.reaped.json`))).toBe(false);
    rmSync(ledgerDir('tiny-reaped'), { recursive: true, force: true });
  });
});
