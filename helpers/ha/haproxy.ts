/**
 * The API backends as HAProxy itself sees them: its admin socket's `show stat` on each loadbalancer node, judged
 * against the spec (every service of spec.services behind HAProxy, every control node a server of it). Parsing and
 * judging are pure; the probe runs over SSH. Never asserts.
 */
import type { Lab, LabNode } from '../lab/model.ts';

/** The nodes that run HAProxy: the loadbalancer nodes of a lab with VIPs (as the deployers place it). */
export function haproxyNodes(lab: Lab): LabNode[] {
  return lab.vips.length > 0 ? lab.nodesWithRole('loadbalancer') : [];
}

export interface ApiBackend {
  readonly service: string;
  /** The control nodes that must each be an UP server of it. */
  readonly servers: readonly LabNode[];
}

/** Every spec service, with every control node that has an API address as its server. */
export function apiBackends(lab: Lab): ApiBackend[] {
  const controls = lab.nodesWithRole('control').filter((n) => n.apiAddress);
  return Object.keys(lab.spec.services ?? {}).map((service) => ({ service, servers: controls }));
}

export interface StatRow {
  readonly proxy: string;
  readonly server: string;
  readonly status: string;
  readonly checkStatus: string;
  readonly lastCheck: string;
}

/** `show stat`'s CSV: a `# pxname,svname,…` header, then one row per frontend, server and backend. */
export function parseShowStat(csv: string): StatRow[] {
  const lines = csv.split('\n').filter((l) => l.trim());
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) return [];
  const cols = header.slice(2).split(',');
  const at = (name: string) => cols.indexOf(name);
  const [px, sv, st, cs, lc] = ['pxname', 'svname', 'status', 'check_status', 'last_chk'].map(at);
  return lines.filter((l) => !l.startsWith('#')).map((l) => {
    const f = l.split(',');
    const get = (i: number | undefined) => (i !== undefined && i >= 0 ? (f[i] ?? '') : '');
    return { proxy: get(px), server: get(sv), status: get(st), checkStatus: get(cs), lastCheck: get(lc) };
  });
}

/**
 * HAProxy's admin sockets are the unix sockets its processes listen on in this node's network namespace (ss reads
 * the namespace's own /proc/net/unix); each is asked `show stat`. Kolla's HAProxy answers inside its container.
 */
export function statProbe(lab: Lab): string {
  const socat = lab.deployer.kind === 'kolla'
    ? `${lab.deployer.containerEngine === 'podman' ? 'podman' : 'docker'} exec -i haproxy socat`
    : 'socat';
  return [
    // HAProxy binds <path>.<pid>.tmp and renames it: the kernel keeps the name it was bound under.
    `socks=$(ss -Hxlp | awk '/users:\\(\\("haproxy"/ {p = $5; sub(/\\.[0-9]+\\.tmp$/, "", p); print p}' | sort -u)`,
    'for s in $socks; do echo "=== socket $s"; ' +
      `echo "show stat" | ${socat} -t 5 stdio "UNIX-CONNECT:$s" || echo "=== failed $s"; done`,
  ].join('\n');
}

/** What one loadbalancer's HAProxy said: the sockets it listens on and its rows, or why there are none. */
export interface NodeStats {
  readonly node: string;
  readonly sockets: readonly string[];
  readonly rows: readonly StatRow[];
  readonly error?: string;
}

export function parseProbe(node: string, text: string): NodeStats {
  const sockets: string[] = [];
  const failed: string[] = [];
  const rows: StatRow[] = [];
  for (const part of text.split(/^=== /m).filter((p) => p.trim())) {
    const [first = '', ...rest] = part.split('\n');
    if (first.startsWith('socket ')) {
      sockets.push(first.slice(7).trim());
      rows.push(...parseShowStat(rest.join('\n')));
    } else if (first.startsWith('failed ')) failed.push(first.slice(7).trim());
  }
  const silent = `HAProxy's admin socket ${sockets.join(', ')} gave no stats${failed.length ? ' (socat failed)' : ''}`;
  const error = sockets.length === 0
    ? 'no HAProxy admin socket listening in its network namespace (ss -xlp): HAProxy is not running there'
    : rows.length === 0 ? silent : undefined;
  return { node, sockets, rows, ...(error ? { error } : {}) };
}

const PSEUDO = new Set(['FRONTEND', 'BACKEND']);

/** A server between states (`UP 4/5`: a health check failed, `DOWN 1/2`: one passed), which HAProxy settles soon. */
export const inTransition = (stats: readonly NodeStats[]) =>
  stats.some((s) => s.rows.some((r) => !PSEUDO.has(r.server) && /^(UP|DOWN) \d+\/\d+$/.test(r.status)));

/** A service's backends: `<service>_back` (the local provider), or Kolla's `<service>_…` proxies with servers. */
export function backendsOf(service: string, rows: readonly StatRow[]): string[] {
  const withServers = new Set(rows.filter((r) => !PSEUDO.has(r.server)).map((r) => r.proxy));
  return [...withServers].filter((p) => p === `${service}_back` || p.startsWith(`${service}_`)).sort();
}

function describe(r: StatRow): string {
  const check = [r.checkStatus, r.lastCheck].filter(Boolean).join(' ');
  const going = /^UP \d+\/\d+$/.test(r.status) ? ', failing its health checks, not yet marked DOWN' : '';
  return `${r.status || 'no status'}${going}${check ? ` (last check ${check})` : ''}`;
}

/**
 * Every way the spec's API backends are not all served by every control node, each naming the loadbalancer node,
 * the backend, the server (the control node) and the status seen: HAProxy unreachable, a backend missing, a control
 * node not among its servers, or its server not UP (DOWN, MAINT, NOLB, or still UP but failing its checks).
 */
export function backendFindings(backends: readonly ApiBackend[], stats: readonly NodeStats[]): string[] {
  const out: string[] = [];
  for (const s of stats) {
    if (s.error) {
      out.push(`${s.node}: ${s.error}`);
      continue;
    }
    for (const b of backends) {
      if (b.servers.length === 0) {
        out.push(`${s.node}: the spec puts no control node with an API address behind ${b.service}`);
        continue;
      }
      const names = backendsOf(b.service, s.rows);
      if (names.length === 0) {
        const proxies = [...new Set(s.rows.map((r) => r.proxy))].join(', ') || 'none';
        out.push(`${s.node}: HAProxy has no backend for ${b.service} (${b.service}_back; proxies: ${proxies})`);
        continue;
      }
      for (const name of names) {
        const rows = s.rows.filter((r) => r.proxy === name && !PSEUDO.has(r.server));
        for (const node of b.servers) {
          const r = rows.find((x) => x.server === node.name || x.server === node.hostname);
          if (!r) {
            const has = rows.map((x) => x.server).join(', ') || 'none';
            out.push(`${s.node}: backend ${name} has no server ${node.name} (servers: ${has})`);
          } else if (r.status !== 'UP') {
            out.push(`${s.node}: backend ${name} server ${node.name} is ${describe(r)}`);
          }
        }
      }
    }
  }
  return out;
}
