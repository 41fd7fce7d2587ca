/**
 * One guest per run, for every layer whose checks need a running server: the compute layer judges its boot, its
 * network and its reachability, the storage layer attaches a volume to it and finds its disk in Ceph. Booting a
 * guest under emulation is the slowest thing a run does, so it is begun once, in Vitest's main process by the
 * global setup of the first layer that needs it, and runs while the quick layers are judged.
 *
 * The main process builds the tenant's shared steps (network, router, security group, port, floating IP, flavor,
 * key pair, server, association) through a ledger of its own, and writes each step's outcome, value or error, to
 * a state file beside the run's ledger. A check's tenant reads a step from there and fails or is blocked by its
 * error exactly as if it had made the step itself. The steps that take the guest away (disassociating its floating
 * IP, deleting it) wait until the checks of other layers that borrow it are done.
 *
 * Where the spec has several compute nodes, the run boots one guest on each, targeted by host and side by side (a port,
 * a floating IP and a server of its own per node: steps `<step>@<node>`), so that every compute node's boot, data path
 * and storage are proven; the first node's guest keeps the plain step names. A lab with one compute node boots one
 * guest, placed by the scheduler, as before.
 */
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ledgerDir, Ledger } from '../gate/ledger.ts';
import { checkIdsIn } from '../gate/decisions.ts';
import { redact } from '../gate/redact.ts';
import type { Lab } from '../lab/model.ts';
import type { Cloud } from './cloud.ts';

/** The steps of the tenant scenario that are made once per run, in the main process. */
export const SHARED_STEPS = ['external', 'network', 'router', 'secgroup', 'port', 'fip', 'flavor', 'keypair', 'boot-image', 'server', 'associate', 'host-keys'] as const;
/** The steps made once per guest: `<step>@<node>` for every guest but the first, where the run boots one per compute node. */
export const GUEST_STEPS = ['port', 'fip', 'server', 'associate', 'host-keys'] as const;
export type GuestStep = (typeof GUEST_STEPS)[number];
export type SharedStep = (typeof SHARED_STEPS)[number] | `${GuestStep}@${string}`;

/** Whether a step of the tenant scenario is one the main process makes (a step of the guest of another node too). */
export function isSharedStep(step: string): step is SharedStep {
  const [base, node, ...rest] = step.split('@');
  if (node !== undefined) return node !== '' && rest.length === 0 && (GUEST_STEPS as readonly string[]).includes(base!);
  return (SHARED_STEPS as readonly string[]).includes(step);
}

/**
 * The compute nodes (spec names) the run boots a guest on, each targeted by host: every compute node where the spec
 * has two or more, the first one's guest under the plain step names. None where it has one or none: one guest,
 * placed by the scheduler, as a lab with one compute node always had.
 */
export function targetedNodes(lab: Lab): string[] {
  const compute = lab.novaComputeNodes;
  return compute.length >= 2 ? compute.map((n) => n.name) : [];
}

/** The ledger scope of the shared resources: their names are sg-<run>-shared-<what>. */
export const GUEST_SCOPE = 'shared';

/**
 * Checks outside tenant.test.ts (other layers, or compute checks in files of their own that run beside it) that use
 * the guest while it runs: the compute layer's checks that take it away wait for them. A check ID here that no file
 * of the run declares is not waited for.
 */
export const BORROWERS = ['storage.volume-attach', 'storage.nova-disk-rbd', 'compute.tenant-api-reach'] as const;

interface Outcome {
  readonly ok?: unknown;
  readonly error?: string;
}

export interface GuestState {
  readonly run: string;
  /** The borrowers among this run's checks. */
  readonly borrowers: readonly string[];
  /** What the request trail of the main process showed when a step failed (redacted). */
  trail?: string;
  readonly steps: Partial<Record<SharedStep, Outcome>>;
}

/** What a check's worker needs to use the guest: where its state is, and the key to log in with. */
export interface SharedGuestHandle {
  readonly stateFile: string;
  readonly privateKeyPem: string;
  readonly publicKey: string;
}

declare module 'vitest' {
  interface ProvidedContext {
    stackgateGuest: SharedGuestHandle | null;
  }
}

export const stateFileOf = (lab: string, run: string) => join(ledgerDir(lab), `${run}.guest.json`);
const releasedMark = (stateFile: string, checkId: string) => `${stateFile.slice(0, -'.json'.length)}.done.${checkId}`;

function writeState(file: string, state: GuestState): void {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function readState(file: string): GuestState | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as GuestState;
  } catch {
    return undefined;
  }
}

/** Whether a test file's checks use the guest (its server or the steps around it). */
export const usesGuest = (source: string) => /\.(server|associate)\(/.test(source);

/**
 * The checks of a test file that use the guest: those whose own text (up to the next check) does, or every check of
 * the file where its text before the first check does (a helper they share).
 */
export function guestCheckIdsIn(source: string): string[] {
  const [preamble = '', ...parts] = source.split(/(?=\bcheck\(\s*')/);
  const idOf = (part: string) => checkIdsIn(part)[0];
  if (usesGuest(preamble)) return parts.map(idOf).filter((id): id is string => !!id);
  return parts.filter((p) => usesGuest(p)).map(idOf).filter((id): id is string => !!id);
}

/**
 * The borrowers a run will execute: declared by one of its files (found in their source) and, when the run filters
 * by test name, matched by that filter.
 */
export function borrowersIn(files: readonly string[], namePattern?: RegExp): string[] {
  const sources = files.filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8'));
  return BORROWERS.filter((id) => sources.some((s) => s.includes(`check('${id}'`)) && (!namePattern || namePattern.test(id)));
}

/**
 * Begin the shared steps in this (the main) process and publish each outcome as it settles. Returns the tenant's
 * ledger-backed cleanup, to run once the checks are done.
 */
export async function buildSharedGuest(lab: Lab, cloud: Cloud, run: { run: string; pid: number }, stateFile: string, borrowers: readonly string[], key: { publicKey: string; privateKeyPem: string }): Promise<() => Promise<string[]>> {
  const { Tenant } = await import('./tenant.ts');
  const tenant = new Tenant(lab, cloud, new Ledger(lab.name, run, GUEST_SCOPE), { sshKey: key });
  const state: GuestState = { run: run.run, borrowers, steps: {} };
  writeState(stateFile, state);
  const settle = (step: SharedStep, p: Promise<unknown>) =>
    p.then(
      (ok) => ({ ok }),
      (error: unknown) => ({ error: redact(error instanceof Error ? error.message : String(error)) }),
    ).then((outcome: Outcome) => {
      state.steps[step] = outcome;
      if (outcome.error) state.trail = redact(cloud.trailText());
      writeState(stateFile, state);
    });
  // The server first: everything else it needs is started by it, and the rest overlaps its boot.
  const steps: Partial<Record<SharedStep, () => Promise<unknown>>> = {
    server: () => tenant.server(),
    'boot-image': () => tenant.bootImage(),
    flavor: () => tenant.flavor(),
    keypair: () => tenant.keypair(),
    port: () => tenant.port(),
    network: () => tenant.network(),
    secgroup: () => tenant.securityGroup(),
    external: () => tenant.externalNetwork(),
    router: () => tenant.router(),
    fip: () => tenant.floatingIp(),
    associate: () => tenant.associate(),
    // One reader of the console for the run: each file that logs in to the guest polled it itself (every 0.5 s, an API
    // call that Nova relays to nova-compute) while the guest booted.
    'host-keys': () => tenant.hostKeys(),
  };
  // One guest more on every other compute node of the spec, each on a port and a floating IP of its own, side by side.
  for (const node of targetedNodes(lab).slice(1)) {
    steps[`server@${node}`] = () => tenant.server(node);
    steps[`port@${node}`] = () => tenant.port(node);
    steps[`fip@${node}`] = () => tenant.floatingIp(node);
    steps[`associate@${node}`] = () => tenant.associate(node);
    steps[`host-keys@${node}`] = () => tenant.hostKeys(node);
  }
  const all = Promise.all(Object.entries(steps).map(([step, make]) => settle(step as SharedStep, make!())));
  return async () => {
    await all;
    return tenant.ledger.cleanup();
  };
}

/** Remove the run's guest state and its borrowers' marks. */
export function removeState(stateFile: string): void {
  const base = basename(stateFile, '.json');
  const folder = dirname(stateFile);
  if (!existsSync(folder)) return;
  for (const f of readdirSync(folder)) if (f.startsWith(`${base}.json`) || f.startsWith(`${base}.done.`)) rmSync(join(folder, f), { force: true });
}

/** A worker's view of the shared guest: each step's outcome as the main process published it. */
export class SharedGuest {
  constructor(
    readonly handle: SharedGuestHandle,
    /** How long a step may take before its reader gives up: the spec's build timeout and some. */
    private readonly boundMs: number,
  ) {}

  get state(): GuestState | undefined {
    return readState(this.handle.stateFile);
  }

  /** The step's value once the main process has made it; its error, as the step's own, when it failed. */
  async step<T>(step: SharedStep): Promise<T> {
    const t0 = Date.now();
    for (;;) {
      const outcome = this.state?.steps[step];
      if (outcome?.error !== undefined) throw new Error(outcome.error);
      if (outcome) return outcome.ok as T;
      if (Date.now() - t0 > this.boundMs) throw new Error(`the run's shared guest: step "${step}" did not finish within ${Math.round(this.boundMs / 1000)} s (state ${this.handle.stateFile})`);
      // A small local file: read often, so that a step made (the host keys on the console) is seen at once.
      await sleep(100);
    }
  }

  /** This borrower is done with the guest (idempotent). */
  release(checkId: string): void {
    if ((this.state?.borrowers ?? []).includes(checkId)) writeFileSync(releasedMark(this.handle.stateFile, checkId), '');
  }

  /**
   * Wait until every borrower of the run is done with the guest (bounded by their own time-outs); returns the
   * borrowers still holding it when the bound ran out.
   */
  async othersDone(boundMs: number): Promise<string[]> {
    const t0 = Date.now();
    for (;;) {
      const holding = (this.state?.borrowers ?? []).filter((id) => !existsSync(releasedMark(this.handle.stateFile, id)));
      if (holding.length === 0 || Date.now() - t0 > boundMs) return holding;
      await sleep(500);
    }
  }
}
