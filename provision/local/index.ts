/**
 * The `local` provider: the embedded lab on one Linux host. Nodes are network namespaces, networks are bridges,
 * services are Debian's packages run by Debian's supervisor, each part of a component (components.ts) that the
 * orchestrator walks. Driven by any valid lab spec.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { repoRoot } from '../../helpers/lab/load.ts';
import type { Lab } from '../../helpers/lab/model.ts';
import { Cloud } from '../../helpers/openstack/cloud.ts';
import {
  daemonChange, formatChange, nodeChange, nodesChanged, nodesLeaving, osdOrderRefusals, scaleRefusals, type NodeChange,
} from './change.ts';
import type { Component, Daemon, LabContext } from './component.ts';
import { COMPONENTS } from './components.ts';
import { endProcesses, healthProblems, startDaemons, vipHolders } from './exec.ts';
import { checkHost, installPackages, missingPackages, PACKAGES } from './host.ts';
import {
  makeKeys, markComplete, packagesOf, plan, preseedsOf, readiness, render, stopAll, upComplete, walk, writeConfig,
} from './orchestrator.ts';
import { labPaths, netnsName, type LabPaths } from './paths.ts';
import { removeNodeNetns } from './node-netns.ts';
import { NotReady, waitReady } from './ready.ts';
import { powerCycle, readEnabled, writeEnabled } from './reboot.ts';
import { persistence } from '../../helpers/lab/defaults.ts';
import { Progress, run, tryRun, type Log } from './sh.ts';
import { programStatus, renderSupervisor, shutdown, startOrUpdate, supervisordPid } from './supervisor.ts';
import { appliedFile, appliedLab, drain, forget, recordApplied, ScaleRefused } from './scale.ts';
import { applyTopology, destroyTopology, planTopology, topologyState, type TopologyPlan } from './topology.ts';

export { labPaths, netnsName } from './paths.ts';

export interface Options {
  readonly log?: Log;
  /** Where state lives (default: .stackgate/ at the repository root). */
  readonly stateBase?: string;
  /** How long to wait for readiness (default READY_TIMEOUT_MS). */
  readonly readyTimeoutMs?: number;
  /** Bring the lab up without judging its spec first (an explicit override, said aloud). */
  readonly skipPreflight?: boolean;
  /** The components to choose from (default: all the embedded lab has). */
  readonly components?: readonly Component[];
}

function prepare(lab: Lab, options: Options): { paths: LabPaths; list: Component[] } {
  if (lab.provider !== 'local') throw new Error(`lab ${lab.name} has provider ${lab.provider}, not local`);
  return { paths: labPaths(lab.name, options.stateBase), list: plan(lab, options.components ?? COMPONENTS) };
}

/** Bring the lab up, or bring a running lab back to its spec. Idempotent. */
export async function up(lab: Lab, options: Options = {}): Promise<void> {
  // A lab that was up before: the spec it was brought to, and what joins or leaves now (refused before anything changes).
  const { before, nodes } = scaleCheck(lab, labPaths(lab.name, options.stateBase));
  const { paths, list } = prepare(lab, options);
  const p = new Progress(options.log);
  p.info(`lab ${lab.name}: up (provider local, state ${paths.root}; ${list.length} components)`);
  await p.step('host is Debian/Ubuntu and we are root', async () => {
    const h = checkHost();
    return `${h.id} ${h.version}`;
  });
  if (options.skipPreflight) p.info(`  --skip-preflight: lab ${lab.name} is brought up without its design being judged first`);
  else await p.step('preflight: the spec judged before anything changes', () => preflight(lab));
  const packages = [...new Set([...PACKAGES, ...packagesOf(lab, list)])];
  const missing = await missingPackages(packages);
  p.info(expectedDuration(paths, list, missing.length));
  // Preseeded before apt runs: the packages' maintainer scripts must not configure databases or endpoints.
  const preseeds = preseedsOf(lab, list);
  if (preseeds.length) await run('debconf-set-selections', [], { input: `${preseeds.join('\n')}\n` });
  await p.step(`packages (${packages.length} the spec needs)`, () => installPackages(packages, (s) => p.note(s)));
  mkdirSync(paths.root, { recursive: true });
  chmodSync(paths.root, 0o755);
  const ctx: LabContext = { lab, paths };
  await makeKeys(ctx, list, p);
  const rendered = render(ctx, list);
  const previous = before && renderedBefore(before, paths, options);
  if (previous) for (const line of formatChange(nodes!, daemonChange(previous, rendered.all))) p.info(`  ${line}`);
  if (before && nodes && nodesLeaving(nodes) && supervisordPid(paths)) await drain(before, ctx, nodes, previous ?? [], p);
  const topology = planTopology(lab);
  const shape = `${topology.namespaces.length} namespaces, ${topology.bridges.length} bridges, ${topology.veths.length} veth pairs`;
  await p.step(`topology: ${shape}`, () => applyTopology(topology));
  let changed: string[] = [];
  await p.step('configuration', async () => {
    for (const dir of [paths.run, paths.supervisor, ...lab.nodes.map((n) => `${paths.logs}/${n.name}`)]) mkdirSync(dir, { recursive: true });
    changed = writeConfig(rendered);
    writeConfig({ daemons: new Map(), all: [], files: [{ path: paths.supervisorConf, content: renderSupervisor(lab, paths, rendered.all) }] });
    return changed.length ? `changed for ${changed.join(' ')}` : 'unchanged';
  });
  // A supervisord started now starts every program with the files just written: nothing needs a restart.
  const fresh = !supervisordPid(paths);
  const manual = new Set(rendered.all.filter((d) => d.manual).map((d) => d.program));
  const atBoot = rendered.all.filter((d) => !d.manual).length;
  await p.step(`supervisor: ${atBoot} services that start at boot`, () => startOrUpdate(paths, [], manual));
  await walk(ctx, list, rendered, new Set(fresh ? [] : changed), p, new Set(changed));
  if (before && nodes && nodesLeaving(nodes)) await forget(before, ctx, nodes, p);
  markComplete(paths);
  recordApplied(lab, paths);
  writeEnabled(paths, rendered.all);
  await p.step('ready for every check', () => ready(lab, paths, list, options.readyTimeoutMs ?? READY_TIMEOUT_MS));
  p.info(`lab ${lab.name} is up in ${p.elapsed}  (npm run lab -- status)`);
}

/** The applied spec and the nodes' change against it; a change a running lab cannot take is refused here. */
function scaleCheck(lab: Lab, paths: LabPaths): { before?: Lab; nodes?: NodeChange } {
  const before = upComplete(paths) ? appliedLab(lab, paths) : undefined;
  if (!before) return {};
  const nodes = nodeChange(before, lab);
  const refused = nodesChanged(nodes) ? [...scaleRefusals(before, lab), ...osdOrderRefusals(before, lab)] : [];
  if (refused.length) {
    throw new ScaleRefused(`lab ${lab.name}: the spec's change is refused; nothing was changed:\n  ${refused.join('\n  ')}`);
  }
  return { before, nodes };
}

/** The daemons of the lab as it was brought up last (its applied spec), or undefined when that no longer renders. */
function renderedBefore(before: Lab, paths: LabPaths, options: Options): readonly Daemon[] | undefined {
  try {
    return render({ lab: before, paths }, plan(before, options.components ?? COMPONENTS)).all;
  } catch {
    return undefined;
  }
}

/**
 * `lab plan` for the embedded lab: what `up` would change in the running lab (nodes joining and leaving, daemons
 * started, stopped, restarted and why), or why it would refuse. Reads the state, changes nothing.
 */
export function planUp(lab: Lab, options: Options = {}): string {
  let checked: ReturnType<typeof scaleCheck>;
  try {
    checked = scaleCheck(lab, labPaths(lab.name, options.stateBase));
  } catch (e) {
    if (!(e instanceof ScaleRefused)) throw e;
    return e.message.replace("the spec's change is refused; nothing was changed:", 'up would refuse the change:');
  }
  const { paths, list } = prepare(lab, options);
  const { before, nodes } = checked;
  if (!before || !nodes) {
    return `lab ${lab.name} was not brought up here with this version (no ${appliedFile(paths)}): up builds all of it`;
  }
  const previous = renderedBefore(before, paths, options);
  let now: readonly Daemon[];
  try {
    now = render({ lab, paths }, list).all;
  } catch (e) {
    const why = (e as Error).message;
    return `lab ${lab.name}: this spec does not render against the lab's state yet (${why}): up makes its keys first`;
  }
  if (!previous) return `lab ${lab.name}: the applied spec no longer renders; up compares the files on disk instead`;
  const lines = formatChange(nodes, daemonChange(previous, now));
  const title = `lab ${lab.name}: what up changes in the running lab (applied spec → ${lab.file})`;
  return [title, ...lines.map((l) => `  ${l}`)].join('\n');
}

/** Wait until every needed component's conditions hold; one admin session for all probes. */
async function ready(lab: Lab, paths: LabPaths, list: readonly Component[], timeoutMs: number): Promise<string> {
  let connected: Promise<Cloud> | undefined;
  const cloud = () => {
    // A failed connect is retried on the next probe.
    connected ??= Cloud.connect(lab).catch((e: unknown) => {
      connected = undefined;
      throw e;
    });
    return connected;
  };
  try {
    return await waitReady(lab, readiness({ lab, paths, cloud }, list), timeoutMs);
  } finally {
    await connected?.then((c) => c.close()).catch(() => undefined);
  }
}

export class PreflightFailed extends Error {
  override name = 'PreflightFailed';
}

/**
 * The preflight layer on this spec (as the lima provider runs it): a duplicate address or a VIP in the floating
 * range stops `up` before a namespace exists. Its report goes beside the state, not over the last acceptance run's.
 */
async function preflight(lab: Lab): Promise<string> {
  const scratch = join(repoRoot, 'reports', 'tmp', `preflight-${lab.name}`);
  mkdirSync(scratch, { recursive: true });
  const env = {
    STACKGATE_LAB: lab.file, STACKGATE_REPORTS: scratch, STACKGATE_ALLURE_RESULTS: join(scratch, 'allure-results'),
    NO_COLOR: '1', FORCE_COLOR: '0',
  };
  const vitest = join(repoRoot, 'node_modules', '.bin', 'vitest');
  const r = await tryRun(vitest, ['run', '--project', 'preflight', '--reporter=dot'], { env, cwd: repoRoot, timeout: 120_000 });
  if (r.code === 0) return 'passed';
  // The assertion lines name decision, object and what was seen; Vitest's FAIL lines name the check.
  const failed = stripVTControlCharacters(r.out)
    .split('\n')
    .filter((l) => /^\s*(FAIL|AssertionError|Error)\b|Gate: FAIL/.test(l))
    .map((l) => l.trim())
    .slice(0, 30);
  throw new PreflightFailed(
    `the preflight layer fails for lab ${lab.name} (${lab.file}); nothing was changed:\n  ${failed.join('\n  ')}\n` +
      `  (report: ${scratch}; fix the spec, record a waiver, or override with --skip-preflight)`,
  );
}

/** How long `up` waits for the lab to be ready for every check once its services run. */
export const READY_TIMEOUT_MS = 300_000;

/**
 * What a newcomer should expect before the first line of work, as measured on a 2-CPU machine of CI's kind
 * (reports/bench/cold.md). A lab that came up before takes seconds.
 */
function expectedDuration(paths: LabPaths, list: readonly Component[], missingPackages: number): string {
  if (upComplete(paths) && missingPackages === 0) return '  expected: seconds (the lab was up before; only what changed is redone)';
  const cloud = list.some((c) => c.bootstrap);
  const install = missingPackages ? `, of which installing ${missingPackages} packages (with their dependencies) about ${cloud ? 3 : 1} min` : '';
  const total = cloud ? (missingPackages ? 'about 7 minutes' : 'about 3 minutes') : 'about a minute';
  return `  expected: first run ${total}${install}; later runs take seconds`;
}

/** Bring the lab up unless it is up; then wait until it is ready. Readiness a lab misses is for the checks to judge. */
export async function ensure(lab: Lab, options: Options = {}): Promise<void> {
  const log = options.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  try {
    if ((await status(lab, options)).up) {
      const { paths, list } = prepare(lab, options);
      const p = new Progress(log);
      await p.step(`lab ${lab.name} is up: ready for every check`, () =>
        ready(lab, paths, list, options.readyTimeoutMs ?? ENSURE_READY_TIMEOUT_MS),
      );
    } else await up(lab, options);
  } catch (error) {
    if (!(error instanceof NotReady)) throw error;
    log(`${error.message}\n  the acceptance runs anyway: its checks judge what is not ready`);
  }
}

/** Wait until the running lab is ready for every check again (a drill's revert); NotReady names what is not. */
export async function awaitReady(lab: Lab, timeoutMs: number, options: Options = {}): Promise<string> {
  const { paths, list } = prepare(lab, options);
  return ready(lab, paths, list, timeoutMs);
}

/** A lab that was up already had its time to settle: a shorter wait before the checks judge it. */
const ENSURE_READY_TIMEOUT_MS = 120_000;

/**
 * Reboot nodes (all of them when none is named): power off, clear what a reboot clears, boot what is enabled at
 * boot; then wait until every program that booted is healthy and the lab is ready for every check. Returns the
 * seconds from power-on to ready.
 */
export async function reboot(lab: Lab, names: readonly string[], options: Options & { hard?: boolean } = {}): Promise<number> {
  const { paths, list } = prepare(lab, options);
  const nodes = names.length ? names.map((n) => lab.node(n)) : [...lab.nodes];
  if (!upComplete(paths)) throw new Error(`lab ${lab.name} never came up here: there is nothing to reboot (npm run lab -- up)`);
  const p = new Progress(options.log);
  p.info(`lab ${lab.name}: reboot ${names.length ? nodes.map((n) => n.name).join(', ') : 'of every node'}${options.hard ? ' (hard)' : ''}`);
  const rendered = render({ lab, paths }, list);
  const cycle = await powerCycle(lab, paths, nodes, rendered.all, !!options.hard, p);
  const booted = new Set(cycle.booted);
  const on = cycle.poweredOn;
  // What is not started at boot stays down for good: say so now instead of waiting out the bound for it.
  if (cycle.leftOff.length) {
    const names = cycle.leftOff.join(', ');
    throw new Error(`lab ${lab.name}: not back after the reboot: ${names} not started at boot (not enabled at boot)`);
  }
  // The design's bound (persistence.recoverySeconds): what the persistence layer judges the reboot by.
  const bound = options.readyTimeoutMs ?? persistence(lab).recoverySeconds * 1000;
  await p.step('back: what booted is healthy and the lab is ready for every check', async () => {
    const up = rendered.all.filter((d) => booted.has(d.program));
    await startDaemons(lab, paths, up, new Set(), bound);
    return ready(lab, paths, list, Math.max(bound - (Date.now() - on), 1000));
  });
  const seconds = (Date.now() - on) / 1000;
  p.info(`lab ${lab.name} recovered ${seconds.toFixed(1)} s after power-on (${readEnabled(paths, rendered.all).size} programs enabled at boot)`);
  return seconds;
}

/** Processes still inside the lab's namespaces after supervisor stopped (RabbitMQ's epmd daemonises): end them. */
async function reapNamespaces(lab: Lab): Promise<string> {
  const ended: string[] = [];
  for (const node of lab.nodes) {
    const n = await endProcesses(netnsName(lab, node), false);
    if (n) ended.push(`${node.name}: ${n}`);
  }
  return ended.length ? `ended ${ended.join(', ')}` : 'none left';
}

/** Stop everything and remove namespaces, bridges and veths. Keys and certificates stay unless purge. */
export async function down(lab: Lab, options: Options & { purge?: boolean } = {}): Promise<void> {
  const { paths, list } = prepare(lab, options);
  const p = new Progress(options.log);
  p.info(`lab ${lab.name}: down`);
  await p.step('root', async () => void checkHost());
  await p.step('supervisor and its services', () => shutdown(paths));
  await p.step('leftover processes in the nodes', () => reapNamespaces(lab));
  await stopAll({ lab, paths }, list, p);
  await p.step('topology', () => destroyTopology(withLeftNodes(planTopology(lab), appliedLab(lab, paths))));
  await p.step('runtime files', async () => {
    // A node's /run/netns is a mount point, which rmSync cannot remove: one left by a spec that ran nova-compute on
    // a node the current spec does not (edited between up and down) is released here, as the metadata stop does.
    for (const d of existsSync(paths.run) ? readdirSync(paths.run) : []) {
      if (d.endsWith('-netns')) await removeNodeNetns(paths, d.slice(0, -'-netns'.length));
    }
    rmSync(paths.run, { recursive: true, force: true });
    rmSync(paths.supervisorSock, { force: true });
    if (options.purge) rmSync(paths.root, { recursive: true, force: true });
    return options.purge ? `purged ${paths.root}` : 'removed (keys, certificates and data kept; --purge removes them)';
  });
  p.info(`lab ${lab.name} is down in ${p.elapsed}`);
}

/** The topology plus the namespaces and veths of nodes the applied spec had and this one lacks (a scale-in cut short). */
function withLeftNodes(topology: TopologyPlan, applied: Lab | undefined): TopologyPlan {
  if (!applied) return topology;
  const had = planTopology(applied);
  const ns = new Set(topology.namespaces.map((n) => n.name));
  const veths = new Set(topology.veths.map((v) => v.host));
  return {
    ...topology,
    namespaces: [...topology.namespaces, ...had.namespaces.filter((n) => !ns.has(n.name))],
    veths: [...topology.veths, ...had.veths.filter((v) => !veths.has(v.host))],
  };
}

export interface ServiceStatus {
  readonly node: string;
  readonly service: string;
  readonly program: string;
  readonly state: string;
  readonly pid: number | undefined;
  readonly healthy: boolean;
  readonly problems: readonly string[];
}

export interface ComponentStatus {
  readonly name: string;
  /** Programs running and healthy, of how many; undefined when it cannot be rendered yet (never brought up). */
  readonly healthy: number | undefined;
  readonly daemons: number;
}

export interface LabStatus {
  readonly lab: string;
  readonly components: readonly ComponentStatus[];
  readonly up: boolean;
  readonly supervisord: number | undefined;
  readonly services: readonly ServiceStatus[];
  readonly topology: Awaited<ReturnType<typeof topologyState>>;
  readonly vips: Readonly<Record<string, string | undefined>>;
}

/** Every component and service on every node with its state, plus the topology and who holds each VIP. */
export async function status(lab: Lab, options: Options = {}): Promise<LabStatus> {
  const { paths, list } = prepare(lab, options);
  const ctx: LabContext = { lab, paths };
  const programs = new Map((await programStatus(paths)).map((s) => [s.program, s]));
  const held = await vipHolders(lab);
  const components: ComponentStatus[] = [];
  const services: ServiceStatus[] = [];
  for (const c of list) {
    let daemons;
    try {
      daemons = c.render?.(ctx) ?? [];
    } catch {
      // Its keys were never made: the lab never came this far.
      components.push({ name: c.name, healthy: undefined, daemons: 0 });
      continue;
    }
    const mine = await Promise.all(
      daemons.map(async (d): Promise<ServiceStatus> => {
        const s = programs.get(d.program);
        const problems = s?.state === 'RUNNING' ? await healthProblems(d.health, held) : [s ? s.detail || s.state : 'not started'];
        const state = s?.state ?? 'ABSENT';
        return { node: d.node, service: d.service, program: d.program, state, pid: s?.pid, healthy: problems.length === 0, problems };
      }),
    );
    services.push(...mine);
    components.push({ name: c.name, healthy: mine.filter((s) => s.healthy).length, daemons: mine.length });
  }
  const topology = await topologyState(planTopology(lab));
  const pid = supervisordPid(paths);
  const topoUp = [topology.namespaces, topology.bridges, topology.veths, topology.isolated].every((m) => Object.values(m).every(Boolean));
  const rendered = components.every((c) => c.healthy !== undefined);
  return {
    lab: lab.name,
    up: !!pid && topoUp && rendered && services.every((s) => s.healthy) && upComplete(paths),
    supervisord: pid,
    components,
    services,
    topology,
    vips: Object.fromEntries(lab.vips.map((v) => [`${v.name} ${v.address}`, held.get(v.address)])),
  };
}

/** The status as a table for people. */
export function formatStatus(s: LabStatus): string {
  const lines = [`lab ${s.lab}: ${s.up ? 'UP' : 'NOT UP'}  (supervisord ${s.supervisord ? `pid ${s.supervisord}` : 'not running'})`, ''];
  lines.push('  COMPONENT         DAEMONS  STATE');
  for (const c of s.components) {
    const state = c.healthy === undefined ? 'never brought up' : c.healthy === c.daemons ? 'ok' : `${c.daemons - c.healthy} not healthy`;
    lines.push(`  ${c.name.padEnd(17)} ${(c.healthy === undefined ? '-' : `${c.healthy}/${c.daemons}`).padEnd(8)} ${state}`);
  }
  lines.push('');
  const w = Math.max(...s.services.map((x) => x.service.length), 7);
  lines.push(`  ${'NODE'.padEnd(8)} ${'SERVICE'.padEnd(w)} ${'STATE'.padEnd(9)} ${'PID'.padEnd(8)} HEALTH`);
  for (const x of s.services) {
    lines.push(`  ${x.node.padEnd(8)} ${x.service.padEnd(w)} ${x.state.padEnd(9)} ${String(x.pid ?? '-').padEnd(8)} ${x.healthy ? 'ok' : `FAIL ${x.problems.join('; ')}`}`);
  }
  lines.push('', '  VIPs:');
  for (const [vip, node] of Object.entries(s.vips)) lines.push(`    ${vip.padEnd(28)} ${node ? `held by ${node}` : 'NOT HELD'}`);
  const topo = (title: string, m: Record<string, boolean>, ok = 'present', not = 'missing') => {
    const bad = Object.entries(m).filter(([, good]) => !good).map(([k]) => k);
    const all = Object.keys(m).length;
    lines.push(`  ${title.padEnd(11)} ${all - bad.length}/${all} ${ok}${bad.length ? `; ${not}: ${bad.join(', ')}` : ''}`);
  };
  lines.push('', '  Topology:');
  topo('namespaces', s.topology.namespaces);
  topo('bridges', s.topology.bridges);
  topo('veths', s.topology.veths);
  topo('isolation', s.topology.isolated, 'forward nothing', 'forwarding off the lab');
  return lines.join('\n');
}
