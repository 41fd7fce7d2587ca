/**
 * Ctrl-C at the worst moments leaves nothing behind: a compute run is interrupted (SIGINT to its process group,
 * as a terminal does) after its network exists, while its server boots and after its floating IP is associated;
 * the next run's start removes every sg- resource of the interrupted run.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../helpers/gate/child-run.ts';
import { ledgerDir, readLedger, runOf, type Entry } from '../../helpers/gate/ledger.ts';
import { loadLab, repoRoot } from '../../helpers/lab/load.ts';
import { Cloud } from '../../helpers/openstack/cloud.ts';
import { sgResources } from '../../helpers/openstack/resources.ts';

const lab = loadLab('embedded');
const scratch = join(repoRoot, 'reports/tmp/interrupt');
let cloud: Cloud;

beforeAll(async () => {
  cloud = await Cloud.connect(lab);
});
afterAll(async () => {
  await cloud?.close();
});

/** A moment in a compute run, seen from outside: in its ledger, or in the cloud. */
interface Moment {
  readonly name: string;
  reached(entries: readonly Entry[]): Promise<boolean>;
}

const has = (entries: readonly Entry[], kind: string, state: Entry['state']) => entries.some((e) => e.kind === kind && e.state === state);

const MOMENTS: Moment[] = [
  { name: 'after the network is created', reached: async (e) => has(e, 'network', 'created') },
  { name: 'while the server boots', reached: async (e) => has(e, 'server', 'creating') || has(e, 'server', 'created') },
  {
    name: 'after the floating IP is associated',
    reached: async (e) => {
      const fip = e.find((x) => x.kind === 'floatingip' && x.state === 'created');
      if (!fip?.id) return false;
      const r = await cloud.get<{ floatingip: { port_id: string | null } }>('network', `/v2.0/floatingips/${fip.id}`, { ok: [200, 404] });
      return r.status === 200 && r.body.floatingip.port_id !== null;
    },
  },
];

const ledgers = () => new Set(existsSync(ledgerDir(lab.name)) ? readdirSync(ledgerDir(lab.name)).filter((f) => f.endsWith('.jsonl')) : []);

/** Start a compute run, wait for the moment, interrupt it; the interrupted run's ID and what it had created. */
async function interruptAt(moment: Moment): Promise<{ run: string; left: string[] }> {
  const before = ledgers();
  const dir = join(scratch, 'killed');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const child = execa('npx', ['vitest', 'run', '--project', 'compute', 'suites/compute/tenant.test.ts'], {
    cwd: repoRoot,
    detached: true, // its own process group, which SIGINT reaches as a terminal's Ctrl-C does
    reject: false,
    env: { STACKGATE_LAB: lab.name, STACKGATE_REPORTS: dir, STACKGATE_ALLURE_RESULTS: join(dir, 'allure-results'), STACKGATE_RUN: '', STACKGATE_RUN_PID: '', FORCE_COLOR: '0' },
  });
  let run: string | undefined;
  const deadline = Date.now() + 120_000;
  try {
    for (;;) {
      if (Date.now() > deadline) throw new Error(`the compute run did not get ${moment.name} within 120 s`);
      if (child.exitCode !== null) throw new Error(`the compute run ended before ${moment.name}`);
      const file = [...ledgers()].find((f) => !before.has(f));
      if (file) {
        run = file.replace(/\.jsonl$/, '');
        if (await moment.reached(readLedger(join(ledgerDir(lab.name), file)))) break;
      }
      await sleep(100);
    }
  } finally {
    if (child.pid) process.kill(-child.pid, 'SIGINT');
    await child;
  }
  const left = (await sgResources(cloud)).filter((r) => runOf(r.name.split(' ').pop()) === run).map((r) => r.name);
  return { run: run!, left };
}

describe('a compute run interrupted with SIGINT leaves nothing once the next run starts', () => {
  for (const moment of MOMENTS) {
    it(moment.name, async () => {
      const killed = await interruptAt(moment);
      console.log(`run ${killed.run} interrupted ${moment.name} left: ${killed.left.join(", ") || "nothing"}`);
      // The next run: its start reaps what the interrupted run left (the Keystone checks create nothing themselves).
      const next = await runChecks({ lab: lab.name, scratch: join(scratch, 'next'), args: ['--project', 'compute', 'suites/compute/keystone.test.ts'] });
      expect(next.exitCode === 0 || next.verdict !== undefined, next.output.slice(-2000)).toBe(true);
      const after = (await sgResources(cloud)).filter((r) => runOf(r.name.split(' ').pop()) === killed.run).map((r) => r.name);
      expect(after, `run ${killed.run} interrupted ${moment.name} had left: ${killed.left.join(', ') || 'nothing'}`).toEqual([]);
      // Not silently: what the reaper removed is in the next run's report (matrix, JUnit, Allure, summary).
      expect(next.verdict?.reaped?.removed ?? [], 'the reaper\'s removals in the next run\'s verdict').toEqual(expect.arrayContaining(killed.left));
      if (killed.left.length > 0) expect(readFileSync(join(scratch, 'next', 'junit.xml'), 'utf8')).toContain(killed.left[0]);
      expect(existsSync(join(ledgerDir(lab.name), `${killed.run}.jsonl`)), `the ledger of run ${killed.run} is still there`).toBe(false);
    });
  }
});
