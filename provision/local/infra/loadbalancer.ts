/** HAProxy and keepalived on the loadbalancer nodes: the spec's VIPs, TLS on them, every API behind them. */
import { apiBackends, backendFindings, parseShowStat, type NodeStats } from '../../../helpers/ha/haproxy.ts';
import type { Lab, LabNode, Vip } from '../../../helpers/lab/model.ts';
import { serverAccepts } from '../../../helpers/openstack/catalog.ts';
import type { Cloud } from '../../../helpers/openstack/cloud.ts';
import { CredentialsError } from '../../../helpers/openstack/credentials.ts';
import type { Component, Condition, Daemon, LabContext, ReadyContext } from '../component.ts';
import { metadataViaVip, NOVA_METADATA_PORT } from '../openstack/common.ts';
import { HORIZON_CHECK, HORIZON_PORT } from '../openstack/horizon.ts';
import type { LabPaths } from '../paths.ts';
import { run } from '../sh.ts';
import { labSecrets, prometheusAuth, vipCertFile, vipTls, type Secrets } from './pki.ts';
import { hasJob, jobPort, loadbalancerNodes, monitoringNodes, need } from './roles.ts';

const TLS_MIN: Record<string, string> = { TLSv1: 'TLSv1.0', 'TLSv1.1': 'TLSv1.1', 'TLSv1.2': 'TLSv1.2', 'TLSv1.3': 'TLSv1.3' };

/** HAProxy's ssl-min-ver keyword for the spec's tls.minVersion. */
export function haproxyMinVer(minVersion: string): string {
  const v = TLS_MIN[minVersion];
  if (!v) throw new Error(`unknown TLS version ${minVersion}`);
  return v;
}

/** The node interface that carries a VIP: the VIP's interface when named, else the node's interface on that network. */
export function vipNic(node: LabNode, vip: Vip): string {
  if (vip.interface) {
    if (!node.nics.some((n) => n.name === vip.interface)) throw new Error(`VIP ${vip.name}: node ${node.name} has no interface ${vip.interface}`);
    return vip.interface;
  }
  const nic =
    node.nics.find((n) => n.network === vip.network && n.use === 'vip') ?? node.nics.find((n) => n.network === vip.network && n.use === 'address');
  return need(nic, `VIP ${vip.name}: node ${node.name} has no interface on network ${vip.network}`).name;
}

export interface Frontend {
  readonly name: string;
  readonly vip: Vip;
  readonly port: number;
  readonly tls: boolean;
  readonly backend: string;
  /** A TCP service (PostgreSQL), not HTTP. */
  readonly tcp?: boolean;
}

export interface Backend {
  readonly name: string;
  readonly servers: readonly { name: string; address: string; port: number }[];
  readonly check?: string;
  /** The health check authenticates (HTTP basic) as this service's user: Prometheus behind basic auth. */
  readonly checkAuth?: 'prometheus';
  /** The Host the health check sends (Django answers 400 to a host it does not serve). */
  readonly checkHost?: string;
  readonly tcp?: boolean;
}

/** Frontends and backends: every service of lab.services on its VIPs, plus Prometheus on its VIP. */
export function haproxyRoutes(lab: Lab): { frontends: Frontend[]; backends: Backend[] } {
  const frontends: Frontend[] = [];
  const backends: Backend[] = [];
  const controls = lab.nodesWithRole('control');
  for (const [name, svc] of Object.entries(lab.spec.services ?? {})) {
    backends.push({
      name: `${name}_back`,
      servers: controls.filter((n) => n.apiAddress).map((n) => ({ name: n.name, address: n.apiAddress!, port: svc.port })),
    });
  }
  for (const c of lab.expectedCatalog) {
    const vip = lab.vip(c.vip);
    const fname = `${c.service}_${c.vip}`;
    if (frontends.some((f) => f.name === fname)) continue;
    frontends.push({ name: fname, vip, port: c.port, tls: c.scheme === 'https', backend: `${c.service}_back` });
  }
  const metadata = metadataViaVip(lab);
  if (metadata) {
    // Kolla's name: ha.api-backends counts nova_metadata_back among nova's backends (nova_*), as in a Kolla lab.
    const { vip, tls } = metadata;
    const port = NOVA_METADATA_PORT;
    const servers = controls.filter((n) => n.apiAddress).map((n) => ({ name: n.name, address: n.apiAddress!, port }));
    backends.push({ name: 'nova_metadata_back', servers });
    frontends.push({ name: `nova_metadata_${vip.name}`, vip, port, tls, backend: 'nova_metadata_back' });
  }
  const prom = lab.spec.monitoring?.prometheus;
  if (prom?.vip) {
    const vip = lab.vip(prom.vip);
    const nodes = monitoringNodes(lab).filter((n) => n.apiAddress);
    backends.push({
      name: 'prometheus_server_back',
      servers: nodes.map((n) => ({ name: n.name, address: n.apiAddress!, port: prom.port })),
      check: '/-/ready',
      ...(prom.basicAuthUser ? { checkAuth: 'prometheus' as const } : {}),
    });
    frontends.push({ name: `prometheus_server_${vip.name}`, vip, port: prom.port, tls: vipTls(lab, vip), backend: 'prometheus_server_back' });
  }
  const pg = lab.spec.postgresql;
  if (pg?.vip) {
    // The VIP leads to the primary only: nothing here promotes a standby, and a write to one fails.
    const primary = lab.node(pg.primary);
    const port = pg.port ?? 5432;
    const servers = primary.apiAddress ? [{ name: primary.name, address: primary.apiAddress, port }] : [];
    backends.push({ name: 'postgresql_back', servers, tcp: true });
    frontends.push({ name: `postgresql_${pg.vip}`, vip: lab.vip(pg.vip), port, tls: false, backend: 'postgresql_back', tcp: true });
  }
  const dash = dashboardRoutes(lab);
  return { frontends: [...frontends, ...dash.frontends], backends: [...backends, ...dash.backends] };
}

/** Horizon on every endpoint VIP at dashboard.port, the control nodes behind it. */
function dashboardRoutes(lab: Lab): { frontends: Frontend[]; backends: Backend[] } {
  const dash = lab.spec.dashboard;
  if (!dash?.enabled) return { frontends: [], backends: [] };
  const controls = lab.nodesWithRole('control').filter((n) => n.apiAddress);
  const vips = lab.dashboardVips;
  const publicVip = lab.dashboardPublicVip ?? need(vips[0], 'Horizon is enabled, but the spec puts it on no VIP');
  const backend: Backend = {
    name: 'horizon_back',
    servers: controls.map((n) => ({ name: n.name, address: n.apiAddress!, port: HORIZON_PORT })),
    check: HORIZON_CHECK,
    checkHost: publicVip.host,
  };
  const port = dash.port ?? 443;
  return { frontends: vips.map((vip) => ({ name: `horizon_${vip.name}`, vip, port, tls: vipTls(lab, vip), backend: backend.name })), backends: [backend] };
}

/** A loadbalancer node's HAProxy admin socket (a path: reachable from the host, whatever the namespace). */
export const statsSocket = (paths: LabPaths, node: LabNode) => `${paths.run}/${node.name}-haproxy.sock`;

/** `show stat` of a loadbalancer node's HAProxy through its admin socket, or why there is none. */
export async function haproxyStats(paths: LabPaths, node: LabNode): Promise<NodeStats> {
  const socket = statsSocket(paths, node);
  try {
    const argv = ['-t', '5', 'stdio', `UNIX-CONNECT:${socket}`];
    const out = await run('socat', argv, { input: 'show stat\n', timeout: 10_000 });
    return { node: node.name, sockets: [socket], rows: parseShowStat(out) };
  } catch (error) {
    const why = (error as Error).message.split('\n')[0];
    return { node: node.name, sockets: [], rows: [], error: `HAProxy's admin socket ${socket} does not answer: ${why}` };
  }
}

/** What HAProxy on every loadbalancer says of the API backends: every control node's server UP, or what is not. */
export async function apiBackendFindings(lab: Lab, paths: LabPaths): Promise<string[]> {
  const stats = await Promise.all(loadbalancerNodes(lab).map((n) => haproxyStats(paths, n)));
  return backendFindings(apiBackends(lab), stats);
}

function backendsUp({ lab, paths, cloud }: ReadyContext): Condition[] {
  if (apiBackends(lab).length === 0) return [];
  return [{
    what: 'HAProxy on every loadbalancer: each control node UP in every API backend',
    probe: async () => {
      const findings = await apiBackendFindings(lab, paths);
      return findings.length === 0 || findings.join('; ');
    },
  }, {
    // A server's first authenticated call (its own token, discovery, its first database connection) takes seconds;
    // a check must not be the one to make it, on each of several servers at once.
    what: 'every API server accepts a token on its own address',
    probe: () => serversAcceptTokens(lab, cloud),
  }];
}

async function serversAcceptTokens(lab: Lab, cloud: () => Promise<Cloud>): Promise<true | string> {
  if (!Object.values(lab.spec.services ?? {}).some((s) => s.type === 'identity')) return true;
  let c: Cloud;
  try {
    c = await cloud();
  } catch (error) {
    // A spec without credentials: no check calls an API with a token.
    if (error instanceof CredentialsError) return true;
    throw error;
  }
  const calls = apiBackends(lab).flatMap(({ service, servers }) => {
    const svc = lab.spec.services![service]!;
    return servers.map((n) => serverAccepts(c, svc.type, n.apiAddress!, svc.port).then((r) => (r === true ? r : `${n.name}: ${r}`)));
  });
  const refused = (await Promise.all(calls)).filter((r) => r !== true);
  return refused.length === 0 || refused.join('; ');
}

export function renderHaproxy(lab: Lab, paths: LabPaths, node: LabNode, secrets?: Secrets): string {
  const { frontends, backends } = haproxyRoutes(lab);
  const minVer = haproxyMinVer(lab.tls.minVersion);
  const metricsPort = jobPort(lab, 'haproxy', 9101);
  const lines = [
    `# Rendered by stackgate (local provider) for ${lab.name}/${node.name}; do not edit.`,
    'global',
    '  log stdout format raw local0 info',
    '  maxconn 4000',
    '  user haproxy',
    '  group haproxy',
    `  stats socket ${statsSocket(paths, node)} mode 600 level admin`,
    `  ssl-default-bind-options ssl-min-ver ${minVer}`,
    '',
    'defaults',
    '  mode http',
    '  log global',
    '  option httplog',
    '  option dontlognull',
    '  option http-server-close',
    '  option forwardfor',
    '  option redispatch',
    '  retries 3',
    '  timeout connect 5s',
    '  timeout client 2m',
    '  timeout server 2m',
    '  timeout check 5s',
    '',
  ];
  if (node.apiAddress) {
    lines.push(
      'frontend prometheus_exporter',
      `  bind ${node.apiAddress}:${metricsPort}`,
      '  no log',
      '  http-request use-service prometheus-exporter if { path /metrics }',
      '  http-request return status 404 content-type text/plain string "see /metrics\\n"',
      '',
    );
  }
  for (const f of frontends) {
    const ssl = f.tls ? ` ssl crt ${vipCertFile(lab, paths, f.vip)} ssl-min-ver ${minVer}` : '';
    if (f.tcp) {
      // A database's pooled connections sit idle for minutes: kept an hour with keepalives, as Kolla's MariaDB is.
      lines.push(`frontend ${f.name}`, '  mode tcp', '  option tcplog', '  option clitcpka', '  timeout client 3600s',
        `  bind ${f.vip.address}:${f.port}`, `  default_backend ${f.backend}`, '');
      continue;
    }
    lines.push(`frontend ${f.name}`, `  bind ${f.vip.address}:${f.port}${ssl}`, `  http-request set-header X-Forwarded-Proto ${f.tls ? 'https' : 'http'}`, `  default_backend ${f.backend}`, '');
  }
  for (const b of backends) {
    lines.push(`backend ${b.name}`);
    if (b.tcp) lines.push('  mode tcp', '  option srvtcpka', '  timeout server 3600s');
    if (b.check && b.checkHost) {
      lines.push('  option httpchk', `  http-check send meth GET uri ${b.check} ver HTTP/1.1 hdr Host ${b.checkHost}`, '  http-check expect status 200');
    } else if (b.check) lines.push(`  option httpchk GET ${b.check}`);
    if (b.check && b.checkAuth === 'prometheus') {
      // As Kolla does: the check sends Prometheus' basic auth, or /-/ready answers 401 and the backend is down.
      const auth = prometheusAuth(lab, need(secrets, 'the HAProxy check of Prometheus needs the lab secrets'))!;
      lines.push(`  http-check send hdr Authorization "Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}"`);
    }
    for (const s of b.servers) lines.push(`  server ${s.name} ${s.address}:${s.port} check inter 2000 rise 2 fall 5`);
    lines.push('');
  }
  return lines.join('\n');
}

/** One keepalived VRRP instance: the VIPs it holds, which move between the loadbalancers together. */
export interface VrrpGroup {
  /** The service (or `dashboard`) whose own VIP pair this is; undefined for the instance of every other VIP. */
  readonly owner: string | undefined;
  readonly vrid: number;
  readonly vips: readonly Vip[];
}

/**
 * The VRRP instances: one per service (and Horizon) with a VIP pair of its own, holding that pair, as hacluster
 * groups a charm's VIPs (grp_<service>_vips); one more for every other VIP (the endpoint VIPs, Prometheus'), first.
 * A VIP that is an endpoint VIP or that several owners name stays in the shared one. Each instance's router ID is a
 * `vrid` one of its VIPs states, else the next free one from the first stated (51 when none is).
 */
export function vrrpGroups(lab: Lab): VrrpGroup[] {
  const d = lab.spec.dashboard?.enabled ? lab.spec.dashboard : undefined;
  type Owner = [string, (string | undefined)[]];
  const owners: Owner[] = [
    ...Object.entries(lab.spec.services ?? {}).map(([name, s]): Owner => [name, [s.vip, s.internalVip]]),
    ['dashboard', [d?.vip, d?.internalVip]],
  ];
  const endpointVips = new Set(Object.values(lab.spec.endpoints ?? {}));
  const claims = new Map<string, Set<string>>();
  for (const [owner, vips] of owners) {
    for (const v of vips) if (v) claims.set(v, (claims.get(v) ?? new Set()).add(owner));
  }
  const ownerOf = (v: Vip) => {
    const who = claims.get(v.name);
    return who?.size === 1 && !endpointVips.has(v.name) ? [...who][0] : undefined;
  };
  const ordered = [undefined, ...owners.map(([owner]) => owner)].map((owner) => ({
    owner,
    vips: lab.vips.filter((v) => ownerOf(v) === owner),
  }));
  const stated = (vips: readonly Vip[]) => vips.map((v) => lab.spec.vips?.[v.name]?.vrid).find((x) => x !== undefined);
  const groups = ordered.filter((g) => g.vips.length > 0);
  const taken = new Set(groups.map((g) => stated(g.vips)).filter((x) => x !== undefined));
  let next = groups.map((g) => stated(g.vips)).find((x) => x !== undefined) ?? 51;
  const used = new Set<number>();
  return groups.map((g) => {
    let vrid = stated(g.vips);
    if (vrid !== undefined && used.has(vrid)) throw new Error(`lab ${lab.name}: two VRRP instances would share router ID ${vrid}`);
    if (vrid === undefined) {
      while (taken.has(next)) next++;
      vrid = next;
      taken.add(vrid);
    }
    const what = g.owner ?? 'the shared VIPs';
    if (vrid > 255) throw new Error(`lab ${lab.name}: the VRRP instance of ${what} would get router ID ${vrid} (at most 255)`);
    used.add(vrid);
    return { owner: g.owner, vrid, vips: g.vips };
  });
}

export function renderKeepalived(lab: Lab, paths: LabPaths, node: LabNode, secrets: Secrets): string {
  const lbs = loadbalancerNodes(lab);
  need(lab.vips[0], 'no VIPs');
  const priority = 100 - lbs.findIndex((n) => n.name === node.name);
  // VRRP advertises from an address of the instance's interface: a NIC that carries only VIPs (use: vip) has none
  // until keepalived adds one, and keepalived holds such an instance in FAULT. The first VIP on an addressed NIC leads.
  const addressed = (v: Vip) => node.nics.some((n) => n.name === vipNic(node, v) && n.use === 'address' && n.address);
  const advertNic = (g: VrrpGroup) => vipNic(node, g.vips.find(addressed) ?? g.vips[0]!);
  const instance = (g: VrrpGroup) => `vrrp_instance ${lab.name}_${g.owner ? `${g.owner}_` : ''}vip_${g.vrid} {
  state BACKUP
  nopreempt
  interface ${advertNic(g)}
  virtual_router_id ${g.vrid}
  priority ${priority}
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass ${secrets.vrrpPass}
  }
  virtual_ipaddress {
${g.vips.map((v) => `    ${v.address}/${lab.network(v.network).cidr.prefix} dev ${vipNic(node, v)}`).join('\n')}
  }
}
`;
  return `# Rendered by stackgate (local provider) for ${lab.name}/${node.name}; do not edit.
global_defs {
  router_id ${lab.name}-${node.name}
  script_user root
  enable_script_security
}

${vrrpGroups(lab).map(instance).join('\n')}`;
}

function renderLoadbalancer(lab: Lab, paths: LabPaths, node: LabNode, secrets: Secrets): Daemon[] {
  const dir = paths.node(node.name, 'haproxy');
  const kdir = paths.node(node.name, 'keepalived');
  const { frontends } = haproxyRoutes(lab);
  return [
    {
      node: node.name,
      service: 'keepalived',
      program: `${node.name}-keepalived`,
      argv: [
        '/usr/sbin/keepalived', '-n', '-l', '-D', '-f', `${kdir}/keepalived.conf`,
        '-p', `${paths.run}/${node.name}-keepalived.pid`, '-r', `${paths.run}/${node.name}-vrrp.pid`, '-c', `${paths.run}/${node.name}-checkers.pid`,
      ],
      files: [{ path: `${kdir}/keepalived.conf`, content: renderKeepalived(lab, paths, node, secrets), mode: 0o600 }],
      dirs: [{ path: kdir }],
      health: lab.vips.map((v) => ({ kind: 'vip' as const, address: v.address })),
    },
    {
      node: node.name,
      service: 'haproxy',
      program: `${node.name}-haproxy`,
      argv: ['/usr/sbin/haproxy', '-W', '-db', '-f', `${dir}/haproxy.cfg`, '-p', `${paths.run}/${node.name}-haproxy.pid`],
      files: [{ path: `${dir}/haproxy.cfg`, content: renderHaproxy(lab, paths, node, secrets), mode: 0o600 }],
      dirs: [{ path: dir }],
      health: [
        ...(node.apiAddress && hasJob(lab, 'haproxy') ? [{ kind: 'tcp' as const, host: node.apiAddress, port: jobPort(lab, 'haproxy', 9101) }] : []),
        ...frontends.map((f) => ({ kind: 'tcp' as const, host: f.vip.address, port: f.port })),
      ],
      stopSignal: 'USR1',
    },
  ];
}

export const loadbalancer: Component = {
  name: 'loadbalancer',
  after: ['pki'],
  needed: (lab) => loadbalancerNodes(lab).length > 0,
  // socat: HAProxy's admin socket, for `lab up`'s readiness and the checks (ha.api-backends).
  packages: () => ['haproxy', 'keepalived', 'socat'],
  render: ({ lab, paths }: LabContext) =>
    loadbalancerNodes(lab).flatMap((n) => renderLoadbalancer(lab, paths, n, labSecrets(paths))),
  ready: backendsUp,
};
