import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Vitest } from 'vitest/node';
import type { Reporter } from 'vitest/reporters';
import AllureVitestReporter from 'allure-vitest/reporter';
import { loadLab } from '../lab/load.ts';
import { addSecret, redact, redactCopy, redactDeep } from './redact.ts';
import { GateReporter } from './reporter.ts';

/**
 * Allure's and JUnit's reporters, writing into STACKGATE_ALLURE_RESULTS and STACKGATE_REPORTS (the project's own
 * tests point them at a scratch folder), with every file they write redacted.
 */
export function fileReporters(environmentInfo?: Record<string, string>): Reporter[] {
  const results = process.env.STACKGATE_ALLURE_RESULTS ?? 'reports/allure-results';
  const reports = process.env.STACKGATE_REPORTS ?? 'reports';
  const junit = `${reports}/junit.xml`;
  // The gate before Allure's: its onInit empties the results of the last run, Allure's then writes the environment.
  const gate = new GateReporter({ junit });
  const allure = new AllureVitestReporter({ resultsDir: results, environmentInfo }) as unknown as Reporter;
  const outputs = () => [results, junit, join(reports, 'decisions.md'), join(reports, 'decisions.json')];
  return [new RedactingReporters([gate, allure], outputs)];
}

/**
 * The reporters that write files the nightly workflow uploads (Allure results, JUnit), wrapped so that no secret
 * reaches them: before they see the run, every error and Allure message of every check is redacted in memory; after
 * they have written, every file they wrote is redacted once more (attachments, anything written mid-run). Secrets
 * registered in a worker are not known here, so the lab's credentials are registered in this process too.
 */
export class RedactingReporters implements Reporter {
  constructor(
    private readonly inner: readonly Reporter[],
    /** Files and folders the inner reporters write. */
    private readonly outputs: () => readonly string[],
  ) {}

  async onInit(vitest: Vitest): Promise<void> {
    await registerLabSecrets();
    for (const r of this.inner) await r.onInit?.(vitest);
  }

  async onTestRunEnd(...args: Parameters<NonNullable<Reporter['onTestRunEnd']>>): Promise<void> {
    const [modules, errors] = args;
    await registerLabSecrets();
    // Internal to Vitest, and what Allure's and JUnit's reporters read.
    for (const m of modules) redactTask((m as unknown as { task: RunnerTask }).task);
    redactDeep(errors);
    for (const r of this.inner) await r.onTestRunEnd?.(...args);
    for (const out of this.outputs()) redactFiles(out);
  }
}

interface RunnerTask {
  result?: { errors?: unknown[] };
  meta?: Record<string, unknown>;
  tasks?: RunnerTask[];
}

function redactTask(task: RunnerTask): void {
  if (task.result?.errors) redactDeep(task.result.errors);
  if (task.meta) redactDeep(task.meta);
  for (const child of task.tasks ?? []) redactTask(child);
}

/** The lab's passwords this process can know: its clouds.yaml or OS_* password, every value of its secrets file. */
export async function registerLabSecrets(): Promise<void> {
  let lab;
  try {
    lab = loadLab();
  } catch {
    return; // a broken spec: the run stops before any check, with nothing secret to write
  }
  try {
    const { loadCredentials } = await import('../openstack/credentials.ts');
    loadCredentials(lab);
  } catch {
    // No credentials here: checks that need them are blocked, and no password of them can be in a report.
  }
  const named = lab.spec.credentials?.secretsFile;
  if (!named) return;
  try {
    const map = parse(readFileSync(lab.path(named), 'utf8')) as unknown;
    if (map && typeof map === 'object') for (const v of Object.values(map)) if (typeof v === 'string' || typeof v === 'number') addSecret(String(v));
  } catch {
    // No secrets file here: no password from it can be in a report either.
  }
}

/** Redact a file, or every file under a folder, in place; binary files (a NUL byte) are left as they are. */
export function redactFiles(path: string): void {
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) {
    for (const f of readdirSync(path)) redactFiles(join(path, f));
    return;
  }
  const bytes = readFileSync(path);
  if (bytes.includes(0)) return;
  const text = bytes.toString('utf8');
  const clean = redact(text);
  if (clean === text) return;
  writeFileSync(path, path.endsWith('.json') ? redactJson(text) ?? clean : clean);
}

/** A JSON file redacted string by string, so it stays JSON (Allure's results, the decisions); undefined if not JSON. */
function redactJson(text: string): string | undefined {
  try {
    const clean = redactCopy(JSON.parse(text) as unknown);
    return JSON.stringify(clean, null, text.startsWith('{\n ') || text.startsWith('[\n ') ? 2 : undefined) + (text.endsWith('\n') ? '\n' : '');
  } catch {
    return undefined;
  }
}
