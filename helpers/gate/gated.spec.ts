import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../lab/load.ts';
import { runChecks, type ChildRun } from './child-run.ts';
import { layerGates, layerLines } from './gated.ts';
import type { Layer } from './layers.ts';
import type { CheckResult } from './verdict.ts';

const scratch = (name: string) => join(repoRoot, 'reports/tmp/gated', name);
const gate = (run: ChildRun, layer: Layer) => {
  const g = run.verdict?.gates?.find((x) => x.layer === layer);
  return g ? `${g.status}${g.by ? ` by ${g.by}` : ''}` : 'not judged';
};
/** Checks of these layers that did anything but stand blocked by the network layer (or not apply to the lab). */
const notBlockedByNetwork = (run: ChildRun, prefix: RegExp) =>
  (run.verdict?.results ?? []).filter((r) => prefix.test(r.checkId ?? '') && r.skip?.kind !== 'not-applicable' && r.skip?.by !== 'network');

// The charmed-caracal lab is not attached to this host: its spec passes the preflight layer, and none of its network
// checks can run, so the network layer does not pass. Nothing is sent to the lab's addresses.
describe('gated runs: each layer a hard gate, in the design order', { concurrent: true }, () => {
  it('`npm test -- --gated` stops at the network layer, compute and storage blocked by it', async () => {
    const command = ['npm', 'test', '--', '--gated'];
    const run = await runChecks({ lab: 'charmed-caracal', scratch: scratch('flag'), args: [], command });
    expect(run.exitCode, run.output).toBe(1);
    expect(['preflight', 'network', 'compute', 'storage'].map((l) => gate(run, l as Layer)))
      .toEqual(['passed', 'failed', 'blocked by network', 'blocked by network']);
    expect(notBlockedByNetwork(run, /^(compute|storage)\./)).toEqual([]);
    expect(run.output).toMatch(/^ {2}compute +BLOCKED +by network$/m);
    expect(run.output).toContain('The gate stopped at network; the layers above it did not run.');
    expect(readFileSync(join(scratch('flag'), 'junit.xml'), 'utf8')).toMatch(/name="layers: the gate stopped at network">/);
  });

  it("a spec's gate.gated gates a plain Vitest run the same way", async () => {
    const dir = scratch('spec-lab');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const from = join(repoRoot, 'fixtures/labs/charmed-caracal');
    // Three folders deep like the original, so that its relative paths (credentials, secrets) still point where they did.
    writeFileSync(join(dir, 'lab.yaml'), `${readFileSync(join(from, 'lab.yaml'), 'utf8')}\ngate: { gated: true }\n`);
    for (const f of ['decisions.yaml', 'design.md']) copyFileSync(join(from, f), join(dir, f));
    const args = ['--project', 'preflight', '--project', 'network', '--project', 'compute'];
    const run = await runChecks({ lab: join(dir, 'lab.yaml'), scratch: scratch('spec'), args });
    expect(['network', 'compute'].map((l) => gate(run, l as Layer)), run.output).toEqual(['failed', 'blocked by network']);
    expect(notBlockedByNetwork(run, /^compute\./)).toEqual([]);
  });

  it('a parallel run shows the failures above a failed layer under it, and passes what passed', () => {
    const r = (checkId: string, status: CheckResult['status']): CheckResult => ({ checkId, name: checkId, file: '', status });
    const results = [r('pre.a', 'passed'), r('net.b', 'failed'), r('compute.c', 'failed'), r('mon.d', 'passed')];
    const lines = layerLines(layerGates(results, ['preflight', 'network', 'compute', 'monitoring'], false), false);
    expect(lines).toContain('  compute     BLOCKED  by network: compute.c failed (ran anyway, may follow from network)');
    expect(lines).toContain('  monitoring  PASS     1 passed');
    expect(lines.at(-1)).toBe('The gate stopped at network.');
  });
});
