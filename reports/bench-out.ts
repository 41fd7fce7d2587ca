// What every benchmark script shares: the machine line of its table and where its results go.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/lab/load.ts';

export const machine = () => `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;

/** The middle value; with an even count, the mean of the two middle ones. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** reports/bench/<name>.md and .json, and the table on stdout. */
export function writeBench(name: string, md: string, data: unknown): void {
  mkdirSync(join(repoRoot, 'reports/bench'), { recursive: true });
  writeFileSync(join(repoRoot, `reports/bench/${name}.md`), md);
  writeFileSync(join(repoRoot, `reports/bench/${name}.json`), `${JSON.stringify(data, null, 2)}\n`);
  console.log(`\n${md}`);
}

/**
 * The finished steps of a provider's progress, as title → seconds (a repeated title adds up). A step is announced as
 * `  … title` and finishes as `  ✓ title (note)  [12.3s]`; the title is taken from its announcement, since titles
 * and notes may both hold parentheses.
 */
export function stepTimes(out: string): Record<string, number> {
  const lines = out.split('\n');
  const titles = lines.flatMap((l) => (l.startsWith('  … ') ? [l.slice(4)] : [])).sort((a, b) => b.length - a.length);
  const steps: Record<string, number> = {};
  for (const l of lines) {
    const secs = /^ {2}✓ .* {2}\[(\d+(?:\.\d+)?)s\]$/.exec(l)?.[1];
    const title = secs === undefined ? undefined : titles.find((t) => l.startsWith(`  ✓ ${t}`));
    if (title !== undefined) steps[title] = (steps[title] ?? 0) + Number(secs);
  }
  return steps;
}
