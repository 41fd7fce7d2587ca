import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabSpecError, parseValidatedYaml, repoRoot } from '../lab/load.ts';
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

function problems(lab: Lab) {
  return (data: DecisionsFile) => {
    const out: { path: string; message: string }[] = [];
    if (data.lab !== lab.name) out.push({ path: '/lab', message: `decisions are for lab "${data.lab}", the spec is lab "${lab.name}"` });
    const ids = new Set<string>();
    for (const [i, d] of data.decisions.entries()) {
      if (ids.has(d.id)) out.push({ path: `/decisions/${i}/id`, message: `decision ${d.id} is listed twice` });
      ids.add(d.id);
    }
    for (const [i, w] of (data.waivers ?? []).entries()) {
      const decision = data.decisions.find((d) => d.id === w.decision);
      if (!decision) out.push({ path: `/waivers/${i}/decision`, message: `waiver for unknown decision ${w.decision}` });
      for (const [j, c] of (w.checks ?? []).entries()) {
        if (decision && !decision.checks.includes(c)) out.push({ path: `/waivers/${i}/checks/${j}`, message: `check ${c} does not prove decision ${w.decision}` });
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
  const data = parseValidatedYaml<DecisionsFile>(readFileSync(file, 'utf8'), file, schemaFile, problems(lab));
  const decisions = new Decisions(data.lab, file, data.decisions, data.waivers ?? []);
  cache.set(file, decisions);
  return decisions;
}
