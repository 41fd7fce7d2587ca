/**
 * The cleanup ledger: every cloud resource a run creates is written here before the create call is made, and
 * marked deleted once it is gone. A run that dies (crash, Ctrl-C, SIGKILL) leaves its file behind; the next run
 * and `lab reap` read it and remove what it lists. One JSON line per event, appended, so a half-written run
 * still says what it was about to create.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { repoRoot } from '../lab/load.ts';

/** `refused`: the create call was answered with a client error (4xx), so nothing was made. */
export type EntryState = 'creating' | 'created' | 'refused' | 'deleted' | 'delete-failed';

export interface Entry {
  readonly run: string;
  readonly kind: string;
  readonly name: string;
  readonly id?: string;
  readonly state: EntryState;
  readonly at: string;
  readonly note?: string;
}

interface RunMeta {
  readonly run: string;
  readonly pid: number;
  readonly started: string;
}

/** Names are sg-<run>-<what>; the run part is lower-case base36, so a name tells which run made it. */
export const NAME = /^sg-([a-z0-9]+)-/;
export const runOf = (name: string | undefined) => (name ? NAME.exec(name)?.[1] : undefined);

export function newRunId(): string {
  return `${Date.now().toString(36).slice(-5)}${randomBytes(2).toString('hex')}`;
}

/** The run this process belongs to: one ID per `vitest` invocation (set in vitest.config.ts), else per process. */
export function currentRun(env: NodeJS.ProcessEnv = process.env): { run: string; pid: number } {
  // Empty counts as unset: a child run started by a test gets a run of its own.
  if (!env.STACKGATE_RUN) env.STACKGATE_RUN = newRunId();
  if (!env.STACKGATE_RUN_PID) env.STACKGATE_RUN_PID = String(process.pid);
  return { run: env.STACKGATE_RUN, pid: Number(env.STACKGATE_RUN_PID) };
}

/** Ledgers live with the repository, not in a run's (possibly scratch) reports folder: the next run must find them. */
export const ledgerDir = (lab: string) => join(repoRoot, 'reports', 'ledger', lab);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface RunRecord {
  readonly run: string;
  readonly pid: number;
  readonly alive: boolean;
  readonly file: string;
  /** The last state of every resource the run recorded, in the order they were first recorded. */
  readonly entries: readonly Entry[];
}

export function readLedger(file: string): Entry[] {
  if (!existsSync(file)) return [];
  const last = new Map<string, Entry>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as Entry;
      const key = `${e.kind}|${e.name}`;
      const prev = last.get(key);
      // A name can be created again after a deletion; keep the id once known.
      last.set(key, { ...prev, ...e, id: e.id ?? prev?.id });
    } catch {
      // a line cut by a crash says nothing more than the lines before it
    }
  }
  return [...last.values()];
}

/** Every run with a ledger for this lab, and whether its process still runs. */
export function runs(lab: string): RunRecord[] {
  const dir = ledgerDir(lab);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => {
      const run = f.slice(0, -'.jsonl'.length);
      let pid = 0;
      try {
        pid = (JSON.parse(readFileSync(join(dir, `${run}.json`), 'utf8')) as RunMeta).pid;
      } catch {
        // no meta: the run died before it wrote one, so it is not running
      }
      return { run, pid, alive: pid > 0 && alive(pid), file: join(dir, f), entries: readLedger(join(dir, f)) };
    });
}

/** Runs of this lab whose process is alive: their resources are in use and must not be reaped. */
export const liveRuns = (lab: string) => new Set(runs(lab).filter((r) => r.alive).map((r) => r.run));

export const outstanding = (entries: readonly Entry[]) => entries.filter((e) => e.state !== 'deleted' && e.state !== 'refused');

/** Remove a run's files once everything it recorded is gone. */
export function retire(lab: string, run: string): void {
  const file = join(ledgerDir(lab), `${run}.jsonl`);
  if (outstanding(readLedger(file)).length > 0) return;
  rmSync(file, { force: true });
  rmSync(join(ledgerDir(lab), `${run}.json`), { force: true });
}

/**
 * What the reaper removed before a run: leftovers of dead earlier runs. The global setup writes it beside the
 * ledgers, the run's reporter takes it into the report (matrix, summary, JUnit, Allure), so a lab that keeps
 * leaking shows night after night.
 */
export interface Reaped {
  readonly run: string;
  readonly removed: readonly string[];
  readonly failed: readonly string[];
  /** Why nothing could be reaped (no Keystone session …). */
  readonly error?: string;
}

const reapedFile = (lab: string, run: string) => join(ledgerDir(lab), `${run}.reaped.json`);

export function noteReaped(lab: string, reaped: Reaped): void {
  mkdirSync(ledgerDir(lab), { recursive: true });
  writeFileSync(reapedFile(lab, reaped.run), `${JSON.stringify(reaped)}\n`);
}

/** The reaper's note of this run, removed once read; undefined when nothing was reaped before it. */
export function takeReaped(lab: string, run: string): Reaped | undefined {
  const file = reapedFile(lab, run);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Reaped;
  } finally {
    rmSync(file, { force: true });
  }
}

/**
 * What to remove together, batch after batch: by the kinds' removal order (groups of kinds that may go side by side,
 * each group after the ones before it) where every entry's kind is in it, else one entry a batch, the last created
 * first.
 */
export function removalBatches<T extends { kind: string }>(created: readonly T[], order: readonly (readonly string[])[]): T[][] {
  const last = [...created].reverse();
  const rank = (kind: string) => order.findIndex((group) => group.includes(kind));
  if (!last.every((u) => rank(u.kind) >= 0)) return last.map((u) => [u]);
  return order.map((_, r) => last.filter((u) => rank(u.kind) === r)).filter((batch) => batch.length > 0);
}

/** One line for a report: what the reaper removed, what it could not, or why it could not try. */
export function reapedLine(r: Reaped): string {
  if (r.error) return `reaper: leftovers of earlier runs not reaped (${r.error})`;
  const parts = [`removed ${r.removed.length} leftover(s) of dead earlier runs${r.removed.length ? `: ${r.removed.join(', ')}` : ''}`];
  if (r.failed.length) parts.push(`could not remove ${r.failed.length}: ${r.failed.join('; ')}`);
  return `reaper: ${parts.join('; ')}`;
}

type Remove = () => Promise<void>;

export class Ledger {
  readonly run: string;
  readonly file: string;
  private readonly pid: number;
  private readonly undo: { kind: string; name: string; id: string; remove: Remove }[] = [];
  /** The kinds' removal order, set by the code that knows them (helpers/openstack/resources.ts); none: one at a time. */
  removalOrder: readonly (readonly string[])[] = [];

  constructor(
    readonly lab: string,
    run = currentRun(),
    /** Tells apart the ledgers of one run that create at the same time (test files in parallel workers). */
    readonly scope?: string,
  ) {
    this.run = run.run;
    this.pid = run.pid;
    this.file = join(ledgerDir(lab), `${this.run}.jsonl`);
  }

  /** sg-<run>-[<scope>-]<what>: every resource a run creates carries its run in its name. */
  name(what: string): string {
    return `sg-${this.run}-${this.scope ? `${this.scope}-` : ''}${what}`;
  }

  record(kind: string, name: string, state: EntryState, id?: string, note?: string): void {
    const dir = ledgerDir(this.lab);
    mkdirSync(dir, { recursive: true });
    const meta = join(dir, `${this.run}.json`);
    if (!existsSync(meta)) writeFileSync(meta, JSON.stringify({ run: this.run, pid: this.pid, started: new Date().toISOString() } satisfies RunMeta));
    const entry: Entry = { run: this.run, kind, name, ...(id ? { id } : {}), state, at: new Date().toISOString(), ...(note ? { note } : {}) };
    appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
  }

  /**
   * Create a resource under the ledger: recorded before the call, its removal registered right here, undone in
   * reverse order by cleanup().
   */
  async create<T extends { id: string }>(kind: string, what: string, create: (name: string) => Promise<T>, remove: (created: T) => Promise<void>): Promise<T> {
    const name = this.name(what);
    this.record(kind, name, 'creating');
    const created = await create(name).catch((error: unknown) => {
      // A client error is the service's answer that it made nothing; anything else (a time-out) may have made it.
      const status = (error as { status?: unknown }).status;
      if (typeof status === 'number' && status >= 400 && status < 500) this.record(kind, name, 'refused');
      throw error;
    });
    this.record(kind, name, 'created', created.id);
    this.undo.push({ kind, name, id: created.id, remove: () => remove(created) });
    return created;
  }

  /** Delete now what was created under this ledger (a check that proves deletion), keeping the ledger true. */
  async remove(kind: string, id: string): Promise<void> {
    const i = this.undo.findIndex((u) => u.kind === kind && u.id === id);
    if (i < 0) throw new Error(`no ${kind} ${id} in the ledger of run ${this.run}`);
    const [u] = this.undo.splice(i, 1);
    try {
      await u!.remove();
      this.record(u!.kind, u!.name, 'deleted', u!.id);
    } catch (error) {
      this.undo.splice(i, 0, u!);
      throw error;
    }
  }

  /** Mark a resource gone that went with another (a subnet with its network, a port with its server). */
  gone(kind: string, id: string): void {
    const i = this.undo.findIndex((u) => u.kind === kind && u.id === id);
    if (i < 0) return;
    const [u] = this.undo.splice(i, 1);
    this.record(u!.kind, u!.name, 'deleted', u!.id);
  }

  get pending(): number {
    return this.undo.length;
  }

  /**
   * Undo every creation; returns what could not be removed (it stays in the ledger). Group by group of
   * `removalOrder`, side by side within one; a ledger holding a kind outside it undoes one after another, in reverse
   * order of creation.
   */
  async cleanup(): Promise<string[]> {
    const failures: string[] = [];
    const undo = async (u: (typeof this.undo)[number]) => {
      try {
        await u.remove();
        this.record(u.kind, u.name, 'deleted', u.id);
      } catch (error) {
        this.record(u.kind, u.name, 'delete-failed', u.id, (error as Error).message);
        failures.push(`${u.kind} ${u.name} (${u.id}): ${(error as Error).message}`);
      }
    };
    for (const batch of removalBatches(this.undo.splice(0), this.removalOrder)) await Promise.all(batch.map(undo));
    retire(this.lab, this.run);
    return failures;
  }
}
