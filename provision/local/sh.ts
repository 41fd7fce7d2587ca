import { execa, type Options } from 'execa';
import { redact } from '../../helpers/gate/redact.ts';

/** Run a command; throw with its output when it fails. */
export async function run(cmd: string, args: readonly string[], options: Options = {}): Promise<string> {
  const result = await execa(cmd, args, { reject: false, all: true, ...options });
  if (result.exitCode !== 0 || result.failed) {
    const out = String(result.all ?? '').trim();
    // A secret on a command line (there should be none) or in the output is not repeated in the error.
    throw new Error(redact(`${[cmd, ...args].join(' ')} failed (exit ${String(result.exitCode)})${out ? `:\n${out}` : ''}`));
  }
  return String(result.stdout ?? '');
}

/** Run a command; return its exit code and output, never throw. */
export async function tryRun(cmd: string, args: readonly string[], options: Options = {}): Promise<{ code: number; out: string }> {
  const result = await execa(cmd, args, { reject: false, all: true, ...options });
  return { code: result.exitCode ?? -1, out: String(result.all ?? '') };
}

export type Log = (line: string) => void;

const fmt = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** How often a long step says it is still alive. */
const HEARTBEAT_MS = 10_000;

/** Steps with elapsed time each, printed as they finish; a step over ten seconds says every ten that it is alive. */
export class Progress {
  private readonly started = Date.now();
  private detail = '';
  constructor(private readonly log: Log = (l) => process.stdout.write(`${l}\n`)) {}

  async step<T>(title: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    this.detail = '';
    this.log(`  … ${title}`);
    const beat = setInterval(() => {
      this.log(`    … ${title}: ${this.detail || 'working'} (${fmt(Date.now() - t0)})`);
    }, HEARTBEAT_MS);
    try {
      const value = await fn();
      const note = typeof value === 'string' && value ? ` (${value})` : '';
      this.log(`  ✓ ${title}${note}  [${fmt(Date.now() - t0)}]`);
      return value;
    } catch (error) {
      this.log(`  ✗ ${title}  [${fmt(Date.now() - t0)}]`);
      throw error;
    } finally {
      clearInterval(beat);
    }
  }

  /** What the running step is doing now: the next heartbeat line shows it. */
  note(detail: string): void {
    this.detail = detail;
  }

  info(line: string): void {
    this.log(line);
  }

  get elapsed(): string {
    return fmt(Date.now() - this.started);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` each second until it returns true; on timeout, fail with the last state it described. */
export async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<string | true>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = await probe().catch((e: unknown) => String(e).split('\n')[0]!);
    if (r === true) return;
    last = r;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs / 1000} s (last: ${last})`);
    await sleep(1000);
  }
}
