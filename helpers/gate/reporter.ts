import { runBeforeVerdict } from './run-end.ts';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { JUnitReporter, type Reporter, type TestModule, type Vitest } from 'vitest/node';
import { loadLab } from '../lab/load.ts';
import { isoDay, loadDecisions } from './decisions.ts';
import { ACCEPTANCE_PROJECT, isLayer, LAYERS, layerOfFile, type Layer } from './layers.ts';
import { currentRun, ledgerDir, outstanding, readLedger, reapedLine, takeReaped } from './ledger.ts';
import { addDecisionsToJUnit } from './junit.ts';
import { forgetStops, isGated } from './gated.ts';
import { judge, matrixMarkdown, matrixText, unprovenLines, type CheckResult, type Verdict } from './verdict.ts';

export interface GateReporterOptions {
  reportsDir?: string;
  /** For self-tests of the gate: judge as if today were this day. */
  today?: string;
  /** Write Vitest's JUnit file here, with the decisions and the reaper's line added (see junit.ts). */
  junit?: string;
}

const allureResults = () => process.env.STACKGATE_ALLURE_RESULTS ?? join(process.cwd(), 'reports/allure-results');

/** The matrix and the reaper's line as attachments of the whole Allure report (its "globals"), not of one check. */
function allureGlobals(dir: string, verdict: Verdict, matrix: string): void {
  if (!existsSync(dir)) return; // no Allure reporter in this run
  const files: { name: string; content: string; type: string; ext: string }[] = [{ name: 'decisions matrix', content: matrix, type: 'text/markdown', ext: 'md' }];
  const unproven = unprovenLines(verdict);
  if (unproven.length) files.push({ name: 'decisions not proven (partial, design only)', content: `${unproven.join('\n')}\n`, type: 'text/plain', ext: 'txt' });
  if (verdict.reaped) files.push({ name: 'reaper: leftovers of dead earlier runs', content: `${reapedLine(verdict.reaped)}\n`, type: 'text/plain', ext: 'txt' });
  const attachments = files.map((f) => {
    const source = `${randomUUID()}-attachment.${f.ext}`;
    writeFileSync(join(dir, source), f.content);
    return { name: f.name, source, type: f.type, timestamp: Date.now() };
  });
  writeFileSync(join(dir, `${randomUUID()}-globals.json`), JSON.stringify({ attachments, errors: [] }));
}

/** Writes the decisions matrix after every acceptance run and turns the gate's verdict into the exit code. */
export class GateReporter implements Reporter {
  private vitest?: Vitest;
  private readonly junit: JUnitReporter | undefined;
  constructor(private readonly options: GateReporterOptions = {}) {
    this.junit = options.junit ? new JUnitReporter({ outputFile: options.junit }) : undefined;
  }

  async onInit(vitest: Vitest): Promise<void> {
    this.vitest = vitest;
    await this.junit?.onInit(vitest);
    if (!vitest.projects.some((p) => (LAYERS as readonly string[]).includes(p.name))) return;
    // Each run's report shows that run only; history lives in reports/history.jsonl, not in stale results.
    const results = allureResults();
    if (existsSync(results)) for (const f of readdirSync(results)) rmSync(join(results, f), { recursive: true, force: true });
  }

  async onTestRunEnd(modules: ReadonlyArray<TestModule>): Promise<void> {
    await runBeforeVerdict();
    // Vitest's JUnit of the checks first; the gate adds its decisions to it below.
    await this.junit?.onTestRunEnd(modules);
    const verdict = this.judgeRun(modules);
    if (verdict && this.options.junit && existsSync(this.options.junit)) addDecisionsToJUnit(this.options.junit, verdict);
  }

  private judgeRun(modules: ReadonlyArray<TestModule>): Verdict | undefined {
    // A project per layer, or one for all layers (vitest.config.ts): the layers its files are in.
    const layerProjects = (this.vitest?.projects ?? []).flatMap((p) =>
      isLayer(p.name) ? [p.name] : p.name === ACCEPTANCE_PROJECT ? p.config.include.flatMap((g) => layerOfFile(g) ?? []) : [],
    );
    if (layerProjects.length === 0) return undefined; // a self-test run: no gate
    const ran = modules.flatMap((m) => layerOfModule(m) ?? []);
    const layers = LAYERS.filter((l) => (ran.length ? ran : layerProjects).includes(l));

    let lab;
    let decisions;
    try {
      lab = loadLab();
      decisions = loadDecisions(lab);
    } catch {
      process.exitCode = 1; // the global setup has already printed every problem of the spec
      return undefined;
    }
    const results: CheckResult[] = [];
    for (const module of modules) {
      if (!layerOfModule(module)) continue;
      for (const test of module.children.allTests()) {
        const meta = test.meta().stackgate;
        const result = test.result();
        const status = result.state === 'passed' ? 'passed' : result.state === 'failed' ? 'failed' : 'skipped';
        results.push({
          checkId: meta?.checkId,
          name: test.name,
          file: relative(process.cwd(), module.moduleId),
          status,
          ...(meta?.skip ? { skip: meta.skip } : {}),
          ...(result.state === 'failed' ? { message: result.errors?.[0]?.message } : {}),
          durationMs: test.diagnostic()?.duration,
        });
      }
    }
    // Every check file removes what it created; what its ledger still lists was left behind.
    const left = outstanding(readLedger(join(ledgerDir(lab.name), `${currentRun().run}.jsonl`))).map((e) => `${e.kind} ${e.name}${e.id ? ` (${e.id})` : ''}`);
    const reaped = takeReaped(lab.name, currentRun().run);
    const today = this.options.today ?? process.env.STACKGATE_TODAY ?? isoDay();
    const verdict = judge(decisions, layers, results, today, left, reaped, isGated(lab));
    forgetStops();
    const dir = this.options.reportsDir ?? process.env.STACKGATE_REPORTS ?? join(process.cwd(), 'reports');
    mkdirSync(dir, { recursive: true });
    const matrix = matrixMarkdown(verdict);
    writeFileSync(join(dir, 'decisions.json'), `${JSON.stringify({ ...verdict, results }, null, 2)}\n`);
    writeFileSync(join(dir, 'decisions.md'), matrix);
    allureGlobals(allureResults(), verdict, matrix);
    process.stdout.write(`\n${matrixText(verdict)}\n  matrix: ${relative(process.cwd(), join(dir, 'decisions.md'))}\n\n`);
    if (!verdict.pass) process.exitCode = 1;
    return verdict;
  }
}

const layerOfModule = (m: TestModule): Layer | undefined =>
  isLayer(m.project.name) ? m.project.name : m.project.name === ACCEPTANCE_PROJECT ? layerOfFile(m.moduleId) : undefined;
