/**
 * A check that cannot run because something it stands on failed is blocked, not failed: it says so through
 * blocked() or needs() (helpers/gate/check.ts). An error whose message merely starts with "blocked" is recorded as a
 * failure, so no suite may throw one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot } from '../../helpers/lab/load.ts';

it('no acceptance check throws an Error("blocked: …"): it calls blocked() or needs() instead', () => {
  const offenders: string[] = [];
  for (const e of readdirSync(join(repoRoot, 'suites'), { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.test.ts')) continue;
    const file = join(e.parentPath, e.name);
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      if (/new Error\(\s*[`'"]blocked\b/i.test(line)) offenders.push(`${relative(repoRoot, file)}:${i + 1}: ${line.trim()}`);
    });
  }
  expect(offenders).toEqual([]);
});
