// The live layers are written from the spec, not from the embedded lab: a second, deliberately different lab
// (provision/local/testdata/other: other networks, addresses, node and interface names, domain, two load balancers)
// is brought up beside the embedded one, and network, tls and dns run on it unchanged and pass. Root only (it makes
// namespaces and bridges); the lab is taken down again, also when a check fails.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecks, type ChildRun } from '../../helpers/gate/child-run.ts';
import { loadLab, repoRoot } from '../../helpers/lab/load.ts';
import { down, up } from './index.ts';

const file = fileURLToPath(new URL('testdata/other/lab.yaml', import.meta.url));
const lab = loadLab(file);
const root = process.getuid?.() === 0;

describe.runIf(root)(`the live layers on a second lab (${lab.name}: other addresses and names)`, () => {
  let run: ChildRun;
  beforeAll(async () => {
    await up(lab, { log: () => undefined });
    run = await runChecks({ lab: file, scratch: join(repoRoot, 'reports/tmp/other-lab'), args: ['--project', 'network', '--project', 'tls', '--project', 'dns'] });
  }, 300_000);
  afterAll(async () => {
    await down(lab, { log: () => undefined });
  }, 120_000);

  it('network, tls and dns pass with the gate green', () => {
    expect(run.verdict?.reasons, run.output.slice(-2000)).toEqual([]);
    expect(run.exitCode).toBe(0);
  });

  it('the checks ran against its nodes and names, not the embedded lab’s', () => {
    const passed = (run.verdict?.results ?? []).filter((r) => r.status === 'passed').map((r) => r.checkId);
    expect(passed).toEqual(expect.arrayContaining(['net.node-interfaces', 'net.vip-single-holder', 'tls.chain-lab-ca', 'dns.forward-records']));
    expect(run.output).not.toMatch(/embedded|192\.168\.105\./);
  });
});
