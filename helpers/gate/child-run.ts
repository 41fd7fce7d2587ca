import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../lab/load.ts';
import type { CheckResult, Verdict } from './verdict.ts';

export interface ChildRun {
  readonly exitCode: number;
  readonly output: string;
  /** The gate's verdict with every result; undefined when the run stopped before the gate reporter. */
  readonly verdict: (Verdict & { results: CheckResult[] }) | undefined;
}

/**
 * Run checks in a child Vitest against a lab, for the project's own tests: its matrix, Allure results and JUnit
 * go to `scratch` (emptied first), never to the real reports.
 */
export async function runChecks(options: {
  lab: string;
  scratch: string;
  args: readonly string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Run this command line instead of `npx vitest run <args>` (e.g. `npm test -- --gated`). */
  command?: readonly string[];
}): Promise<ChildRun> {
  rmSync(options.scratch, { recursive: true, force: true });
  mkdirSync(options.scratch, { recursive: true });
  const [file, ...args] = options.command ?? ['npx', 'vitest', 'run', ...options.args];
  const run = await execa(file!, args, {
    cwd: options.cwd ?? repoRoot,
    reject: false,
    all: true,
    env: {
      STACKGATE_LAB: options.lab,
      STACKGATE_REPORTS: options.scratch,
      STACKGATE_ALLURE_RESULTS: join(options.scratch, 'allure-results'),
      FORCE_COLOR: '0',
      // A run of its own: its cloud resources and ledger are not the parent's.
      STACKGATE_RUN: '',
      STACKGATE_RUN_PID: '',
      // Gated only when the child is asked to be (its own --gated, or its spec).
      STACKGATE_GATED: '',
      ...options.env,
    },
  });
  let verdict: ChildRun['verdict'];
  try {
    verdict = JSON.parse(readFileSync(join(options.scratch, 'decisions.json'), 'utf8')) as ChildRun['verdict'];
  } catch {
    verdict = undefined;
  }
  return { exitCode: run.exitCode ?? -1, output: run.all ?? '', verdict };
}
