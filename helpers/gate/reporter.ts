import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { TestModule, Vitest } from 'vitest/node';
import type { Reporter } from 'vitest/reporters';
import { loadLab } from '../lab/load.ts';
import { isoDay, loadDecisions } from './decisions.ts';
import { LAYERS, type Layer } from './layers.ts';
import { currentRun, ledgerDir, outstanding, readLedger } from './ledger.ts';
import { judge, matrixMarkdown, matrixText, type CheckResult } from './verdict.ts';

export interface GateReporterOptions {
  reportsDir?: string;
  /** For self-tests of the gate: judge as if today were this day. */
  today?: string;
}

/** Writes the decisions matrix after every acceptance run and turns the gate's verdict into the exit code. */
export class GateReporter implements Reporter {
  private vitest?: Vitest;
  constructor(private readonly options: GateReporterOptions = {}) {}

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
    if (!vitest.projects.some((p) => (LAYERS as readonly string[]).includes(p.name))) return;
    // Each run's report shows that run only; history lives in reports/history.jsonl, not in stale results.
    const results = process.env.STACKGATE_ALLURE_RESULTS ?? join(process.cwd(), 'reports/allure-results');
    if (existsSync(results)) for (const f of readdirSync(results)) rmSync(join(results, f), { recursive: true, force: true });
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const projects = this.vitest?.projects.map((p) => p.name) ?? [];
    const layerProjects = projects.filter((p): p is Layer => (LAYERS as readonly string[]).includes(p));
    if (layerProjects.length === 0) return; // a self-test run: no gate
    const ran = modules.map((m) => m.project.name).filter((p): p is Layer => (LAYERS as readonly string[]).includes(p));
    const layers = LAYERS.filter((l) => (ran.length ? ran : layerProjects).includes(l));

    let lab;
    let decisions;
    try {
      lab = loadLab();
      decisions = loadDecisions(lab);
    } catch {
      process.exitCode = 1; // the global setup has already printed every problem of the spec
      return;
    }
    const results: CheckResult[] = [];
    for (const module of modules) {
      if (!(LAYERS as readonly string[]).includes(module.project.name)) continue;
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
    const verdict = judge(decisions, layers, results, this.options.today ?? process.env.STACKGATE_TODAY ?? isoDay(), left);
    const dir = this.options.reportsDir ?? process.env.STACKGATE_REPORTS ?? join(process.cwd(), 'reports');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'decisions.json'), `${JSON.stringify({ ...verdict, results }, null, 2)}\n`);
    writeFileSync(join(dir, 'decisions.md'), matrixMarkdown(verdict));
    process.stdout.write(`\n${matrixText(verdict)}\n  matrix: ${relative(process.cwd(), join(dir, 'decisions.md'))}\n\n`);
    if (!verdict.pass) process.exitCode = 1;
  }
}
