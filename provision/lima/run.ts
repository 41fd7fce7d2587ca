/**
 * Runs a plan: step by step through execa, each finished step recorded in the state file (with a fingerprint of its
 * command and of the contents of the files it reads) and skipped next time while both are unchanged; a failed step names its command and the tail of its output; progress with the
 * elapsed time of each step and of the run.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { commandLine, type Phase, type RunContext, type Step } from './plan.ts';

export interface StepRecord {
  readonly at: string;
  readonly seconds: number;
  readonly fingerprint: string;
}

export interface RunState {
  done: Record<string, StepRecord>;
}

export interface RunOptions {
  readonly phases: readonly Phase[];
  /** Start at this step ID or group: everything before it is left alone, it and everything after run again. */
  readonly from?: string;
  readonly cwd: string;
  readonly stateFile: string;
  readonly logDir: string;
  /** Prepended to PATH (the venv's bin). */
  readonly pathPrefix?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Lines of output a failure shows. */
  readonly tailLines?: number;
}

export class StepFailed extends Error {
  override name = 'StepFailed';
  constructor(
    readonly step: Step,
    readonly command: string,
    readonly exitCode: number | undefined,
    readonly tail: readonly string[],
    readonly logFile: string,
  ) {
    super(
      `step ${step.id} failed${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${command}\n` +
        (tail.length ? `  last ${tail.length} lines of its output (all of it: ${logFile}):\n${tail.map((l) => `    ${l}`).join('\n')}\n` : `  no output (log: ${logFile})\n`) +
        `  fix the cause, then: npm run lab -- up --from ${step.id}   (finished steps are skipped)`,
    );
  }
}

/** sha256 of a file, or of every file under a folder (names and contents, in name order); "absent" when missing. */
export function contentHash(path: string): string {
  const hash = createHash('sha256');
  const walk = (p: string, name: string) => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return void hash.update(`${name}\0absent\0`);
    if (!st.isDirectory()) return void hash.update(`${name}\0`).update(readFileSync(p)).update('\0');
    for (const entry of readdirSync(p).sort()) walk(join(p, entry), `${name}/${entry}`);
  };
  walk(path, '.');
  return hash.digest('hex');
}

/** The step's command and the contents of what it reads: a re-rendered input makes it run again. */
export function fingerprint(step: Step, cwd: string): string {
  const inputs = (step.reads ?? []).map((r) => [r, contentHash(resolve(cwd, r))]);
  const what = [step.argv ?? step.internal?.describe, step.env, step.stdoutTo, inputs];
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}

export function readState(file: string): RunState {
  if (!existsSync(file)) return { done: {} };
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<RunState>;
  return { done: parsed.done ?? {} };
}

function saveState(file: string, state: RunState): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
}

export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** The steps of the chosen phases, and where --from starts. */
export function selectSteps(steps: readonly Step[], phases: readonly Phase[], from?: string): { selected: Step[]; start: number } {
  const selected = steps.filter((s) => phases.includes(s.phase));
  if (!from) return { selected, start: 0 };
  const start = selected.findIndex((s) => s.id === from || s.group === from);
  if (start < 0) throw new Error(`--from ${from}: no such step or group in phase ${phases.join(', ')} (see npm run lab -- plan)`);
  return { selected, start };
}

async function execute(step: Step, options: RunOptions, logFile: string): Promise<{ ok: boolean; code?: number; tail: string[]; note?: string }> {
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env), ...step.env };
  if (options.pathPrefix) env.PATH = `${resolve(options.cwd, options.pathPrefix)}:${env.PATH ?? ''}`;
  const tailLines = options.tailLines ?? 20;
  if (step.internal) {
    const ctx: RunContext = { cwd: options.cwd, env, log: options.log ?? (() => {}) };
    try {
      const note = await step.internal.run(ctx);
      writeFileSync(logFile, `${note ?? ''}\n`);
      return { ok: true, tail: [], ...(note ? { note } : {}) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      writeFileSync(logFile, `${message}\n`);
      return { ok: false, tail: message.split('\n').slice(-tailLines) };
    }
  }
  const [cmd, ...args] = step.argv ?? [];
  if (!cmd) throw new Error(`step ${step.id} has neither a command nor an internal action`);
  mkdirSync(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile);
  const tail: string[] = [];
  const keep = (chunk: Buffer | string) => {
    log.write(chunk);
    const lines = String(chunk).split('\n').filter((l) => l.trim() !== '');
    tail.push(...lines);
    if (tail.length > tailLines) tail.splice(0, tail.length - tailLines);
  };
  const outFile = step.stdoutTo ? resolve(options.cwd, step.stdoutTo) : undefined;
  if (outFile) mkdirSync(dirname(outFile), { recursive: true });
  const child = execa(cmd, args, {
    cwd: options.cwd,
    env,
    extendEnv: false,
    reject: false,
    stdin: step.interactive ? 'inherit' : 'ignore',
    stdout: step.interactive ? 'inherit' : 'pipe',
    stderr: step.interactive ? 'inherit' : 'pipe',
    encoding: 'utf8',
  });
  const out: string[] = [];
  child.stdout?.on('data', (c: Buffer) => (outFile ? out.push(String(c)) : keep(c)));
  child.stderr?.on('data', (c: Buffer) => keep(c));
  const result = await child;
  await new Promise<void>((r) => log.end(r));
  const ok = result.exitCode === 0 && !result.failed;
  if (outFile && ok) {
    writeFileSync(outFile, out.join(''), { mode: 0o600 });
    chmodSync(outFile, 0o600);
  }
  if (!ok && result.exitCode === undefined && result.message) tail.push(result.message.split('\n')[0] ?? '');
  return { ok, ...(result.exitCode === undefined ? {} : { code: result.exitCode }), tail };
}

/** Run the plan's steps of the chosen phases. Throws StepFailed at the first failing step (after its retries). */
export async function runPlan(steps: readonly Step[], options: RunOptions): Promise<{ ran: string[]; skipped: string[] }> {
  const log = options.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const stateFile = resolve(options.cwd, options.stateFile);
  const state = readState(stateFile);
  const { selected, start } = selectSteps(steps, options.phases, options.from);
  if (options.from) {
    for (const s of selected.slice(start)) delete state.done[s.id];
    saveState(stateFile, state);
  }
  const ran: string[] = [];
  const skipped: string[] = [];
  const t0 = Date.now();
  const n = selected.length;
  for (const [i, step] of selected.entries()) {
    const at = `[${String(i + 1).padStart(String(n).length)}/${n}]`;
    if (i < start) {
      skipped.push(step.id);
      continue;
    }
    const record = state.done[step.id];
    if (!step.always && record && record.fingerprint === fingerprint(step, options.cwd)) {
      log(`${at} ↷ ${step.id} — done ${record.at}`);
      skipped.push(step.id);
      continue;
    }
    const missing = (step.reads ?? []).filter((r) => !existsSync(resolve(options.cwd, r)));
    if (missing.length > 0) {
      throw new Error(`step ${step.id} reads ${missing.join(', ')}, which does not exist: an earlier step makes it (npm run lab -- plan shows which)`);
    }
    log(`${at} ▶ ${step.id} — ${step.title}`);
    const logFile = join(options.cwd, options.logDir, `${step.id.replace(/[^A-Za-z0-9._-]+/g, '_')}.log`);
    mkdirSync(dirname(logFile), { recursive: true });
    const s0 = Date.now();
    const attempts = step.retry?.attempts ?? 1;
    let result: Awaited<ReturnType<typeof execute>> = { ok: false, tail: [] };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      result = await execute(step, options, logFile);
      if (result.ok) break;
      if (attempt < attempts) {
        log(`${at}   … ${step.id}: attempt ${attempt}/${attempts} failed, again in ${step.retry!.delaySeconds} s`);
        await sleep(step.retry!.delaySeconds * 1000);
      }
    }
    const took = Date.now() - s0;
    if (!result.ok) {
      log(`${at} ✗ ${step.id} (${formatDuration(took)}; total ${formatDuration(Date.now() - t0)})`);
      throw new StepFailed(step, commandLine(step), result.code, result.tail, logFile);
    }
    if (!step.always) {
      // Taken after the run: a step that rewrites its own input (kolla-genpwd fills passwords.yml) is then current.
      state.done[step.id] = { at: new Date().toISOString(), seconds: Math.round(took / 100) / 10, fingerprint: fingerprint(step, options.cwd) };
      saveState(stateFile, state);
    }
    ran.push(step.id);
    log(`${at} ✓ ${step.id}${result.note ? ` (${result.note})` : ''} (${formatDuration(took)}; total ${formatDuration(Date.now() - t0)})`);
  }
  log(`${ran.length} steps run, ${skipped.length} skipped, ${formatDuration(Date.now() - t0)}`);
  return { ran, skipped };
}
