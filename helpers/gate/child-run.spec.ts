import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runChecks } from './child-run.ts';

it('a child run past its bound is interrupted with everything it started, and says so', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sg-child-'));
  const started = performance.now();
  // A grandchild: it would go on unless the whole process group is interrupted.
  const command = ['sh', '-c', 'echo begun; sh -c "sleep 60; echo never"'];
  const run = await runChecks({ lab: 'embedded', scratch, args: [], command, timeoutMs: 500 });
  expect(run.timedOut).toBe(true);
  expect(run.output).toContain('begun');
  expect(run.output).not.toContain('never');
  expect(run.verdict).toBeUndefined();
  expect(performance.now() - started).toBeLessThan(10_000);
});

it('a child run inside its bound is not marked as interrupted', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'sg-child-'));
  const run = await runChecks({ lab: 'embedded', scratch, args: [], command: ['true'], timeoutMs: 10_000 });
  expect(run).toMatchObject({ timedOut: false, exitCode: 0 });
});
