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
  /** It ran past its bound and was interrupted (SIGINT to its process group, SIGKILL after a grace period). */
  readonly timedOut: boolean;
}

/** What an interrupted child gets to remove its cloud resources (the ledger's SIGINT handler) before SIGKILL. */
const GRACE_MS = 30_000;

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
  /** Interrupt the child (and every process it started) after this long; a hung run then ends with its output. */
  timeoutMs?: number;
}): Promise<ChildRun> {
  rmSync(options.scratch, { recursive: true, force: true });
  mkdirSync(options.scratch, { recursive: true });
  const [file, ...args] = options.command ?? ['npx', 'vitest', 'run', ...options.args];
  const child = execa(file!, args, {
    cwd: options.cwd ?? repoRoot,
    reject: false,
    all: true,
    // Its own process group: npx, Vitest and its workers are interrupted together, as Ctrl-C would.
    detached: options.timeoutMs !== undefined,
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
      STACKGATE_ACCEPTANCE: '',
      ...options.env,
    },
  });
  let timedOut = false;
  const signal = (name: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, name);
    } catch {
      // already gone
    }
  };
  const timers = options.timeoutMs === undefined ? [] : [
    setTimeout(() => {
      timedOut = true;
      signal('SIGINT');
    }, options.timeoutMs),
    setTimeout(() => signal('SIGKILL'), options.timeoutMs + GRACE_MS),
  ];
  // Detached children outlive this process unless told: no run goes on against the lab after its parent is gone.
  const orphaned = () => signal('SIGKILL');
  if (options.timeoutMs !== undefined) process.once('exit', orphaned);
  const run = await child.finally(() => {
    timers.forEach(clearTimeout);
    process.off('exit', orphaned);
  });
  let verdict: ChildRun['verdict'];
  try {
    verdict = JSON.parse(readFileSync(join(options.scratch, 'decisions.json'), 'utf8')) as ChildRun['verdict'];
  } catch {
    verdict = undefined;
  }
  return { exitCode: run.exitCode ?? -1, output: run.all ?? '', verdict, timedOut };
}
