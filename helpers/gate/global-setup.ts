import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { TestProject } from 'vitest/node';
import { LabSpecError } from '../lab/load.ts';
import { loadLabAndDecisions, type Decisions } from './decisions.ts';
import { CATEGORIES } from './categories.ts';
import { currentRun, noteReaped } from './ledger.ts';
import { labReachability } from './reach.ts';
import { isLayer, layerOfFile } from './layers.ts';
import { labEnsured } from './ensured.ts';
import type { Cloud } from '../openstack/cloud.ts';
import { addSecret, redact } from './redact.ts';
import { beforeVerdict } from './run-end.ts';
import type { Lab } from '../lab/model.ts';
import { guestCheckIdsIn, type SharedGuestHandle } from '../openstack/shared-guest.ts';

/** The layers whose checks create cloud resources: before them, remove what earlier runs left. */
const CREATING = new Set(['compute', 'storage', 'loadbalancer', 'persistence']);

/**
 * Runs once per acceptance project before any check: a malformed spec or decision record stops the run here
 * with one error listing every problem, before anything touches a lab.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  try {
    await prepare(project);
  } catch (error) {
    throw printable(error);
  }
  return teardown;
}

/**
 * An error Vitest can print. The global setup runs in Vitest's main process, whose module runner maps stack frames
 * through the source maps of the modules it evaluated; with `experimental.fsModuleCache` a module read from that
 * cache keeps its code as a Buffer (vitest 4.1's ServerModuleRunner reads the cache file without an encoding), and
 * the first `error.stack` then throws `code.charCodeAt is not a function`, so Vitest's printer shows that instead
 * of the error. The stack is formatted here without that mapping, before Vitest reads it. A spec error's frames say
 * nothing to an operator (its message names file, line and column): it keeps its message only.
 */
export function printable(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const prepareStackTrace = Error.prepareStackTrace;
  // Node's own formatting, without the module runner's source maps.
  delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
  try {
    error.stack = error instanceof LabSpecError ? `${error.name}: ${error.message}` : error.stack;
  } catch {
    error.stack = `${error.name}: ${error.message}`;
  } finally {
    if (prepareStackTrace) Error.prepareStackTrace = prepareStackTrace;
  }
  return error;
}

async function prepare(project: TestProject): Promise<void> {
  // `npm test` runs `lab ensure` beside Vitest's start: nothing is judged, reaped or booted before it has ended.
  await labEnsured();
  const { lab, decisions } = loadLabAndDecisions();
  // Once per run, not once per layer (each layer's project runs this setup).
  const shown = globalThis as { __stackgateLapsedShown?: boolean };
  for (const w of shown.__stackgateLapsedShown ? [] : decisions.lapsed()) {
    process.stdout.write(`stackgate: ${relative(process.cwd(), decisions.file)}: the waiver of ${w.decision} expired on ${w.expires}; it no longer excuses a failure\n`);
  }
  shown.__stackgateLapsedShown = true;
  const results = process.env.STACKGATE_ALLURE_RESULTS ?? join(process.cwd(), 'reports/allure-results');
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'categories.json'), JSON.stringify(CATEGORIES, null, 2));

  const { run, pid } = currentRun();
  // A project per layer, or one for all (vitest.config.ts): the layers of its files.
  const paths = project.vitest.state.getPaths();
  const layers = isLayer(project.name) ? [project.name] : paths.flatMap((f) => layerOfFile(f) ?? []);
  if (!layers.some((l) => CREATING.has(l))) return;
  // Once per run, not once per layer; each layer's project gets the same guest.
  const begun = globalThis as { __stackgateGuest?: Promise<SharedGuestHandle | null> };
  begun.__stackgateGuest ??= reapAndBegin(lab, decisions, project, { run, pid });
  project.provide('stackgateGuest', await begun.__stackgateGuest);
}

/**
 * Remove what earlier runs left, then begin the run's shared guest (helpers/openstack/shared-guest.ts) when a file of
 * the run uses it: its boot goes on while the quick layers are judged. Its resources are removed before the gate
 * judges the run's ledger (helpers/gate/run-end.ts), or by the next run's reaper after a crash.
 */
async function reapAndBegin(
  lab: Lab, decisions: Decisions, project: TestProject, run: { run: string; pid: number },
): Promise<SharedGuestHandle | null> {
  // Never send anything to a lab that is not attached here; its checks report it as blocked.
  if (!(await labReachability(lab)).reachable) return null;
  let cloud: Cloud | undefined;
  try {
    // Loaded only before the layers that create resources.
    const [{ Cloud }, { reap }] = await Promise.all([import('../openstack/cloud.ts'), import('../openstack/resources.ts')]);
    cloud = await Cloud.connect(lab);
    const r = await reap(cloud, new Set([run.run]));
    // Into the run's report too (helpers/gate/reporter.ts), not only this console.
    noteReaped(lab.name, { run: run.run, removed: r.removed, failed: r.failed.map(redact) });
    if (r.removed.length) process.stdout.write(`stackgate: removed what earlier runs left in lab ${lab.name}: ${r.removed.join(', ')}\n`);
    if (r.failed.length) process.stdout.write(`stackgate: could not remove leftovers of earlier runs in lab ${lab.name}: ${redact(r.failed.join('; '))}\n`);
  } catch (error) {
    // Keystone unreachable or credentials wrong: compute.keystone-token reports it; nothing to reap without a session.
    noteReaped(lab.name, { run: run.run, removed: [], failed: [], error: redact((error as Error).message) });
    process.stdout.write(`stackgate: leftovers of earlier runs not reaped (${redact((error as Error).message)})\n`);
    await cloud?.close();
    return null;
  }
  const files = project.vitest.state.getPaths();
  const sources = files.filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8'));
  // Only for a check that uses the guest and that the lab's decisions ask for: a lab whose decisions ask for Glance's
  // check but for no server (ha-infra, which has no nova-compute) boots nothing.
  const asked = (source: string) => guestCheckIdsIn(source).some((id) => decisions.forCheck(id).length > 0);
  if (!sources.some((s) => asked(s))) {
    await cloud.close();
    return null;
  }
  const { buildSharedGuest, borrowersIn, removeState, stateFileOf } = await import('../openstack/shared-guest.ts');
  const { sshKeyPair } = await import('../openstack/tenant.ts');
  const key = sshKeyPair('stackgate');
  addSecret(key.privateKeyPem);
  const stateFile = stateFileOf(lab.name, run.run);
  const borrowers = borrowersIn(files, project.vitest.config.testNamePattern);
  const cleanup = await buildSharedGuest(lab, cloud, run, stateFile, borrowers, key);
  const session = cloud;
  let done: Promise<void> | undefined;
  const end = () =>
    (done ??= (async () => {
      const left = await cleanup();
      await session.close();
      removeState(stateFile);
      if (left.length) process.stdout.write(`stackgate: the run's shared guest left resources behind (they stay in the ledger): ${redact(left.join('; '))}\n`);
    })());
  // Before the gate reads the run's ledger; the teardown only when no gate ran (a run without the reporters).
  beforeVerdict(end);
  globalTeardowns.push(end);
  return { stateFile, ...key };
}

/** What the global setup's teardown waits for. */
const globalTeardowns: (() => Promise<void>)[] = [];

async function teardown(): Promise<void> {
  await Promise.all(globalTeardowns.splice(0).map((t) => t()));
}
