/**
 * A node's own /run/netns. Every node of the embedded lab is a network namespace on one host, so every daemon that
 * makes namespaces (`ip netns add`, pyroute2) would make them in the host's one /run/netns, where two nodes' OVN
 * metadata agents both make `ovnmeta-<network>` for a network they share (Neutron fixes the name) and the second
 * one's veth collides inside the first one's namespace. On a real cloud each machine has its own /run/netns; here
 * each node has `<state>/run/<node>-netns`:
 *
 * - on the host, a bind mount of itself made shared (its own peer group): the namespaces the node's daemons make
 *   appear under it, where `lab down` and a reboot find them;
 * - in each such daemon (`mounts: 'node-netns'`), a mount namespace of its own (`unshare --mount --propagation
 *   unchanged`, so its copy of that directory stays in the peer group) in which /run/netns is first made private (the
 *   bind over it must never reach the host's /run/netns, a peer of it until then) and then covered by a recursive
 *   bind of the node's directory (`--rbind`: with the namespaces made before, which a plain bind leaves as empty
 *   files), which, bound from a shared mount, joins its peer group: a namespace the agent mounts there appears on the
 *   host's directory and in the node's other such daemons (the checksum loop) alike, and its unmount too.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LabPaths } from './paths.ts';
import { run, sleep } from './sh.ts';

/** One line of /proc/<pid>/mountinfo (proc(5)). */
export interface MountEntry {
  readonly id: number;
  readonly parent: number;
  /** The mount point, unescaped, as the reading process sees it. */
  readonly mountPoint: string;
  /** Optional fields: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`. */
  readonly optional: readonly string[];
  readonly fsType: string;
  readonly source: string;
}

/** The kernel escapes space, tab, newline and backslash in mountinfo's paths as \ooo. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/** /proc/<pid>/mountinfo, parsed; a line that is not a mount is left out. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 10 || sep < 0 || !/^\d+$/.test(f[0]!) || !/^\d+$/.test(f[1]!)) continue;
    out.push({
      id: Number(f[0]),
      parent: Number(f[1]),
      mountPoint: unescape(f[4]!),
      optional: f.slice(6, sep),
      fsType: f[sep + 1]!,
      source: unescape(f[sep + 2]!),
    });
  }
  return out;
}

export const isShared = (m: MountEntry) => m.optional.some((o) => o.startsWith('shared:'));

/** The mounts on exactly this path, in mount order (the last one is on top). */
export const mountsAt = (mounts: readonly MountEntry[], path: string) => mounts.filter((m) => m.mountPoint === path);

/** The mounts strictly below a directory, the deepest (and, on one path, the last mounted) first: the order to unmount. */
export function mountsBelow(mounts: readonly MountEntry[], dir: string): MountEntry[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const below = mounts.map((m, i) => ({ m, i })).filter(({ m }) => m.mountPoint.startsWith(prefix));
  const depth = (p: string) => p.split('/').length;
  return below.sort((a, b) => depth(b.m.mountPoint) - depth(a.m.mountPoint) || b.i - a.i).map(({ m }) => m);
}

const hostMounts = () => parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));

/**
 * Make a node's /run/netns (idempotent): a bind mount of itself, shared. Made fresh, it is empty, as a tmpfs /run is
 * at boot: a name left in it while nothing was mounted (the host rebooted) names no namespace any more.
 */
export async function ensureNodeNetns(paths: LabPaths, node: string): Promise<string> {
  const dir = paths.netns(node);
  mkdirSync(dir, { recursive: true });
  const real = realpathSync(dir);
  let here = mountsAt(hostMounts(), real);
  if (here.length === 0) {
    const mounted = new Set(mountsBelow(hostMounts(), real).map((m) => m.mountPoint));
    for (const name of readdirSync(dir)) if (!mounted.has(join(real, name))) rmSync(join(dir, name), { recursive: true, force: true });
    await run('mount', ['--bind', dir, dir]);
    here = mountsAt(hostMounts(), real);
  }
  const top = here.at(-1);
  if (!top || !isShared(top)) await run('mount', ['--make-shared', dir]);
  return `${dir}: shared`;
}

/** The processes inside the network namespace an nsfs file (a name in a /run/netns) holds: `ip netns pids` for any directory. */
export function pidsInNetns(nsfsFile: string): number[] {
  const target = statSync(nsfsFile, { bigint: true });
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const s = statSync(`/proc/${entry}/ns/net`, { bigint: true });
      if (s.ino === target.ino && s.dev === target.dev) pids.push(Number(entry));
    } catch {
      // gone, or a kernel thread
    }
  }
  return pids;
}

function kill(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** The namespaces in a node's /run/netns (what its daemons made), by name. */
export function nodeNamespaces(paths: LabPaths, node: string): string[] {
  const dir = paths.netns(node);
  if (!existsSync(dir)) return [];
  const real = realpathSync(dir);
  const mounted = new Set(mountsBelow(hostMounts(), real).map((m) => m.mountPoint));
  return readdirSync(dir).filter((name) => mounted.has(join(real, name)));
}

/**
 * Remove a node's /run/netns, as its power-off would: end what runs in each namespace (haproxy; SIGKILL, as with a
 * power cut), unmount the namespace and remove its name, then unmount the directory and remove it. Returns the names.
 */
export async function removeNodeNetns(paths: LabPaths, node: string): Promise<string[]> {
  const dir = paths.netns(node);
  if (!existsSync(dir)) return [];
  const real = realpathSync(dir);
  const names = nodeNamespaces(paths, node);
  for (const name of names) {
    const file = join(dir, name);
    kill(pidsInNetns(file));
    for (let i = 0; i < 50 && pidsInNetns(file).length; i++) await sleep(100);
  }
  for (const m of mountsBelow(hostMounts(), real)) await run('umount', [m.mountPoint]);
  while (mountsAt(hostMounts(), real).length) await run('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
  return names;
}
