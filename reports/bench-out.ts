// What every benchmark script shares: the machine line of its table and where its results go.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/lab/load.ts';

export const machine = () => `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;

/** reports/bench/<name>.md and .json, and the table on stdout. */
export function writeBench(name: string, md: string, data: unknown): void {
  mkdirSync(join(repoRoot, 'reports/bench'), { recursive: true });
  writeFileSync(join(repoRoot, `reports/bench/${name}.md`), md);
  writeFileSync(join(repoRoot, `reports/bench/${name}.json`), `${JSON.stringify(data, null, 2)}\n`);
  console.log(`\n${md}`);
}
