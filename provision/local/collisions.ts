/**
 * What two daemons of one lab must not share, read from what the provider renders: a listening address and port in
 * one namespace, a socket or pid file, a directory. Several daemons of one component on one node may share their
 * component's directories (nova-api, -conductor and -scheduler read one nova.conf, keep one lock dir); daemons of
 * different components or nodes never do. Pure: for self-tests of labs that put many services on one node.
 */
import type { Daemon } from './component.ts';
import type { Rendered } from './orchestrator.ts';

const ENDPOINT = /\b(\d{1,3}(?:\.\d{1,3}){3}|0\.0\.0\.0):(\d{2,5})\b/g;
/** Config lines and flags that say where a daemon itself listens (not where it connects). */
const LISTENS = /^\s*(bind|listen|http-socket|[a-z_.-]*listen[a-z_.-]*|[a-z_.-]*bind_(?:host|address)[a-z_.-]*)\b/i;
const RUNTIME_FILE = /^\/\S+(\.pid|\.sock|-sock|\.ctl)$/;

/** Where the daemon listens: its TCP health probes, and ip:port in its listen flags and its configs' listen lines. */
export function listens(d: Daemon): string[] {
  const found = d.health.flatMap((h) => (h.kind === 'tcp' ? [`${h.host}:${h.port}`] : []));
  const lines = [...d.argv.filter((a) => /listen|bind/i.test(a)), ...d.files.flatMap((f) => f.content.split('\n').filter((l) => LISTENS.test(l)))];
  for (const l of lines) for (const m of l.matchAll(ENDPOINT)) found.push(`${m[1]}:${m[2]}`);
  return [...new Set(found)];
}

/** Sockets and pid files the daemon is told to make (its argv; a path a config names may be another daemon's). */
export const runtimeFiles = (d: Daemon): string[] =>
  [...new Set(d.argv.flatMap((a) => a.split('=')).filter((a) => RUNTIME_FILE.test(a)))];

const overlaps = (a: string, b: string) => {
  const [ha, pa] = [a.slice(0, a.lastIndexOf(':')), a.slice(a.lastIndexOf(':') + 1)];
  const [hb, pb] = [b.slice(0, b.lastIndexOf(':')), b.slice(b.lastIndexOf(':') + 1)];
  return pa === pb && (ha === hb || ha === '0.0.0.0' || hb === '0.0.0.0');
};

/**
 * Every collision among the rendered daemons, each named with the programs involved; none is the goal. `shared`:
 * directories several components share by design, as on a real host (a run dir OVS and ovn-controller both use).
 */
export function collisions(r: Rendered, shared: ReadonlySet<string> = new Set()): string[] {
  const componentOf = new Map([...r.daemons].flatMap(([c, ds]) => ds.map((d) => [d.program, c] as const)));
  const out: string[] = [];
  const daemons = r.all;
  daemons.forEach((a, i) => {
    for (const b of daemons.slice(i + 1)) {
      if (a.node === b.node) {
        for (const x of listens(a)) for (const y of listens(b)) if (overlaps(x, y)) out.push(`${a.program} and ${b.program} both listen on ${x === y ? x : `${x}/${y}`}`);
      }
      for (const f of runtimeFiles(a).filter((p) => runtimeFiles(b).includes(p))) out.push(`${a.program} and ${b.program} both make ${f}`);
    }
  });
  const owners = new Map<string, Set<string>>();
  for (const d of daemons) for (const dir of d.dirs) owners.set(dir.path, (owners.get(dir.path) ?? new Set()).add(`${componentOf.get(d.program)}@${d.node}`));
  for (const [dir, who] of owners) if (who.size > 1 && !shared.has(dir)) out.push(`${dir} is written by ${[...who].sort().join(', ')}`);
  return out;
}
