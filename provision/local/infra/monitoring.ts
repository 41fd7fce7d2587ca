/** Prometheus with the spec's scrape jobs, the blackbox exporter probing every endpoint, a node exporter per node. */
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { activeTargets, prometheusOf } from '../../../helpers/prometheus/client.ts';
import { compareTargets, describeTarget } from '../../../helpers/prometheus/targets.ts';
import type { Component, Condition, Daemon, LabContext, RenderedFile } from '../component.ts';
import type { LabPaths } from '../paths.ts';
import { haproxyRoutes } from './loadbalancer.ts';
import { labSecrets, prometheusAuth, type Secrets } from './pki.ts';
import { dnsNodes, hasJob, jobPort, monitoringNodes, need } from './roles.ts';

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

function renderNodeExporter(lab: Lab, node: LabNode): Daemon {
  const port = jobPort(lab, 'node', 9100);
  return {
    node: node.name,
    service: 'node-exporter',
    program: `${node.name}-node-exporter`,
    argv: [
      '/usr/bin/prometheus-node-exporter', `--web.listen-address=${node.apiAddress}:${port}`,
      '--collector.textfile.directory=', '--no-collector.hwmon',
    ],
    user: 'prometheus',
    files: [],
    dirs: [],
    health: [{ kind: 'tcp', host: node.apiAddress!, port }],
  };
}

function targetsUp(lab: Lab): Condition {
  return {
    what: 'every expected Prometheus target scraped and up',
    probe: async () => {
      const active = await activeTargets(prometheusOf(lab), lab);
      const c = compareTargets(lab.expectedTargets, active);
      const bad = [
        ...c.missing.map((t) => `${describeTarget(t)} missing`),
        ...c.present.filter((p) => p.active.health !== 'up').map((p) => `${describeTarget(p.expected)} ${p.active.health}`),
      ];
      return bad.length ? bad.join('; ') : true;
    },
  };
}

export const nodeExporter: Component = {
  name: 'node-exporter',
  needed: (lab) => !!lab.spec.monitoring,
  packages: () => ['prometheus-node-exporter'],
  render: ({ lab }: LabContext) => lab.nodes.filter((n) => n.apiAddress).map((n) => renderNodeExporter(lab, n)),
};

export const prometheus: Component = {
  name: 'prometheus',
  after: ['pki'],
  needed: (lab) => !!lab.spec.monitoring && monitoringNodes(lab).length > 0,
  packages: () => ['prometheus', 'prometheus-blackbox-exporter'],
  render: ({ lab, paths }: LabContext) => monitoringNodes(lab).flatMap((n) => renderMonitoring(lab, paths, n, labSecrets(paths))),
  ready: ({ lab }) => (lab.spec.monitoring?.prometheus ? [targetsUp(lab)] : []),
  keeps: ({ lab, paths }) => monitoringNodes(lab).map((n) => paths.node(n.name, 'prometheus', 'data')),
};
