import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
async function gate(
  name: string,
  opts: {
    mode?: string; decisions?: object[]; waivers?: object[]; args?: string[]; env?: Record<string, string>; lab?: string;
    gaps?: string[]; spec?: string; files?: Record<string, string>;
  } = {},
): Promise<Run> {
  const dir = join(repoRoot, 'reports/tmp/gate', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // A lab of its own name keeps a case's ledger folder apart from the other cases running beside it.
  writeFileSync(join(dir, 'lab.yaml'), readFileSync(join(fixture, 'lab.yaml'), 'utf8').replace(/^name: tiny$/m, `name: ${opts.lab ?? 'tiny'}`));
  if (opts.spec) appendFileSync(join(dir, 'lab.yaml'), opts.spec);
  for (const [f, text] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, f), text);
  writeFileSync(join(dir, 'decisions.yaml'), JSON.stringify({ lab: opts.lab ?? 'tiny', decisions: opts.decisions ?? base, waivers: opts.waivers ?? [] }));
  if (opts.gaps) writeFileSync(join(dir, 'known-gaps'), `${opts.gaps.join('\n')}\n`);
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
    // A check not written yet is named in known-gaps; any other unknown check ID stops the run at load.
    const decisions = [...base, { id: 'R-03', title: 'Rule three', source: 'Rules', checks: ['pre.rule-missing'] }];
    const run = await gate('uncovered', { decisions, gaps: ['pre.rule-missing'] });
    expect(run.exitCode).toBe(1);
    expect(status(run, 'R-03')).toBe('uncovered');
    expect(run.matrix.reasons.join()).toContain('no executed check covers: R-03');
  });

  it('stops at load on a check ID no suite declares, naming the closest one', async () => {
    const run = await gate('misspelt', { decisions: [base[0]!, { ...base[1]!, checks: ['pre.rule-tow'] }] });
    expect(run.exitCode).toBe(1);
    expect(run.output).toMatch(/decisions\.yaml:1:\d+ \/decisions\/1\/checks\/0: unknown check pre\.rule-tow: no suite declares it \(did you mean pre\.rule-two\?\)/);
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
    // Reported when the record is loaded, not only beside the failure it no longer excuses.
    expect(expired.output).toContain('the waiver of R-01 expired on 2026-05-31; it no longer excuses a failure');
    expect(expired.matrix.reasons.join()).toContain('expired waiver');
  });

  it("blocks the checks needing SSH when the lab's SSH key is missing, naming the file and how to get it", async () => {
    const run = await gate('ssh', { mode: 'ssh', spec: 'credentials: { sshKey: missing/id_ed25519, sshKnownHosts: missing/known_hosts }\n' });
    expect(run.exitCode).toBe(1);
    expect(status(run, 'R-01')).toBe('passed');
    expect(status(run, 'R-02')).toBe('blocked');
    expect(run.output).toMatch(/blocked: no SSH to the nodes \(net\.node-interfaces reports it\): lab tiny: the SSH key \S+\/missing\/id_ed25519 \(credentials\.sshKey\) and the known_hosts file \S+\/missing\/known_hosts \(credentials\.sshKnownHosts\) are missing/);
    expect(run.output).toContain("copy them from the lab's deploy host");
  });

  it('leaves a secret a failing check quotes in no file it writes and not on the console', async () => {
    const secret = 'Zq7plant9XkT2w';
    const run = await gate('secret', { mode: 'secret', spec: 'credentials: { secretsFile: secrets.yml }\n', files: { 'secrets.yml': `planted: ${secret}\n` } });
    expect(run.exitCode).toBe(1);
    const out = join(repoRoot, 'reports/tmp/gate/secret/run');
    const files = readdirSync(out, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(out, f)).isFile());
    // Allure's results with their attachment, JUnit and the decisions matrix: each must exist to count.
    expect(files.filter((f) => /-result\.json$/.test(f)).length).toBe(2);
    expect(files.some((f) => /-attachment/.test(f))).toBe(true);
    expect(files).toEqual(expect.arrayContaining(['junit.xml', 'decisions.md', 'decisions.json']));
    for (const f of files) expect(readFileSync(join(out, f), 'utf8'), f).not.toContain(secret);
    expect(run.output).not.toContain(secret);
    expect(readFileSync(join(out, 'junit.xml'), 'utf8')).toContain('login with [REDACTED] refused');
    expect(run.output).toContain('the session of [REDACTED]');
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
