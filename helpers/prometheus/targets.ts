/**
 * Pure comparison of the scrape targets the spec expects (lab.expectedTargets) with the active targets Prometheus
 * reports: present, missing, extra, and the health of each present one. Findings are sentences naming job and
 * instance; nothing here talks to a lab.
 */
import type { ScrapeTarget } from '../lab/model.ts';

/** One entry of /api/v1/targets data.activeTargets (the fields the checks read). */
export interface ActiveTarget {
  readonly labels: Readonly<Record<string, string>> & { readonly job?: string; readonly instance?: string };
  readonly scrapePool?: string;
  readonly scrapeUrl?: string;
  readonly health: 'up' | 'down' | 'unknown' | string;
  readonly lastError: string;
  readonly lastScrape: string;
  readonly lastScrapeDuration?: number;
  readonly scrapeInterval?: string;
}

const key = (job: string | undefined, instance: string | undefined) => `${job ?? '?'}\u0000${instance ?? '?'}`;

/** `job node instance 192.168.105.102:9100 (node node2)` */
export function describeTarget(t: { job: string; instance: string; node?: string | undefined }): string {
  return `job ${t.job} instance ${t.instance}${t.node ? ` (node ${t.node})` : ''}`;
}

export interface Comparison {
  /** Expected now, and among the active targets. */
  readonly present: { expected: ScrapeTarget; active: ActiveTarget }[];
  /** Expected now, and not among the active targets. */
  readonly missing: ScrapeTarget[];
  /** Active, and not expected by the spec (reported, never a failure). */
  readonly extra: ActiveTarget[];
  /** In the spec, but not expected on this lab now (a later phase, a capability it lacks), with the reason. */
  readonly notExpected: ScrapeTarget[];
}

export function compareTargets(expected: readonly ScrapeTarget[], active: readonly ActiveTarget[]): Comparison {
  const byKey = new Map(active.map((a) => [key(a.labels.job, a.labels.instance), a]));
  const expectedKeys = new Set(expected.map((t) => key(t.job, t.instance)));
  const present: Comparison['present'] = [];
  const missing: ScrapeTarget[] = [];
  const notExpected: ScrapeTarget[] = [];
  for (const t of expected) {
    if (t.notExpected) {
      notExpected.push(t);
      continue;
    }
    const a = byKey.get(key(t.job, t.instance));
    if (a) present.push({ expected: t, active: a });
    else missing.push(t);
  }
  const extra = active.filter((a) => !expectedKeys.has(key(a.labels.job, a.labels.instance)));
  return { present, missing, extra, notExpected };
}

/** Why each missing target is a finding: it names the pair and says missing (not down). */
export function missingFindings(c: Comparison, active: readonly ActiveTarget[], where: string): string[] {
  const expectedNow = c.present.length + c.missing.length;
  if (active.length === 0) return [`${where} reports no active target at all; the spec expects ${expectedNow}`];
  return c.missing.map((t) => {
    const sameJob = active.filter((a) => a.labels.job === t.job).map((a) => a.labels.instance);
    const seen = sameJob.length ? `job ${t.job} has ${sameJob.join(', ')}` : `no active target has job ${t.job}`;
    return `${describeTarget(t)} is missing from ${where}'s active targets (not configured, not merely down; ${seen})`;
  });
}

/** The Go zero time Prometheus reports for a target never scraped. */
const NEVER = /^0001-01-01/;

/** Health findings for the present targets: up, no last error, scraped within `maxAgeSeconds`. */
export function healthFindings(c: Comparison, now: Date, maxAgeSeconds: number, intervalNote: string): string[] {
  return c.present.flatMap(({ expected, active }) => {
    const name = describeTarget(expected);
    const problems: string[] = [];
    if (active.health !== 'up') problems.push(`health ${active.health}`);
    if (active.lastError) problems.push(`last error "${active.lastError}"`);
    if (NEVER.test(active.lastScrape) || Number.isNaN(Date.parse(active.lastScrape))) problems.push('never scraped');
    else {
      const age = (now.getTime() - Date.parse(active.lastScrape)) / 1000;
      if (age > maxAgeSeconds) problems.push(`last scraped ${Math.round(age)} s ago, more than ${intervalNote}`);
    }
    return problems.length ? [`${name} is not healthy: ${problems.join('; ')} (scrape URL ${active.scrapeUrl ?? 'unknown'})`] : [];
  });
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `up{job=~"node|haproxy"} == 0`: the expected jobs' targets that are down, as PromQL. */
export function downQuery(jobs: readonly string[]): string {
  const names = [...new Set(jobs)].sort();
  // A PromQL string literal: backslashes and quotes escaped after the regex escaping.
  const re = names.map(escapeRegex).join('|').replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return `up{job=~"${re}"} == 0`;
}
