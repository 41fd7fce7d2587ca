import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LabSpecError, loadLab, parseValidatedYaml, repoRoot, resolveLabFile } from '../lab/load.ts';
import type { Lab } from '../lab/model.ts';
import { layerOf, type Layer } from './layers.ts';

export interface Decision {
  readonly id: string;
  readonly title: string;
  readonly source: string;
  readonly statement?: string;
  readonly checks: readonly string[];
}

export interface Waiver {
  readonly decision: string;
  readonly checks?: readonly string[];
  readonly justification: string;
  readonly expires: string;
}

interface DecisionsFile {
  lab: string;
  decisions: Decision[];
  waivers?: Waiver[];
}

const schemaFile = join(repoRoot, 'fixtures/schema/decisions.schema.json');

/** The decision record of one lab: which checks prove which decision, and the waivers in force. */
export class Decisions {
  constructor(
    readonly lab: string,
    readonly file: string,
    readonly all: readonly Decision[],
    readonly waivers: readonly Waiver[],
  ) {}

  /** Waivers already expired on `today`: they no longer count, and an operator should hear it before a failure. */
  lapsed(today: string = judgedOn()): Waiver[] {
    return this.waivers.filter((w) => w.expires < today);
  }

  /** The decisions a check proves. */
  forCheck(checkId: string): Decision[] {
    return this.all.filter((d) => d.checks.includes(checkId));
  }

  /** Decisions with at least one check in one of these layers. */
  inLayers(layers: readonly Layer[]): Decision[] {
    return this.all.filter((d) => d.checks.some((c) => layers.includes(layerOf(c))));
  }

  /**
   * The waiver covering a check's failure: one per decision of the check, all unexpired on `today`.
   * Returns the expired waivers too, so a failure can say that its waiver lapsed.
   */
  waiverFor(checkId: string, today: string = isoDay()): { active?: Waiver[]; expired?: Waiver[] } {
    const decisions = this.forCheck(checkId);
    if (decisions.length === 0) return {};
    const matching = decisions.map((d) =>
      this.waivers.find((w) => w.decision === d.id && (!w.checks || w.checks.includes(checkId))),
    );
    if (matching.some((w) => !w)) return {};
    const waivers = matching as Waiver[];
    const expired = waivers.filter((w) => w.expires < today);
    return expired.length > 0 ? { expired } : { active: waivers };
  }

  label(checkId: string): string {
    const ds = this.forCheck(checkId);
    return ds.length === 0 ? `no decision of lab ${this.lab}` : ds.map((d) => `${d.id} ${d.title}`).join('; ');
  }
}

export function isoDay(date: Date = new Date()): string {
  return date.toISOString().slice(0, 10);
}

/** The day a run judges waivers on: STACKGATE_TODAY for the project's own tests, else today. */
export function judgedOn(): string {
  return process.env.STACKGATE_TODAY || isoDay();
}

/** How far ahead a waiver may expire: a deviation is looked at again within a year. */
export const MAX_WAIVER_DAYS = 366;

/** True for a real calendar day written YYYY-MM-DD (no 2026-13-45, no 2026-02-30). */
export function isCalendarDay(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return isoDay(d) === text;
}

/** The check IDs a suite file's source declares (`check('id', …)`). */
export const checkIdsIn = (source: string): string[] => [...source.matchAll(/\bcheck\(\s*'([^']+)'/g)].map((m) => m[1]!);

const checksByDir: Map<string, Set<string>> = ((globalThis as { __stackgateChecks?: Map<string, Set<string>> }).__stackgateChecks ??= new Map());

/**
 * The check IDs the acceptance suites declare (`check('id', …)` in suites/**\/*.test.ts, or under STACKGATE_SUITES
 * for the gate's own fixture), read from source so that a decision record is judged without loading the suites.
 */
export function declaredChecks(dir: string = process.env.STACKGATE_SUITES || join(repoRoot, 'suites')): Set<string> {
  let ids = checksByDir.get(dir);
  if (ids) return ids;
  ids = new Set<string>();
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts'));
  for (const f of files) for (const id of checkIdsIn(readFileSync(join(dir, f), 'utf8'))) ids.add(id);
  checksByDir.set(dir, ids);
  return ids;
}

/** The closest declared check ID, for "did you mean": at most two edits away. */
function closest(id: string, known: Iterable<string>): string | undefined {
  let best: { id: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(id, k);
    if (d <= 2 && (!best || d < best.d)) best = { id: k, d };
  }
  return best?.id;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** Checks the lab's record names that are not written yet (known-gaps beside its spec): not unknown. */
function knownGaps(dir: string): string[] {
  const file = join(dir, 'known-gaps');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
}

function problems(lab: { name?: string; dir: string }, today: string) {
  return (data: DecisionsFile) => {
    const out: { path: string; message: string }[] = [];
    if (lab.name !== undefined && data.lab !== lab.name) out.push({ path: '/lab', message: `decisions are for lab "${data.lab}", the spec is lab "${lab.name}"` });
    const known = new Set([...declaredChecks(), ...knownGaps(lab.dir)]);
    const unknown = (path: string, c: string) => {
      const near = closest(c, known);
      out.push({ path, message: `unknown check ${c}: no suite declares it${near ? ` (did you mean ${near}?)` : ''}` });
    };
    const ids = new Set<string>();
    for (const [i, d] of data.decisions.entries()) {
      if (ids.has(d.id)) out.push({ path: `/decisions/${i}/id`, message: `decision ${d.id} is listed twice` });
      ids.add(d.id);
      for (const [j, c] of (d.checks ?? []).entries()) if (!known.has(c)) unknown(`/decisions/${i}/checks/${j}`, c);
    }
    const latest = isoDay(new Date(Date.parse(today) + MAX_WAIVER_DAYS * 86_400_000));
    for (const [i, w] of (data.waivers ?? []).entries()) {
      const decision = data.decisions.find((d) => d.id === w.decision);
      if (!decision) out.push({ path: `/waivers/${i}/decision`, message: `waiver for unknown decision ${w.decision}` });
      for (const [j, c] of (w.checks ?? []).entries()) {
        if (decision && !decision.checks.includes(c)) out.push({ path: `/waivers/${i}/checks/${j}`, message: `check ${c} does not prove decision ${w.decision}` });
      }
      if (typeof w.expires !== 'string') continue;
      if (!isCalendarDay(w.expires)) out.push({ path: `/waivers/${i}/expires`, message: `expires ${w.expires} is not a calendar day (YYYY-MM-DD)` });
      else if (w.expires > latest) {
        out.push({ path: `/waivers/${i}/expires`, message: `expires ${w.expires} is more than a year ahead (latest ${latest}): a waiver is looked at again within a year` });
      }
    }
    return out;
  };
}

const cache = new Map<string, Decisions>();

/** Load `decisions.yaml` beside the lab spec. */
export function loadDecisions(lab: Lab): Decisions {
  const file = join(lab.dir, 'decisions.yaml');
  const cached = cache.get(file);
  if (cached) return cached;
  if (!existsSync(file)) {
    throw new LabSpecError(file, [{ file, line: 0, column: 0, path: '', message: `lab ${lab.name} has no decision record (decisions.yaml beside lab.yaml)` }]);
  }
  const data = parseValidatedYaml<DecisionsFile>(readFileSync(file, 'utf8'), file, schemaFile, problems(lab, judgedOn()));
  const decisions = new Decisions(data.lab, file, data.decisions, data.waivers ?? []);
  cache.set(file, decisions);
  return decisions;
}

/**
 * The lab and its decision record, or one error with every problem of both: a broken spec does not hide what is
 * wrong with its decision record.
 */
export function loadLabAndDecisions(nameOrPath?: string): { lab: Lab; decisions: Decisions } {
  let lab: Lab | undefined;
  let specError: LabSpecError | undefined;
  try {
    lab = loadLab(nameOrPath);
    return { lab, decisions: loadDecisions(lab) };
  } catch (error) {
    if (!(error instanceof LabSpecError) || lab) throw error;
    specError = error;
  }
  const file = join(dirname(specError.file), 'decisions.yaml');
  if (specError.file !== resolveLabFile(nameOrPath) || !existsSync(file)) throw specError;
  try {
    // The spec's name is unknown when the spec is broken: the record is judged on everything else.
    parseValidatedYaml<DecisionsFile>(readFileSync(file, 'utf8'), file, schemaFile, problems({ dir: dirname(file) }, judgedOn()));
  } catch (error) {
    if (error instanceof LabSpecError) throw new LabSpecError(specError.file, [...specError.problems, ...error.problems]);
    throw error;
  }
  throw specError;
}
