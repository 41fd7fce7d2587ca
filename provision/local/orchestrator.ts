/**
 * Walks the components a lab spec needs: packages and keys for all of them, their files written, the daemons that
 * start at boot started, then each component (side by side where `after` allows) bootstrapped, started and
 * configured. It knows no service: everything it does comes from the components' hooks.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Lab } from '../../helpers/lab/model.ts';
import { fileChangeReaches } from './change.ts';
import type { Component, Condition, Daemon, LabContext, ReadyContext, RenderedFile, UpContext } from './component.ts';
import { userIds, writeIfChanged } from './config.ts';
import { startDaemons } from './exec.ts';
import type { LabPaths } from './paths.ts';
import type { Progress } from './sh.ts';

/** The components the spec needs, each after the ones it names (those the spec does not need are skipped). */
export function plan(lab: Lab, all: readonly Component[]): Component[] {
  const needed = all.filter((c) => c.needed(lab));
  const names = new Set(needed.map((c) => c.name));
  const known = new Set(all.map((c) => c.name));
  const out: Component[] = [];
  const visiting = new Set<string>();
  const visit = (c: Component) => {
    if (out.includes(c)) return;
    if (visiting.has(c.name)) throw new Error(`components ${[...visiting].join(' → ')} → ${c.name} wait on each other`);
    visiting.add(c.name);
    for (const a of c.after ?? []) {
      if (!known.has(a)) throw new Error(`component ${c.name} comes after ${a}, which is no component`);
      if (names.has(a)) visit(needed.find((x) => x.name === a)!);
    }
    visiting.delete(c.name);
    out.push(c);
  };
  needed.forEach(visit);
  return out;
}

export const packagesOf = (lab: Lab, list: readonly Component[]) => [...new Set(list.flatMap((c) => c.packages?.(lab) ?? []))];
export const preseedsOf = (lab: Lab, list: readonly Component[]) => list.flatMap((c) => c.preseeds?.(lab) ?? []);

export interface Rendered {
  readonly daemons: ReadonlyMap<string, readonly Daemon[]>;
  readonly files: readonly RenderedFile[];
  readonly all: readonly Daemon[];
}

/** Every component's daemons and loose files. */
export function render(ctx: LabContext, list: readonly Component[]): Rendered {
  const daemons = new Map(list.map((c) => [c.name, c.render?.(ctx) ?? []]));
  return { daemons, files: list.flatMap((c) => c.files?.(ctx) ?? []), all: [...daemons.values()].flat() };
}

/** Make the keys each component keeps (in order: a later one may read an earlier one's). */
export async function makeKeys(ctx: LabContext, list: readonly Component[], p: Progress): Promise<void> {
  for (const c of list) if (c.keys) await p.step(`${c.name}: keys`, () => c.keys!(ctx));
}

function own(path: string, owner: string | undefined): void {
  if (!owner) return;
  const { uid, gid } = userIds(owner);
  chownSync(path, uid, gid);
}

/** The directories daemons need before they start (after a reboot, the runtime ones are gone: systemd's RuntimeDirectory). */
export function makeDirs(daemons: readonly Daemon[]): void {
  for (const dir of daemons.flatMap((d) => d.dirs)) {
    mkdirSync(dir.path, { recursive: true });
    if (dir.mode !== undefined) chmodSync(dir.path, dir.mode);
    own(dir.path, dir.owner);
  }
}

/**
 * Write every rendered directory and file; return the programs whose files changed as they read them: a file several
 * daemons read (cinder.conf for api and scheduler) restarts each of them, unless its change lies outside the part a
 * daemon reads (`relevant`: another OSD's section of ceph.conf). The same rule as daemonChange() (change.ts).
 */
export function writeConfig(rendered: Rendered): string[] {
  const before = new Map<string, string | undefined>();
  for (const f of rendered.all.flatMap((d) => d.files)) {
    if (!before.has(f.path)) before.set(f.path, existsSync(f.path) ? readFileSync(f.path, 'utf8') : undefined);
  }
  for (const f of rendered.files) writeIfChanged(f.path, f.content, f.mode);
  makeDirs(rendered.all);
  const changed: string[] = [];
  for (const d of rendered.all) {
    for (const f of d.files) {
      mkdirSync(dirname(f.path), { recursive: true });
      writeIfChanged(f.path, f.content, f.mode);
      if (f.mode !== undefined) chmodSync(f.path, f.mode);
      own(f.path, f.owner);
    }
    if (d.files.some((f) => fileChangeReaches(f, before.get(f.path)))) changed.push(d.program);
  }
  return changed;
}

/** How long a component's daemons may take to run and answer their health probes. */
const START_TIMEOUT_MS = 180_000;

/**
 * Each component once every component it comes after is done: bootstrap, start its daemons, configure. Independent
 * ones run side by side; a failure stops what depends on it, lets the rest finish, and is thrown at the end.
 */
export async function walk(
  ctx: LabContext, list: readonly Component[], rendered: Rendered, changed: ReadonlySet<string>, p: Progress,
  rewritten: ReadonlySet<string> = changed,
): Promise<void> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const done = new Map<string, Promise<void>>();
  // As on a machine that boots: what starts at boot is up and healthy before anything is deployed onto it.
  const atBoot = (c: Component) => {
    const d = rendered.daemons.get(c.name) ?? [];
    return d.length > 0 && d.every((x) => !x.manual);
  };
  const booted = list.filter(atBoot).map((c) => c.name);
  for (const c of list) {
    const after = [...(c.after ?? []), ...(atBoot(c) ? [] : booted)];
    const deps = after.map((a) => done.get(a)).filter((d): d is Promise<void> => !!d);
    const up: UpContext = {
      ...ctx,
      daemons: rendered.daemons.get(c.name) ?? [],
      changed,
      rewritten,
      step: (title, fn) => p.step(`${c.name}: ${title}`, fn),
      defer: (cleanup) => void cleanups.push(cleanup),
    };
    done.set(c.name, Promise.all(deps).then(() => bringUp(c, up)));
  }
  const results = await Promise.allSettled(done.values());
  await Promise.allSettled(cleanups.map((f) => f()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function bringUp(c: Component, up: UpContext): Promise<void> {
  await c.bootstrap?.(up);
  if (up.daemons.length) {
    const what = up.daemons.length === 1 ? up.daemons[0]!.program : `${up.daemons.length} daemons`;
    await up.step(`${what} running`, () => startDaemons(up.lab, up.paths, up.daemons, up.changed, START_TIMEOUT_MS));
  }
  await c.configure?.(up);
}

/** The conditions every needed component names for its checks. */
export function readiness(ctx: ReadyContext, list: readonly Component[]): Condition[] {
  return list.flatMap((c) => c.ready?.(ctx) ?? []);
}

/** Each component's cleanup after its daemons stopped, last component first. */
export async function stopAll(ctx: LabContext, list: readonly Component[], p: Progress): Promise<void> {
  for (const c of [...list].reverse()) if (c.stop) await p.step(`${c.name}: stop`, () => c.stop!(ctx));
}

/** Written when `up` went through end to end; until then the lab is not up and `lab ensure` brings it up. */
export const completeMarker = (paths: LabPaths) => join(paths.root, 'complete');
export const upComplete = (paths: LabPaths) => existsSync(completeMarker(paths));
export const markComplete = (paths: LabPaths) =>
  writeFileSync(completeMarker(paths), 'the lab came up end to end; plain `lab up` maintains it\n');
