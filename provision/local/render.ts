/**
 * Pure rendering of the embedded lab from a lab spec: every daemon, its config files, its supervisor program and
 * how to tell it is healthy. Nothing here touches the machine, so the whole lab can be checked in a unit test.
 */
import { createHash } from 'node:crypto';
import { DEFAULTS, sshPort } from '../../helpers/lab/defaults.ts';
import type { Lab, LabNode, Vip } from '../../helpers/lab/model.ts';
import { netnsName, type LabPaths } from './paths.ts';
import { cephConf, cephDue } from './ceph.ts';
import { quote } from '../../helpers/node/quote.ts';

export interface RenderedFile {
  readonly path: string;
  readonly content: string;
  readonly mode?: number;
  /** Owner (a system user created by the Debian package) when the daemon must read or write it after dropping root. */
  readonly owner?: string;
}

export type Health =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'vip'; readonly address: string };

export interface Daemon {
  readonly node: string;
  /** Short service name, e.g. bind, haproxy, node-exporter. */
  readonly service: string;
  /** Supervisor program name: <node>-<service>. */
  readonly program: string;
  /** The command inside the node's namespace (argv). */
  readonly argv: readonly string[];
  /** Unprivileged user the daemon runs as (via setpriv), when it does not drop privileges itself. */
  readonly user?: string;
  readonly files: readonly RenderedFile[];
  /** Directories the daemon writes, created before start (owned by `owner`). */
  readonly dirs: readonly { path: string; owner?: string; mode?: number }[];
  readonly health: readonly Health[];
  readonly stopSignal?: 'TERM' | 'INT' | 'QUIT' | 'USR1';
  /** Not autostarted by supervisor: the provider starts it after its one-time steps (the OpenStack part). */
  readonly manual?: boolean;
  /**
   * `host`: enter only the node's network namespace and keep the host's mount namespace (`ip netns exec` makes a
   * private one), so network namespaces the daemon creates (`ip netns add`) are visible to every later command.
   */
  readonly mounts?: 'host';
}

export interface Secrets {
  /** keepalived's VRRP auth_pass (at most 8 characters). */
  readonly vrrpPass: string;
  /** Prometheus' basic-auth password (Kolla: prometheus_password) and its bcrypt hash for --web.config.file. */
  readonly prometheus?: { readonly password: string; readonly bcrypt: string };
}

/** Prometheus' basic auth when the spec asks for it: user, password and bcrypt hash from the lab secrets. */
export function prometheusAuth(lab: Lab, secrets: Secrets): { user: string; password: string; bcrypt: string } | undefined {
  const user = lab.spec.monitoring?.prometheus.basicAuthUser;
  if (!user) return undefined;
  if (!secrets.prometheus) throw new Error(`lab ${lab.name}: monitoring.prometheus.basicAuthUser is ${user}, but the lab secrets hold no Prometheus password`);
  return { user, ...secrets.prometheus };
}

export interface RenderedLab {
  readonly daemons: readonly Daemon[];
  readonly supervisorConf: string;
  /** resolv.conf for every namespace (`ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf). */
  readonly resolvConf: string | undefined;
  /** /etc/hosts for every namespace: localhost and every node, as Kolla writes it on the real nodes. */
  readonly hosts: string;
}

const TLS_MIN: Record<string, string> = { TLSv1: 'TLSv1.0', 'TLSv1.1': 'TLSv1.1', 'TLSv1.2': 'TLSv1.2', 'TLSv1.3': 'TLSv1.3' };

/** HAProxy's ssl-min-ver keyword for the spec's tls.minVersion. */
export function haproxyMinVer(minVersion: string): string {
  const v = TLS_MIN[minVersion];
  if (!v) throw new Error(`unknown TLS version ${minVersion}`);
  return v;
}

const hash32 = (text: string) => Number.parseInt(createHash('sha256').update(text).digest('hex').slice(0, 7), 16);

export function jobPort(lab: Lab, job: string, fallback: number): number {
  return lab.spec.monitoring?.jobs.find((j) => j.job === job)?.port ?? fallback;
}

function hasJob(lab: Lab, job: string): boolean {
  return lab.spec.monitoring?.jobs.some((j) => j.job === job) ?? false;
}

function nodeAddresses(node: LabNode): string[] {
  return node.nics.filter((n) => n.use === 'address' && n.address).map((n) => n.address!);
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(what);
  return value;
}

export function dnsNodes(lab: Lab): LabNode[] {
  const names = new Set([...(lab.spec.dns?.servers ?? []).map((s) => s.node), ...lab.nodesWithRole('dns').map((n) => n.name)]);
  return lab.spec.dns ? lab.nodes.filter((n) => names.has(n.name)) : [];
}

export function monitoringNodes(lab: Lab): LabNode[] {
  const pinned = lab.spec.monitoring?.prometheus.node;
  if (!lab.spec.monitoring) return [];
  return pinned ? [lab.node(pinned)] : lab.nodesWithRole('monitoring');
}

export function loadbalancerNodes(lab: Lab): LabNode[] {
  return lab.vips.length > 0 ? lab.nodesWithRole('loadbalancer') : [];
}

/** Which VIPs terminate TLS: the public endpoint VIP when tls.external, the internal one when tls.internal. */
export function vipTls(lab: Lab, vip: Vip): boolean {
  const ep = lab.spec.endpoints ?? {};
  return (ep.public === vip.name && lab.tls.external) || ((ep.internal === vip.name || ep.admin === vip.name) && lab.tls.internal);
}

/** The certificate file of a VIP, named as `kolla-ansible certificates` names them. */
export function vipCertFile(lab: Lab, paths: LabPaths, vip: Vip): string {
  const ep = lab.spec.endpoints ?? {};
  const base = ep.public === vip.name ? 'haproxy.pem' : ep.internal === vip.name ? 'haproxy-internal.pem' : `haproxy-${vip.name}.pem`;
  return `${paths.certificates}/${base}`;
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

// ---------------------------------------------------------------- BIND

export function renderZones(lab: Lab, server: LabNode): { zone: string; file: string; content: string }[] {
  const dns = need(lab.spec.dns, 'no dns in spec');
  const domain = dns.domain;
  const ns = `${server.hostname}.${domain}.`;
  const head = (body: string) => {
    const serial = (hash32(body) % 2_000_000_000) + 1;
    return `$TTL 300\n@ IN SOA ${ns} hostmaster.${domain}. ( ${serial} 3600 600 86400 300 )\n@ IN NS ${ns}\n${body}`;
  };
  const forward = lab.dnsRecords
    .filter((r) => r.name === domain || r.name.endsWith(`.${domain}`))
    .map((r) => `${r.name === domain ? '@' : r.name.slice(0, -domain.length - 1)} IN A ${r.address} ; ${r.what}`)
    .join('\n');
  const out = [{ zone: domain, file: `db.${domain}`, content: head(`${forward}\n`) }];
  const byZone = new Map<string, string[]>();
  for (const p of lab.ptrRecords) {
    const rel = p.ptr.slice(0, -p.zone.length - 1);
    byZone.set(p.zone, [...(byZone.get(p.zone) ?? []), `${rel} IN PTR ${p.name}. ; ${p.what}`]);
  }
  for (const [zone, lines] of byZone) out.push({ zone, file: `db.${zone}`, content: head(`${lines.join('\n')}\n`) });
  return out;
}

function renderBind(lab: Lab, paths: LabPaths, node: LabNode): Daemon[] {
  const dir = paths.node(node.name, 'bind');
  const zones = renderZones(lab, node);
  const recursion = (lab.spec.dns?.recursion ?? []).map((n) => lab.network(n).cidr.text);
  const statsPort = 8053;
  const conf = `// Rendered by stackgate (local provider) for ${lab.name}/${node.name}; do not edit.
acl lab_recursion { ${recursion.map((c) => `${c}; `).join('')}};
options {
  directory "${dir}/cache";
  pid-file "${dir}/cache/named.pid";
  session-keyfile "${dir}/cache/session.key";
  managed-keys-directory "${dir}/cache";
  listen-on port 53 { ${[...nodeAddresses(node), '127.0.0.1'].map((a) => `${a}; `).join('')}};
  listen-on-v6 { none; };
  allow-query { any; };
  recursion ${recursion.length > 0 ? 'yes' : 'no'};
  allow-recursion { lab_recursion; };
  allow-query-cache { lab_recursion; };
  dnssec-validation no;
  notify no;
  version none;
};
controls { };
statistics-channels { inet 127.0.0.1 port ${statsPort} allow { 127.0.0.1; }; };
logging { channel stderr_log { stderr; severity info; print-time yes; }; category default { stderr_log; }; category lame-servers { null; }; };
${zones.map((z) => `zone "${z.zone}" { type primary; file "${dir}/zones/${z.file}"; };`).join('\n')}
`;
  const addr = need(node.apiAddress ?? nodeAddresses(node)[0], `DNS node ${node.name} has no address`);
  const daemons: Daemon[] = [
    {
      node: node.name,
      service: 'bind',
      program: `${node.name}-bind`,
      argv: ['/usr/sbin/named', '-f', '-u', 'bind', '-c', `${dir}/named.conf`],
      files: [
        { path: `${dir}/named.conf`, content: conf, owner: 'bind' },
        ...zones.map((z) => ({ path: `${dir}/zones/${z.file}`, content: z.content, owner: 'bind' })),
      ],
      dirs: [
        { path: dir, owner: 'bind' },
        { path: `${dir}/zones`, owner: 'bind' },
        { path: `${dir}/cache`, owner: 'bind' },
      ],
      health: [{ kind: 'tcp', host: addr, port: 53 }],
    },
  ];
  if (hasJob(lab, 'bind') && node.apiAddress) {
    const port = jobPort(lab, 'bind', 9119);
    daemons.push({
      node: node.name,
      service: 'bind-exporter',
      program: `${node.name}-bind-exporter`,
      argv: ['/usr/bin/prometheus-bind-exporter', `--bind.stats-url=http://127.0.0.1:${statsPort}/`, `--web.listen-address=${node.apiAddress}:${port}`],
      user: 'prometheus',
      files: [],
      dirs: [],
      health: [{ kind: 'tcp', host: node.apiAddress, port }],
    });
  }
  return daemons;
}

// ---------------------------------------------------------------- HAProxy + keepalived

export interface Frontend {
  readonly name: string;
  readonly vip: Vip;
  readonly port: number;
  readonly tls: boolean;
  readonly backend: string;
}

export interface Backend {
  readonly name: string;
  readonly servers: readonly { name: string; address: string; port: number }[];
  readonly check?: string;
  /** The health check authenticates (HTTP basic) as this service's user: Prometheus behind basic auth. */
  readonly checkAuth?: 'prometheus';
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
  return { frontends, backends };
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
    `  stats socket ${paths.run}/${node.name}-haproxy.sock mode 600 level admin`,
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
    lines.push(`frontend ${f.name}`, `  bind ${f.vip.address}:${f.port}${ssl}`, `  http-request set-header X-Forwarded-Proto ${f.tls ? 'https' : 'http'}`, `  default_backend ${f.backend}`, '');
  }
  for (const b of backends) {
    lines.push(`backend ${b.name}`);
    if (b.check) lines.push(`  option httpchk GET ${b.check}`);
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

export function renderKeepalived(lab: Lab, paths: LabPaths, node: LabNode, secrets: Secrets): string {
  const lbs = loadbalancerNodes(lab);
  const vips = lab.vips;
  const first = need(vips[0], 'no VIPs');
  const vrid = vips.find((v) => lab.spec.vips?.[v.name]?.vrid)?.name;
  const routerId = vrid ? lab.spec.vips![vrid]!.vrid! : 51;
  const priority = 100 - lbs.findIndex((n) => n.name === node.name);
  return `# Rendered by stackgate (local provider) for ${lab.name}/${node.name}; do not edit.
global_defs {
  router_id ${lab.name}-${node.name}
  script_user root
  enable_script_security
}

vrrp_instance ${lab.name}_vip_${routerId} {
  state BACKUP
  nopreempt
  interface ${vipNic(node, first)}
  virtual_router_id ${routerId}
  priority ${priority}
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass ${secrets.vrrpPass}
  }
  virtual_ipaddress {
${vips.map((v) => `    ${v.address}/${lab.network(v.network).cidr.prefix} dev ${vipNic(node, v)}`).join('\n')}
  }
}
`;
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

// ---------------------------------------------------------------- sshd

export function renderSshd(paths: LabPaths, node: LabNode, env: Readonly<Record<string, string>> = {}, port: number = DEFAULTS.sshPort): string {
  // sshd takes the first SetEnv line only: every variable goes on that one line.
  // SHLVL=1: the nodes share the host's accounts, and bash sources ~/.bashrc for a command sent over SSH only in a
  // top-level shell. The host's rc files are not the node's, and can cost half a second per command (pyenv init).
  const setEnv = Object.entries({ SHLVL: '1', OVS_RUNDIR: `${paths.run}/${node.name}-ovs`, OVN_RUNDIR: `${paths.run}/${node.name}-ovs`, ...env }).map(([k, v]) => `${k}=${v}`).join(' ');
  const listen = [...new Set([node.managementAddress, node.apiAddress].filter((a): a is string => !!a))];
  return `# Rendered by stackgate (local provider) for ${node.name}; do not edit.
${listen.map((a) => `ListenAddress ${a}:${port}`).join('\n')}
HostKey ${paths.hostKey(node.name)}
PidFile ${paths.run}/${node.name}-sshd.pid
AuthorizedKeysFile ${paths.authorizedKeys}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The lab key lives in the repository's state directory, whose owner need not be root.
StrictModes no
PrintMotd no
AcceptEnv LANG LC_*
# All nodes share one filesystem: point OVS/OVN clients in a node's sessions at that node's own daemons (and the
# ceph CLI at the lab's ceph.conf when the lab runs Ceph).
SetEnv ${setEnv}
Subsystem sftp /usr/lib/openssh/sftp-server
`;
}

// ---------------------------------------------------------------- Prometheus + exporters

export interface Probe {
  readonly module: string;
  readonly target: string;
}

/** What the blackbox exporter probes: every TLS endpoint on the VIPs, Prometheus through its VIP, each DNS server. */
export function blackboxProbes(lab: Lab): Probe[] {
  const out: Probe[] = [];
  const { frontends } = haproxyRoutes(lab);
  for (const f of frontends) {
    if (f.backend === 'prometheus_server_back') out.push({ module: f.tls ? 'http_2xx_lab' : 'http_2xx', target: `${f.tls ? 'https' : 'http'}://${f.vip.host}:${f.port}/-/ready` });
    else out.push({ module: f.tls ? 'tls_connect' : 'tcp_connect', target: `${f.vip.host}:${f.port}` });
  }
  for (const n of dnsNodes(lab)) if (n.apiAddress) out.push({ module: 'dns_lab', target: `${n.apiAddress}:53` });
  return out;
}

export function renderBlackbox(lab: Lab, paths: LabPaths): string {
  const domain = lab.spec.dns?.domain;
  // The http modules probe Prometheus only (blackboxProbes): they log in as its basic-auth user when it has one.
  const user = lab.spec.monitoring?.prometheus.basicAuthUser;
  const auth = user ? `\n      basic_auth: { username: ${user}, password_file: ${promPasswordFile(lab, paths)} }` : '';
  const server = dnsNodes(lab)[0];
  const query = server && domain ? `${server.hostname}.${domain}` : 'localhost';
  return `# Rendered by stackgate (local provider) for ${lab.name}; do not edit.
modules:
  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp: { preferred_ip_protocol: ip4 }
  tls_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config: { ca_file: ${paths.caCert} }
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4${auth}
  http_2xx_lab:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      fail_if_not_ssl: true
      tls_config: { ca_file: ${paths.caCert} }${auth}
  dns_lab:
    prober: dns
    timeout: 5s
    dns:
      preferred_ip_protocol: ip4
      transport_protocol: udp
      query_name: ${query}
      query_type: A
      valid_rcodes: [NOERROR]
      validate_answer_rrs: { fail_if_none_matches_regexp: ['.*\\sIN\\s+A\\s.*'] }
`;
}

/** Prometheus scrape config: every target the spec expects now, labelled with the spec's job names, plus probes. */
export function renderPrometheus(lab: Lab, paths?: LabPaths): string {
  const mon = need(lab.spec.monitoring, 'no monitoring in spec');
  const interval = `${mon.prometheus.scrapeIntervalSeconds ?? 60}s`;
  const jobs = new Map<string, string[]>();
  for (const t of lab.expectedTargets) {
    if (t.notExpected) continue;
    jobs.set(t.job, [...(jobs.get(t.job) ?? []), t.instance]);
  }
  const lines = [
    `# Rendered by stackgate (local provider) for ${lab.name}; do not edit.`,
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    '  scrape_timeout: 10s',
    'scrape_configs:',
  ];
  const user = mon.prometheus.basicAuthUser;
  for (const [job, targets] of jobs) {
    lines.push(`  - job_name: ${job}`);
    // Prometheus scrapes itself through its own basic auth (Kolla's prometheus job does the same).
    if (user && job === 'prometheus') lines.push(`    basic_auth: { username: ${user}, password_file: ${promPasswordFile(lab, need(paths, 'the lab paths'))} }`);
    lines.push('    static_configs:', `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`);
  }
  const exporter = monitoringNodes(lab)[0];
  const probes = blackboxProbes(lab);
  if (exporter?.apiAddress && probes.length > 0 && hasJob(lab, 'blackbox_exporter')) {
    const at = `${exporter.apiAddress}:${jobPort(lab, 'blackbox_exporter', 9115)}`;
    const modules = [...new Set(probes.map((p) => p.module))];
    for (const m of modules) {
      lines.push(
        `  - job_name: blackbox_${m}`,
        '    metrics_path: /probe',
        `    params: { module: [${m}] }`,
        '    static_configs:',
        `      - targets: [${probes.filter((p) => p.module === m).map((p) => `'${p.target}'`).join(', ')}]`,
        '    relabel_configs:',
        '      - { source_labels: [__address__], target_label: __param_target }',
        '      - { source_labels: [__param_target], target_label: instance }',
        `      - { target_label: __address__, replacement: '${at}' }`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The file Prometheus and the blackbox exporter read Prometheus' basic-auth password from (0600, user prometheus). */
export function promPasswordFile(lab: Lab, paths: LabPaths): string {
  const node = need(monitoringNodes(lab)[0], `lab ${lab.name} has no monitoring node`);
  return paths.node(node.name, 'prometheus', 'password');
}

/** Prometheus' --web.config.file: basic auth for every HTTP endpoint, as Kolla configures it. */
export function renderPrometheusWeb(user: string, bcrypt: string): string {
  return `# Rendered by stackgate (local provider); do not edit.\nbasic_auth_users:\n  ${user}: '${bcrypt}'\n`;
}

function renderMonitoring(lab: Lab, paths: LabPaths, node: LabNode, secrets: Secrets): Daemon[] {
  const mon = lab.spec.monitoring;
  if (!mon || !node.apiAddress) return [];
  const dir = paths.node(node.name, 'prometheus');
  const auth = prometheusAuth(lab, secrets);
  const secret = (path: string, content: string): RenderedFile => ({ path, content, mode: 0o600, owner: 'prometheus' });
  const out: Daemon[] = [
    {
      node: node.name,
      service: 'prometheus',
      program: `${node.name}-prometheus`,
      argv: [
        '/usr/bin/prometheus',
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        '--storage.tsdb.retention.time=2d',
        `--web.listen-address=${node.apiAddress}:${mon.prometheus.port}`,
        '--web.enable-lifecycle',
        ...(auth ? [`--web.config.file=${dir}/web.yml`] : []),
      ],
      user: 'prometheus',
      files: [
        { path: `${dir}/prometheus.yml`, content: renderPrometheus(lab, paths) },
        ...(auth ? [secret(`${dir}/web.yml`, renderPrometheusWeb(auth.user, auth.bcrypt)), secret(promPasswordFile(lab, paths), auth.password)] : []),
      ],
      dirs: [{ path: dir }, { path: `${dir}/data`, owner: 'prometheus' }],
      health: [{ kind: 'tcp', host: node.apiAddress, port: mon.prometheus.port }],
    },
  ];
  if (hasJob(lab, 'blackbox_exporter')) {
    const bdir = paths.node(node.name, 'blackbox');
    const port = jobPort(lab, 'blackbox_exporter', 9115);
    out.push({
      node: node.name,
      service: 'blackbox-exporter',
      program: `${node.name}-blackbox-exporter`,
      argv: ['/usr/bin/prometheus-blackbox-exporter', `--config.file=${bdir}/blackbox.yml`, `--web.listen-address=${node.apiAddress}:${port}`],
      user: 'prometheus',
      files: [{ path: `${bdir}/blackbox.yml`, content: renderBlackbox(lab, paths) }],
      dirs: [{ path: bdir }],
      health: [{ kind: 'tcp', host: node.apiAddress, port }],
    });
  }
  return out;
}

// ---------------------------------------------------------------- the whole lab

/** Every daemon of the lab, node by node, in start order. */
export function renderDaemons(lab: Lab, paths: LabPaths, secrets: Secrets): Daemon[] {
  const out: Daemon[] = [];
  const dns = new Set(dnsNodes(lab).map((n) => n.name));
  const lbs = new Set(loadbalancerNodes(lab).map((n) => n.name));
  const mons = new Set(monitoringNodes(lab).map((n) => n.name));
  for (const node of lab.nodes) {
    if (node.managementAddress || node.apiAddress) {
      out.push({
        node: node.name,
        service: 'sshd',
        program: `${node.name}-sshd`,
        argv: ['/usr/sbin/sshd', '-D', '-e', '-f', paths.node(node.name, 'sshd', 'sshd_config')],
        files: [{ path: paths.node(node.name, 'sshd', 'sshd_config'), content: renderSshd(paths, node, cephDue(lab) ? { CEPH_CONF: cephConf(paths) } : {}, sshPort(lab)) }],
        dirs: [{ path: paths.node(node.name, 'sshd') }],
        health: [{ kind: 'tcp', host: (node.managementAddress ?? node.apiAddress)!, port: sshPort(lab) }],
      });
    }
    if (node.apiAddress && lab.spec.monitoring) {
      const port = jobPort(lab, 'node', 9100);
      out.push({
        node: node.name,
        service: 'node-exporter',
        program: `${node.name}-node-exporter`,
        argv: ['/usr/bin/prometheus-node-exporter', `--web.listen-address=${node.apiAddress}:${port}`, '--collector.textfile.directory=', '--no-collector.hwmon'],
        user: 'prometheus',
        files: [],
        dirs: [],
        health: [{ kind: 'tcp', host: node.apiAddress, port }],
      });
    }
    if (dns.has(node.name)) out.push(...renderBind(lab, paths, node));
    if (lbs.has(node.name)) out.push(...renderLoadbalancer(lab, paths, node, secrets));
    if (mons.has(node.name)) out.push(...renderMonitoring(lab, paths, node, secrets));
  }
  return out;
}

/** The argv supervisor runs: inside the node's namespace, with the node's hostname, as the daemon's user. */
export function supervisedArgv(lab: Lab, d: Daemon): string[] {
  const node = lab.node(d.node);
  const drop = d.user ? ['/usr/bin/setpriv', `--reuid=${d.user}`, `--regid=${d.user}`, '--init-groups', '--'] : [];
  const enter = d.mounts === 'host' ? ['/usr/bin/nsenter', `--net=/run/netns/${netnsName(lab, node)}`, '--'] : ['/usr/bin/ip', 'netns', 'exec', netnsName(lab, node)];
  return [...enter, '/usr/bin/unshare', '--uts', '--', '/bin/sh', '-c', `hostname ${quote(node.hostname)} && exec "$@"`, d.program, ...drop, ...d.argv];
}

export function renderSupervisor(lab: Lab, paths: LabPaths, daemons: readonly Daemon[]): string {
  const head = `; Rendered by stackgate (local provider) for ${lab.name}; do not edit.
[unix_http_server]
file=${paths.supervisorSock}
chmod=0700

[supervisord]
logfile=${paths.supervisor}/supervisord.log
logfile_maxbytes=5MB
logfile_backups=2
pidfile=${paths.supervisorPid}
childlogdir=${paths.logs}
identifier=stackgate-${lab.name}
nodaemon=false
minfds=4096

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://${paths.supervisorSock}
`;
  const programs = daemons.map(
    (d) => `
[program:${d.program}]
command=${supervisedArgv(lab, d).map(quote).join(' ').replace(/%/g, '%%')}
autostart=${d.manual ? 'false' : 'true'}
autorestart=true
startsecs=2
startretries=5
stopsignal=${d.stopSignal ?? 'TERM'}
stopwaitsecs=15
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=${paths.log(d.node, d.service)}
stdout_logfile_maxbytes=5MB
stdout_logfile_backups=2
`,
  );
  return head + programs.join('');
}

export function renderResolvConf(lab: Lab): string | undefined {
  const dns = lab.spec.dns;
  if (!dns) return undefined;
  const servers = dnsNodes(lab).map((n) => n.apiAddress ?? nodeAddresses(n)[0]).filter((a): a is string => !!a);
  if (servers.length === 0) return undefined;
  return `# stackgate ${lab.name}: the lab's own DNS\n${servers.map((s) => `nameserver ${s}`).join('\n')}\nsearch ${dns.domain}\n`;
}

export function renderLab(lab: Lab, paths: LabPaths, secrets: Secrets): RenderedLab {
  const daemons = renderDaemons(lab, paths, secrets);
  return { daemons, supervisorConf: renderSupervisor(lab, paths, daemons), resolvConf: renderResolvConf(lab), hosts: renderHosts(lab) };
}

export function renderHosts(lab: Lab): string {
  const domain = lab.spec.dns?.domain;
  const lines = ['127.0.0.1 localhost', `# stackgate ${lab.name}: the lab's nodes`];
  for (const n of lab.nodes) {
    const addr = n.apiAddress ?? n.managementAddress;
    if (addr) lines.push(`${addr} ${domain ? `${n.hostname}.${domain} ` : ''}${n.hostname}`);
  }
  return `${lines.join('\n')}\n`;
}

/** known_hosts lines for every node: its addresses and FQDN with its host key. */
export function renderKnownHosts(lab: Lab, hostKeys: Record<string, string>): string {
  const domain = lab.spec.dns?.domain;
  return lab.nodes
    .filter((n) => hostKeys[n.name])
    .map((n) => {
      // ssh looks a host up as [name]:port when the port is not 22.
      const port = sshPort(lab);
      const names = [n.hostname, ...(domain ? [`${n.hostname}.${domain}`] : []), ...nodeAddresses(n)].map((h) => (port === 22 ? h : `[${h}]:${port}`));
      return `${names.join(',')} ${hostKeys[n.name]!.trim().split(/\s+/).slice(0, 2).join(' ')}`;
    })
    .join('\n') + '\n';
}

