/**
 * A node's power cycle (or the whole lab's), as the embedded lab can have one: every process of the node ends
 * (`hard`: SIGKILL, no clean shutdown), what a reboot clears is cleared (runtime files, the namespaces its processes
 * made, link state), then the node boots: only the programs enabled at boot start, never `lab up`'s steps.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, LabNode } from '../../helpers/lab/model.ts';
import type { Daemon } from './component.ts';
import { writeIfChanged } from './config.ts';
import { endProcesses } from './exec.ts';
import { ensureNodeNetns, removeNodeNetns } from './node-netns.ts';
import { makeDirs } from './orchestrator.ts';
import { netnsName, type LabPaths } from './paths.ts';
import { run, tryRun, type Progress } from './sh.ts';
import { shutdown, startOrUpdate, supervisordPid } from './supervisor.ts';
import { applyTopology, planTopology } from './topology.ts';

export function writeEnabled(paths: LabPaths, daemons: readonly Daemon[]): void {
  writeIfChanged(paths.bootEnabled, `${JSON.stringify(daemons.map((d) => d.program).sort(), null, 1)}\n`);
}

export function readEnabled(paths: LabPaths, daemons: readonly Daemon[]): Set<string> {
  if (!existsSync(paths.bootEnabled)) return new Set(daemons.map((d) => d.program));
  return new Set(JSON.parse(readFileSync(paths.bootEnabled, 'utf8')) as string[]);
}

const ctl = (paths: LabPaths, args: string[]) => tryRun('supervisorctl', ['-c', paths.supervisorConf, ...args]);

/**
 * Namespaces a node's processes made on the host's list (a metadata agent before each node had its own /run/netns):
 * they do not survive the node.
 */
async function madeBy(lab: Lab, node: LabNode): Promise<string[]> {
  const ids = await run('ip', ['-n', netnsName(lab, node), '-j', 'netns', 'list-id']).catch(() => '[]');
  return (JSON.parse(ids || '[]') as { name?: string }[]).map((i) => i.name).filter((n): n is string => !!n);
}

async function powerOff(lab: Lab, paths: LabPaths, nodes: readonly LabNode[], programs: readonly string[], hard: boolean) {
  const whole = nodes.length === lab.nodes.length;
  if (whole) {
    const pid = supervisordPid(paths);
    if (hard && pid) process.kill(pid, 'SIGKILL');
    else await shutdown(paths);
  } else if (programs.length) {
    if (hard) await ctl(paths, ['signal', 'KILL', ...programs]);
    await ctl(paths, ['stop', ...programs]);
  }
  for (const node of nodes) {
    for (const ns of await madeBy(lab, node)) {
      await endProcesses(ns, true);
      await tryRun('ip', ['netns', 'delete', ns]);
    }
    await endProcesses(netnsName(lab, node), hard);
    // The node's own /run/netns (a tmpfs at boot): the namespaces its metadata agent made go with what runs in them
    // (haproxy runs in them, not in the node's namespace, and outlives its agent).
    await removeNodeNetns(paths, node.name);
  }
}

/** Runtime state a reboot clears: the nodes' pid files, sockets and run directories (the whole run dir for the lab). */
function clearRuntime(lab: Lab, paths: LabPaths, nodes: readonly LabNode[]): string[] {
  if (!existsSync(paths.run)) return [];
  const whole = nodes.length === lab.nodes.length;
  const gone = readdirSync(paths.run).filter((f) => whole || nodes.some((n) => f.startsWith(`${n.name}-`)));
  for (const f of gone) rmSync(join(paths.run, f), { recursive: true, force: true });
  if (whole) rmSync(paths.supervisorSock, { force: true });
  return gone;
}

async function cycleLinks(lab: Lab, node: LabNode): Promise<void> {
  const ns = netnsName(lab, node);
  type Link = { ifname: string; link_type?: string };
  const links = JSON.parse(await run('ip', ['-n', ns, '-j', 'link', 'show'])) as Link[];
  const nics = links.filter((l) => l.ifname !== 'lo' && l.link_type !== 'loopback').map((l) => l.ifname);
  for (const nic of nics) await tryRun('ip', ['-n', ns, 'link', 'set', nic, 'down']);
  for (const nic of nics) await tryRun('ip', ['-n', ns, 'link', 'set', nic, 'up']);
}

/**
 * Power the nodes off and on; return the programs started at boot, those left off (not enabled at boot) and when power
 * came on. Readiness is the caller's.
 */
export async function powerCycle(
  lab: Lab, paths: LabPaths, nodes: readonly LabNode[], daemons: readonly Daemon[], hard: boolean, p: Progress,
): Promise<{ booted: string[]; leftOff: string[]; poweredOn: number }> {
  const names = new Set(nodes.map((n) => n.name));
  const mine = daemons.filter((d) => names.has(d.node));
  const programs = mine.map((d) => d.program);
  const how = hard ? 'hard (SIGKILL, no clean shutdown)' : 'clean shutdown';
  await p.step(`power off ${[...names].join(', ')}: ${how}`, async () => {
    await powerOff(lab, paths, nodes, programs, hard);
    return `${programs.length} programs stopped`;
  });
  await p.step('what a reboot clears: runtime files, link state', async () => {
    const gone = clearRuntime(lab, paths, nodes);
    for (const n of nodes) await cycleLinks(lab, n);
    // The whole lab: the host's bridges go through it too (a switch losing power).
    const bridges = nodes.length === lab.nodes.length ? planTopology(lab).bridges.map((b) => b.name) : [];
    for (const b of bridges) await tryRun('ip', ['link', 'set', b, 'down']);
    for (const b of bridges) await tryRun('ip', ['link', 'set', b, 'up']);
    return `${gone.length} runtime entries`;
  });
  const enabled = readEnabled(paths, daemons);
  const boot = mine.filter((d) => enabled.has(d.program)).map((d) => d.program);
  const off = programs.filter((x) => !enabled.has(x));
  const poweredOn = Date.now();
  await p.step(`boot: ${boot.length} of ${programs.length} programs enabled at boot`, async () => {
    // The nodes' network configuration, as at boot: addresses, links and routes (a link that went down lost its routes).
    await applyTopology(planTopology(lab));
    makeDirs(mine);
    for (const n of nodes) makeVolatile(paths, n.name);
    for (const n of new Set(mine.filter((d) => d.mounts === 'node-netns').map((d) => d.node))) await ensureNodeNetns(paths, n);
    if (!supervisordPid(paths)) await startOrUpdate(paths, [], new Set(daemons.filter((d) => d.manual).map((d) => d.program)));
    if (boot.length) await ctl(paths, ['start', ...boot]);
    return off.length ? `not enabled, left off: ${off.join(' ')}` : 'all enabled';
  });
  return { booted: boot, leftOff: off, poweredOn };
}

/** The node's /tmp, as a tmpfs mounted at boot gives it: empty, world-writable, sticky. */
export function makeVolatile(paths: LabPaths, node: string): string {
  const dir = paths.volatile(node);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o1777);
  return dir;
}
