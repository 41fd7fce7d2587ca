/** Running things in the lab: commands inside a node, one-time steps behind markers, daemons started and healthy. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Lab, LabNode } from '../../helpers/lab/model.ts';
import { tcpOpen } from '../../helpers/node/tcp.ts';
import type { Daemon, Health } from './component.ts';
import { netnsName, type LabPaths } from './paths.ts';
import { run, sleep, tryRun } from './sh.ts';
import { programStatus } from './supervisor.ts';

/** A command inside a node's namespace, as a system user. */
export function inNode(
  lab: Lab, node: LabNode, user: string | undefined, argv: string[], timeout = 300_000,
  more: { env?: Record<string, string>; input?: string } = {},
) {
  const drop = user ? ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--'] : [];
  const env = { PATH: `/usr/sbin:/usr/bin:/sbin:/bin`, ...more.env };
  return run('ip', ['netns', 'exec', netnsName(lab, node), ...drop, ...argv], { timeout, env, extendEnv: true, input: more.input });
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);
const doneDir = (paths: LabPaths) => join(paths.root, 'openstack', 'done');

/** Run a one-time step unless its marker holds the same input hash. */
export async function once(paths: LabPaths, step: string, input: string, fn: () => Promise<unknown>): Promise<string> {
  const marker = join(doneDir(paths), step);
  const h = sha(input);
  if (existsSync(marker) && readFileSync(marker, 'utf8') === h) return 'done before';
  await fn();
  mkdirSync(dirname(marker), { recursive: true });
  writeFileSync(marker, h);
  return 'done';
}

/** Every one-time step is due again (a new database was made). */
export function forgetOnce(paths: LabPaths): void {
  rmSync(doneDir(paths), { recursive: true, force: true });
}

const ctl = (paths: LabPaths, args: string[]) => tryRun('supervisorctl', ['-c', paths.supervisorConf, ...args]);

/** Start (or restart when its files changed) these programs; wait for RUNNING and their health probes. */
export async function startDaemons(
  lab: Lab, paths: LabPaths, daemons: readonly Daemon[], changed: ReadonlySet<string>, timeoutMs: number,
): Promise<string> {
  const states = new Map((await programStatus(paths)).map((s) => [s.program, s.state]));
  const running = (p: string) => states.get(p) === 'RUNNING' || states.get(p) === 'STARTING';
  const start = daemons.filter((d) => !running(d.program)).map((d) => d.program);
  const restart = daemons.filter((d) => running(d.program) && changed.has(d.program)).map((d) => d.program);
  if (start.length) await ctl(paths, ['start', ...start]);
  if (restart.length) await ctl(paths, ['restart', ...restart]);
  const t0 = Date.now();
  for (;;) {
    const bad = await unhealthy(lab, paths, daemons);
    if (bad.length === 0) break;
    const crashing = bad.some((b) => / FATAL| BACKOFF/.test(b)) && Date.now() - t0 > 60_000;
    if (Date.now() - t0 > timeoutMs || crashing) {
      const s = ((Date.now() - t0) / 1000).toFixed(0);
      throw new Error(`not healthy after ${s} s:\n  ${bad.join('\n  ')}\n  (logs: ${paths.logs}/<node>/<service>.log)`);
    }
    await sleep(500);
  }
  const said = [start.length ? `started ${start.length}` : '', restart.length ? `restarted ${restart.join(' ')}` : ''];
  return said.filter(Boolean).join(', ') || 'running';
}

async function unhealthy(lab: Lab, paths: LabPaths, daemons: readonly Daemon[]): Promise<string[]> {
  const st = new Map((await programStatus(paths)).map((s) => [s.program, s]));
  const held = daemons.some((d) => d.health.some((h) => h.kind === 'vip')) ? await vipHolders(lab) : new Map();
  const bad: string[] = [];
  for (const d of daemons) {
    const s = st.get(d.program);
    if (s?.state !== 'RUNNING') bad.push(`${d.program} ${s?.state ?? 'ABSENT'} ${s?.detail ?? ''}`.trim());
    else for (const problem of await healthProblems(d.health, held)) bad.push(`${d.program}: ${problem}`);
  }
  return bad;
}

/** What a running daemon's health probes find wrong. */
export async function healthProblems(health: readonly Health[], held: ReadonlyMap<string, string>): Promise<string[]> {
  const found = await Promise.all(
    health.map(async (h) => {
      if (h.kind === 'tcp') return (await tcpOpen(h.host, h.port)) ? undefined : `${h.host}:${h.port} closed`;
      return held.has(h.address) ? undefined : `VIP ${h.address} not held`;
    }),
  );
  return found.filter((f): f is string => !!f);
}

/** Which node holds each of the lab's VIPs. */
export async function vipHolders(lab: Lab): Promise<Map<string, string>> {
  const held = new Map<string, string>();
  await Promise.all(
    lab.nodes.map(async (node) => {
      const { out } = await tryRun('ip', ['-n', netnsName(lab, node), '-4', '-o', 'addr', 'show']);
      for (const vip of lab.vips) if (out.includes(` ${vip.address}/`)) held.set(vip.address, node.name);
    }),
  );
  return held;
}

async function pidsIn(ns: string): Promise<number[]> {
  const { out } = await tryRun('ip', ['netns', 'pids', ns]);
  return out.split(/\s+/).filter((x) => /^\d+$/.test(x)).map(Number);
}

function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // gone already
    }
  }
}

/** End every process in a namespace: SIGTERM and up to 10 s of grace, or SIGKILL at once; returns how many there were. */
export async function endProcesses(ns: string, hard: boolean): Promise<number> {
  const pids = await pidsIn(ns);
  signal(pids, hard ? 'SIGKILL' : 'SIGTERM');
  for (let i = 0; !hard && i < 20 && (await pidsIn(ns)).length; i++) await sleep(500);
  signal(await pidsIn(ns), 'SIGKILL');
  return pids.length;
}
