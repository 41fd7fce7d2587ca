import * as allure from 'allure-js-commons';
import { afterAll, inject, test as base, TestRunner, type TestContext } from 'vitest';
import { NodeShell, sshCredentialsMissing, type SshHost } from '../node/ssh.ts';
import { deployerClient } from '../node/deployer.ts';
import { basename, relative } from 'node:path';
import { loadLab, repoRoot } from '../lab/load.ts';
import type { Lab } from '../lab/model.ts';
import type { Capability } from '../lab/spec.ts';
import { beforeVitestTimeout, CheckTimeout, withinBound } from './budget.ts';
import { loadDecisions, type Decisions } from './decisions.ts';
import { isLive, layerOf, type Layer } from './layers.ts';
import { blockingLayer, isGated, noteStop } from './gated.ts';
import { labReachability, type Reachability } from './reach.ts';
import { redact, redactCopy } from './redact.ts';
import { Ledger } from './ledger.ts';
import { BORROWERS, SharedGuest } from '../openstack/shared-guest.ts';
// Types only: the OpenStack client is loaded when a check first asks for a session (tls and dns never do).
import type { Cloud } from '../openstack/cloud.ts';
import type { Tenant } from '../openstack/tenant.ts';

/** Why a check was skipped. Every kind but `undeclared` is backed by the lab spec or its decision record. */
export type { SkipKind } from './verdict.ts';
import type { SkipKind } from './verdict.ts';

export interface CheckMeta {
  checkId: string;
  layer: Layer;
  lab: string;
  decisions: string[];
  /** `by`: blocked because a lower layer of a gated run did not pass. */
  skip?: { kind: SkipKind; reason: string; by?: Layer };
}

declare module 'vitest' {
  interface TaskMeta {
    stackgate?: CheckMeta;
  }
}

export interface Fixtures {
  lab: Lab;
  decisions: Decisions;
}

/** The fixtures every check may use; the lab comes from STACKGATE_LAB. */
export const test = base.extend<Fixtures>({
  // eslint-disable-next-line no-empty-pattern -- Vitest reads fixture dependencies from this pattern.
  lab: async ({}, use) => use(loadLab()),
  decisions: async ({ lab }, use) => use(loadDecisions(lab)),
});

export interface CheckContext extends Fixtures {
  readonly task: TestContext['task'];
  readonly signal: AbortSignal;
  /** Attach evidence to the report; secrets are removed first. */
  attach(name: string, content: string | Buffer, type?: string): Promise<void>;
  /** Skip: the lab spec says this check does not apply to it (say where). */
  notApplicable(reason: string): never;
  /** Skip when the lab declares that it lacks a capability. */
  requires(capability: Capability): void;
  /** Skip a check of a later phase than the lab is in. */
  due(phase: number, what: string): void;
  /** A shell on a lab node over SSH (connected on first use, closed after the file). */
  node(name: string): NodeShell;
  /** A shell where the deployer's client runs (deployer.client: a node, or a jumphost beside the lab). */
  client(): NodeShell;
  /**
   * An authenticated OpenStack session with the user's credentials (once per file). When Keystone cannot give
   * one, the check is blocked: the compute layer's Keystone check reports the cause.
   */
  cloud(): Promise<Cloud>;
  /** The file's tenant scenario (image, network, router, server …), every resource under the run's ledger. */
  tenant(): Promise<Tenant>;
  /** Wait for a step this check stands on; when it fails, the check is blocked by it, not failed. */
  needs<T>(what: string, step: Promise<T>): Promise<T>;
  /** Skip as blocked: a lower layer or an earlier step this check needs did not work. */
  blocked(reason: string): never;
}

const shells = new Map<string, NodeShell>();
const clouds = new Map<string, Promise<Cloud>>();
const tenants = new Map<string, Promise<Tenant>>();
const filesWithCleanup = new WeakSet<object>();
const borrowersOfFile = new WeakMap<object, string[]>();

/** The run's shared guest, when a global setup began one (compute and storage layers, lab reachable). */
function sharedGuest(lab: Lab): SharedGuest | undefined {
  const handle = inject('stackgateGuest');
  if (!handle) return undefined;
  return new SharedGuest(handle, ((lab.spec.compute?.buildTimeoutSeconds ?? 900) + 300) * 1000);
}

/**
 * After a file's last check: remove the cloud resources its checks created (reverse order, through the ledger),
 * then close its SSH shells and sessions. Once per file, also when modules are shared across files.
 */
function cleanupAfterFile(): void {
  const file = TestRunner.getCurrentSuite().file;
  if (!file || filesWithCleanup.has(file)) return;
  filesWithCleanup.add(file);
  afterAll(async () => {
    // A borrower of the shared guest that did not run (filtered, crashed before its end) holds it no longer.
    const borrowed = borrowersOfFile.get(file) ?? [];
    if (borrowed.length > 0) for (const id of borrowed) sharedGuest(loadLab())?.release(id);
    const left: string[] = [];
    for (const t of tenants.values()) {
      const tenant = await t.catch(() => undefined);
      // The steps its checks began and no check awaited (prepare()) end first, or their resources outlive the cleanup.
      await tenant?.settled(60_000);
      await tenant?.closeGuestSessions();
      left.push(...(await tenant?.ledger.cleanup() ?? []));
    }
    tenants.clear();
    await Promise.all([...shells.values()].map((s) => s.close()));
    shells.clear();
    for (const c of clouds.values()) await (await c.catch(() => undefined))?.close();
    clouds.clear();
    if (left.length > 0) throw new Error(`cloud resources this file created could not be removed (they stay in the ledger for the next run): ${left.join('; ')}`);
  }, 600_000);
}

export interface CheckOptions {
  timeout?: number;
}

const PENDING = 'VITEST_PENDING';
/** The check that fails when the lab's SSH credentials are missing; every other check needing SSH is blocked. */
export const SSH_WITNESS = 'net.node-interfaces';
let reachability: Promise<Reachability> | undefined;

/** Whether an error is Vitest's skip (a declared skip or a blocked step of a check), not a failure. */
export function isSkip(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === PENDING;
}

/** Allure's reporter installs a runtime; without it (a bare `vitest` run) its API only prints warnings. */
const allureOn = () => typeof (globalThis as { allureTestRuntime?: unknown }).allureTestRuntime === 'function';

async function label(lab: Lab, decisions: Decisions, id: string, layer: Layer, title: string): Promise<void> {
  if (!allureOn()) return;
  await allure.epic(layer);
  await allure.parentSuite(layer);
  await allure.suite(lab.name);
  await allure.testCaseId(id);
  await allure.label('check', id);
  await allure.parameter('lab', lab.name);
  await allure.story(title);
  for (const d of decisions.forCheck(id)) {
    await allure.feature(`${d.id} ${d.title}`);
    await allure.label('decision', d.id);
    await allure.tag(d.id);
    await allure.link(`${relative(repoRoot, lab.path(lab.spec.design))}#${d.source}`, `${d.id} — ${d.source}`, 'decision');
  }
  await allure.tag(id);
}

/**
 * A failed `expect(findings, what).toEqual([])` says "expected [ Array(2) ] to deeply equal []"; name the findings
 * instead, so that the matrix, a waiver's note and the report show what was seen.
 */
function withFindings(error: unknown, message: string): string {
  const e = error as { actual?: unknown; expected?: unknown };
  if (!Array.isArray(e.expected) || e.expected.length > 0 || !Array.isArray(e.actual) || e.actual.length === 0) return message;
  return `${message.replace(/: expected \[[\s\S]*\] to (deeply )?equal \[\]$/, '')}: ${e.actual.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('; ')}`;
}

/**
 * What a failed check hands to Vitest's printer, Allure and JUnit, without a secret: the stack (which repeats the
 * message as thrown), the assertion's actual and expected (the diff is made from them) and any diff already made.
 */
function withoutSecrets(error: Error): Error {
  const e = error as Error & { actual?: unknown; expected?: unknown; diff?: unknown; cause?: unknown };
  if (e.stack) e.stack = redact(e.stack.replace(/^[\s\S]*?(?=\n\s+at )/, `${e.name}: ${e.message}`));
  for (const key of ['actual', 'expected', 'diff', 'cause'] as const) if (e[key] !== undefined) e[key] = redactCopy(e[key]);
  return error;
}

/**
 * Declare one acceptance check. Its ID is stable; the decisions it proves, the Allure labels and the
 * failure message's prefix follow from it and the lab's decision record.
 */
export function check(id: string, title: string, body: (ctx: CheckContext) => unknown, options: CheckOptions = {}): void {
  const layer = layerOf(id);
  cleanupAfterFile();
  const borrower = (BORROWERS as readonly string[]).includes(id);
  const file = TestRunner.getCurrentSuite().file;
  if (file && borrower) borrowersOfFile.set(file, [...(borrowersOfFile.get(file) ?? []), id]);
  test(`${id}: ${title}`, { timeout: options.timeout }, async ({ lab, decisions, task, skip, signal }) => {
    try {
      await withinBound(task.timeout, () => judged({ lab, decisions, task, skip, signal }));
    } finally {
      // Done with the run's shared guest, whatever the outcome: the checks that take it away may go on.
      if (borrower) sharedGuest(lab)?.release(id);
    }
  });
  const judged = async ({ lab, decisions, task, skip, signal }: Fixtures & Pick<TestContext, 'task' | 'skip' | 'signal'>): Promise<void> => {
    const meta: CheckMeta = { checkId: id, layer, lab: lab.name, decisions: decisions.forCheck(id).map((d) => d.id) };
    task.meta.stackgate = meta;
    await label(lab, decisions, id, layer, title);

    const gated = isGated(lab);
    const declaredSkip = (kind: SkipKind, reason: string, by?: Layer): never => {
      meta.skip = { kind, reason, ...(by ? { by } : {}) };
      if (gated && kind === 'blocked' && !by) noteStop({ layer, checkId: id, outcome: 'blocked', why: reason });
      skip(reason);
      throw new Error('unreachable: skip() throws');
    };

    // A lab is judged against its own decisions: a check none of them asks for does not apply to it.
    if (meta.decisions.length === 0) declaredSkip('not-applicable', `not applicable: no decision of lab ${lab.name} asks for ${id}`);

    const lower = gated ? blockingLayer(layer) : undefined;
    if (lower) declaredSkip('blocked', `blocked by ${lower.layer}: ${lower.why}`, lower.layer);

    if (isLive(layer)) {
      reachability ??= labReachability(lab);
      const r = await reachability;
      if (!r.reachable) {
        declaredSkip('blocked', `blocked: lab ${lab.name} is not attached to this host (routing table only, nothing was sent): ${r.problems.slice(0, 3).join('; ')}`);
      }
    }

    const shell = (key: string, host: () => SshHost): NodeShell => {
      // A missing key or known_hosts file fails one check with the cause and blocks the others, as Keystone
      // credentials do: not one "no host key" failure per node and check.
      const missing = sshCredentialsMissing(lab);
      if (missing && id === SSH_WITNESS) throw new Error(missing);
      if (missing) declaredSkip('blocked', `blocked: no SSH to the nodes (${SSH_WITNESS} reports it): ${missing}`);
      const k = `${lab.file}#${key}`;
      let s = shells.get(k);
      if (!s) shells.set(k, (s = new NodeShell(lab, host())));
      return s;
    };

    const ctx: CheckContext = {
      lab,
      decisions,
      task,
      signal,
      attach: async (name, content, type = 'text/plain') => {
        const text = typeof content === 'string' ? content : /^text\/|json|xml|yaml/.test(type) ? content.toString('utf8') : undefined;
        if (allureOn()) await allure.attachment(redact(name), text === undefined ? content : redact(text), type);
      },
      notApplicable: (reason) => declaredSkip('not-applicable', `not applicable: ${reason}`),
      cloud: async () => {
        let c = clouds.get(lab.file);
        if (!c) clouds.set(lab.file, (c = import('../openstack/cloud.ts').then(({ Cloud }) => Cloud.connect(lab))));
        try {
          return await c;
        } catch (error) {
          return declaredSkip('blocked', `blocked: no Keystone session for lab ${lab.name} (compute.keystone-token tells why): ${redact((error as Error).message)}`);
        }
      },
      tenant: async () => {
        const cloud = await ctx.cloud();
        let t = tenants.get(lab.file);
        // Named after the test file: files of one run boot their tenants side by side (flavor and key names are unique).
        const scope = basename(task.file.name).replace(/\.test\.ts$/, '');
        if (!t) {
          const shared = sharedGuest(lab);
          const options = shared ? { shared, sshKey: shared.handle } : {};
          tenants.set(lab.file, (t = import('../openstack/tenant.ts').then(({ Tenant }) => new Tenant(lab, cloud, new Ledger(lab.name, undefined, scope), options))));
        }
        return t;
      },
      needs: async (what, step) => {
        try {
          return await step;
        } catch (error) {
          if (isSkip(error)) throw error;
          return declaredSkip('blocked', `blocked: ${what} failed: ${redact((error as Error).message)}`);
        }
      },
      blocked: (reason) => declaredSkip('blocked', `blocked: ${reason}`),
      node: (name) => shell(name, () => lab.node(name)),
      client: () => shell('deployer client', () => deployerClient(lab)),
      requires: (capability) => {
        const why = lab.lacks(capability);
        if (why) declaredSkip('lacks', `lab ${lab.name} lacks ${capability}: ${why}`);
      },
      due: (phase, what) => {
        if (phase > lab.storagePhase) declaredSkip('not-due', `not yet due: ${what} arrives in phase ${phase}, lab ${lab.name} is in phase ${lab.storagePhase}`);
      },
    };

    try {
      await beforeVitestTimeout(Promise.resolve().then(() => body(ctx)), task.timeout);
    } catch (error) {
      if (isSkip(error)) {
        meta.skip ??= { kind: 'undeclared', reason: 'skipped without a reason the lab spec declares' };
        throw error;
      }
      if (error instanceof CheckTimeout) {
        // The API calls the file's session made, the last of them what the check was waiting on.
        const cloud = await clouds.get(lab.file)?.catch(() => undefined);
        if (cloud) await ctx.attach('API requests of this file', cloud.trailText());
      }
      const message = redact(withFindings(error, error instanceof Error ? error.message : String(error)));
      const waiver = decisions.waiverFor(id);
      if (waiver.active) {
        const w = waiver.active.map((x) => `${x.decision} until ${x.expires}: ${x.justification}`).join('; ');
        await ctx.attach('waived failure', message);
        declaredSkip('waived', `waived (${w}) — the check failed: ${message.split('\n')[0]}`);
      }
      if (gated) noteStop({ layer, checkId: id, outcome: 'failed', why: message });
      const lapsed = waiver.expired ? ` (waiver expired on ${waiver.expired.map((x) => `${x.decision} ${x.expires}`).join(', ')})` : '';
      if (error instanceof Error) {
        error.message = `[${decisions.label(id)}]${lapsed} ${message}`;
        throw withoutSecrets(error);
      }
      throw new Error(`[${decisions.label(id)}]${lapsed} ${message}`);
    }
  };
}
