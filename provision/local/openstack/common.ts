/**
 * What the OpenStack components share: whether the spec has a cloud, its secrets, where services run, and the
 * config fragments every service repeats (database and transport URLs, Keystone auth, the uwsgi daemon).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { addSecret } from '../../../helpers/gate/redact.ts';
import { MEMCACHED_PORT } from '../../../helpers/ha/memcached.ts';
import { novaPool } from '../../../helpers/lab/defaults.ts';
import type { Lab, LabNode, Vip } from '../../../helpers/lab/model.ts';
import { Api, passwordAuth, viaVip } from '../api.ts';
import { cephDue, cephSpec } from '../ceph/common.ts';
import { daemon, type Daemon, type LabContext, type UpContext } from '../component.ts';
import { head, writeIfChanged, type IniValue } from '../config.ts';
import type { LabPaths } from '../paths.ts';

/**
 * Whether the lab has an OpenStack part: the spec decides (a packages deployer with Keystone among its services).
 * A lab without a cloud is a spec of its own (the bundled `embedded-infra`), not a switch on the default lab.
 */
export function openstackEnabled(lab: Lab): boolean {
  return lab.deployer.kind === 'packages' && !!lab.spec.services?.keystone;
}

/** Needed when the lab has a cloud and the spec lists the service. */
export const hasService = (lab: Lab, service: string) => openstackEnabled(lab) && !!lab.spec.services?.[service];

export const OPENSTACK_PRESEEDS: readonly string[] = [
  ...['keystone', 'glance', 'glance-common', 'glance-api', 'placement', 'placement-common', 'placement-api', 'nova', 'nova-common', 'nova-api', 'neutron', 'neutron-common', 'neutron-server', 'novaapi', 'cinder', 'cinder-common', 'cinder-api', 'cinder-volume', 'cinder-backup'].flatMap(
    (pkg) => ['configure_db', 'configure_rabbit', 'configure_ksat', 'configure_api-endpoint', 'dbconfig-install'].map((q) => `${pkg} ${pkg}/${q} boolean false`),
  ),
  'keystone keystone/create-admin-tenant boolean false',
  'keystone keystone/register-endpoint boolean false',
  'nova-common nova/configure_neutron boolean false',
  'nova-common nova/configure_placement boolean false',
  'neutron-common neutron/configure_nova boolean false',
];

export const SERVICE_USERS = ['glance', 'placement', 'nova', 'neutron', 'cinder', 'octavia'] as const;

export interface OpenstackSecrets {
  readonly adminPassword: string;
  readonly rabbitPassword: string;
  readonly db: Readonly<Record<string, string>>;
  readonly service: Readonly<Record<string, string>>;
  readonly metadataSecret: string;
  /** The libvirt secret (on compute nodes) that holds the Cinder Ceph client's key: cinder.conf and nova.conf name it. */
  readonly rbdSecretUuid: string;
}

const pw = () => randomBytes(18).toString('base64url');

export const secretsFile = (paths: LabPaths) => join(paths.root, 'openstack', 'passwords.json');

/** Generated once, kept 0600 in the state dir (git-ignored), completed when a newer version needs more. */
export function ensureOpenstackSecrets(paths: LabPaths): OpenstackSecrets {
  const file = secretsFile(paths);
  const old = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<OpenstackSecrets>) : {};
  const s: OpenstackSecrets = {
    adminPassword: old.adminPassword ?? pw(),
    rabbitPassword: old.rabbitPassword ?? pw(),
    db: Object.fromEntries(['keystone', 'glance', 'placement', 'nova', 'neutron', 'cinder', 'octavia', 'exporter'].map((k) => [k, old.db?.[k] ?? pw()])),
    service: Object.fromEntries(SERVICE_USERS.map((k) => [k, old.service?.[k] ?? pw()])),
    metadataSecret: old.metadataSecret ?? pw(),
    rbdSecretUuid: old.rbdSecretUuid ?? randomUUID(),
  };
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeIfChanged(file, `${JSON.stringify(s, null, 2)}\n`, 0o600);
  for (const v of [s.adminPassword, s.rabbitPassword, s.metadataSecret, ...Object.values(s.db), ...Object.values(s.service)]) addSecret(v);
  return s;
}

/** The secrets the keys hook made; rendering before they exist is a bug of the caller. */
export function openstackSecrets(paths: LabPaths): OpenstackSecrets {
  if (!existsSync(secretsFile(paths))) throw new Error(`no OpenStack secrets in ${secretsFile(paths)}: the keys were not made`);
  return ensureOpenstackSecrets(paths);
}

// ---------------------------------------------------------------- placement of services on nodes

function first(lab: Lab, role: Parameters<Lab['nodesWithRole']>[0], what: string): LabNode {
  const n = lab.nodesWithRole(role).find((x) => x.apiAddress);
  if (!n) throw new Error(`lab ${lab.name}: no node with role ${role} and an API address for ${what}`);
  return n;
}

export interface OpenstackLayout {
  /** The first control node: where one-time steps (db sync, bootstrap) run. */
  readonly control: LabNode;
  /**
   * Every control node with an API address: the per-controller services (Keystone, Placement, memcached) run
   * on each.
   */
  readonly controls: readonly LabNode[];
  readonly database: LabNode;
  readonly messaging: LabNode;
  /** Where the OVN NB/SB databases and northd run (Kolla: the control nodes). */
  readonly ovnCentral: LabNode;
  readonly network: readonly LabNode[];
  readonly compute: readonly LabNode[];
  /** Nodes that run OVS + ovn-controller: network and compute nodes. */
  readonly chassis: readonly LabNode[];
}

export function layout(lab: Lab): OpenstackLayout {
  const control = first(lab, 'control', 'the OpenStack APIs');
  const database = lab.nodesWithRole('database').find((n) => n.apiAddress) ?? control;
  const messaging = lab.nodesWithRole('messaging').find((n) => n.apiAddress) ?? control;
  const network = lab.nodesWithRole('network').filter((n) => n.apiAddress);
  const compute = lab.novaComputeNodes.filter((n) => n.apiAddress);
  const chassis = lab.nodes.filter((n) => network.includes(n) || compute.includes(n));
  const controls = lab.nodesWithRole('control').filter((n) => n.apiAddress);
  return { control, controls, database, messaging, ovnCentral: control, network, compute, chassis };
}

/** The address Geneve tunnels leave from: the node's address on the tunnel network, else its API address. */
export function tunnelAddress(lab: Lab, node: LabNode): string {
  const net = lab.networkFor('tunnel');
  return (net && node.addresses[net.name]) ?? node.apiAddress!;
}

export function serviceUrl(lab: Lab, service: string, iface: 'public' | 'internal'): string {
  const c = lab.expectedCatalog.find((x) => x.service === service && x.interface === iface);
  if (!c) throw new Error(`lab ${lab.name}: service ${service} has no ${iface} endpoint`);
  return `${c.scheme}://${c.host}:${c.port}`;
}

/** Which spec services the OpenStack part deploys now (Cinder: API and scheduler; no volume backend yet). */
export function deployedServices(lab: Lab): string[] {
  return ['keystone', 'glance', 'placement', 'nova', 'neutron', 'cinder'].filter((s) => lab.spec.services?.[s]);
}

export function servicePort(lab: Lab, service: string): number {
  const s = lab.spec.services?.[service];
  if (!s) throw new Error(`lab ${lab.name}: no service ${service} in spec.services`);
  return s.port;
}

/** nova.conf's compute driver family: compute.virtType fake → Nova's fake driver; kvm/qemu (or nothing) → libvirt. */
export const novaDriver = (lab: Lab): 'fake' | 'libvirt' => (lab.spec.compute?.virtType === 'fake' ? 'fake' : 'libvirt');

/** Whether guests run: Nova with the libvirt driver, so libvirt, the metadata path and the guest image belong. */
export const guestsRun = (lab: Lab) => hasService(lab, 'nova') && novaDriver(lab) === 'libvirt';

export const NOVA_METADATA_PORT = 8775;

/**
 * Where several control nodes share HAProxy, Nova's metadata API runs on each and the compute nodes' metadata agents
 * reach it through the internal endpoint's VIP, as Kolla's nova_metadata_back: a lost controller takes no guest's
 * metadata. That VIP and whether it speaks TLS; undefined where the control node serves it itself.
 */
export function metadataViaVip(lab: Lab): { vip: Vip; tls: boolean } | undefined {
  if (!guestsRun(lab) || !hasService(lab, 'neutron') || lab.novaComputeNodes.length === 0) return undefined;
  const internal = lab.expectedCatalog.find((e) => e.interface === 'internal');
  const controls = lab.nodesWithRole('control').filter((n) => n.apiAddress);
  const shared = lab.nodesWithRole('loadbalancer').length > 0 && controls.length > 1;
  return shared && internal ? { vip: lab.vip(internal.vip), tls: internal.scheme === 'https' } : undefined;
}

/** A consumer's Ceph client, pool and user when Ceph is due and the spec names the consumer and its client. */
export function cephConsumer(lab: Lab, consumer: 'glance' | 'cinder' | 'nova' | 'cinder-backup'): { client: string; user: string; pool: string } | undefined {
  if (!cephDue(lab)) return undefined;
  const ceph = cephSpec(lab);
  if (!(ceph.consumers ?? []).includes(consumer)) return undefined;
  const backend = consumer === 'cinder' || consumer === 'nova' ? lab.cinderBackends.find((b) => b.driver === 'ceph') : undefined;
  // Kolla: Nova keeps instance disks in its pool (ceph_nova_pool_name, storage.ceph.novaPool) as the Cinder user (ceph_nova_user).
  const user = backend?.user ?? (consumer === 'nova' ? 'cinder' : consumer);
  const pools = ceph.clients?.[`client.${user}`];
  const pool = consumer === 'nova' ? pools?.find((p) => p === novaPool(lab)) : (backend?.pool ?? pools?.[0]);
  return pools && pool ? { client: `client.${user}`, user, pool } : undefined;
}

/** The Ceph client guests' RBD volumes are opened with (Kolla: the Cinder user), when guests run and Ceph is due. */
export const rbdClient = (lab: Lab) => (guestsRun(lab) ? cephConsumer(lab, 'cinder') : undefined);

/** Nova's instance disks in Ceph when the spec makes Nova a Ceph consumer (pool and user as Kolla's). */
export const novaRbd = (lab: Lab) => (guestsRun(lab) ? cephConsumer(lab, 'nova') : undefined);

// ---------------------------------------------------------------- config fragments

/** The CA copy services can read (the certificates dir itself is 0700). */
export const caForServices = (paths: LabPaths) => join(paths.root, 'openstack', 'ca.crt');

/** What an OpenStack component renders from. */
export interface OpenstackContext {
  readonly lab: Lab;
  readonly paths: LabPaths;
  readonly secrets: OpenstackSecrets;
  readonly layout: OpenstackLayout;
}

export const openstackContext = ({ lab, paths }: LabContext): OpenstackContext =>
  ({ lab, paths, secrets: openstackSecrets(paths), layout: layout(lab) });

/** The spec's PostgreSQL when it holds the OpenStack databases (postgresql.openstack), reached through its VIP. */
export function openstackPg(lab: Lab): { host: string; port: number } | undefined {
  const pg = lab.spec.postgresql;
  if (!pg?.openstack || !pg.vip) return undefined;
  return { host: lab.vip(pg.vip).address, port: pg.port ?? 5432 };
}

export function dbUrl(c: OpenstackContext, user: string, db: string): string {
  const pg = openstackPg(c.lab);
  if (pg) return `postgresql+psycopg2://${user}:${c.secrets.db[user]}@${pg.host}:${pg.port}/${db}`;
  return `mysql+pymysql://${user}:${c.secrets.db[user]}@${c.layout.database.apiAddress}:3306/${db}?charset=utf8`;
}
/** Every member of the spec's RabbitMQ cluster where it has one (oslo.messaging fails over), else the messaging node. */
export function transportUrl(c: OpenstackContext): string {
  const r = c.lab.spec.rabbitmq;
  const hosts = r ? r.nodes.map((n) => `${c.lab.node(n).apiAddress}:${r.port ?? 5672}`) : [`${c.layout.messaging.apiAddress}:5672`];
  return `rabbit://${hosts.map((h) => `openstack:${c.secrets.rabbitPassword}@${h}`).join(',')}/`;
}
export const memcachedServers = (c: OpenstackContext) =>
  c.layout.controls.map((n) => `${n.apiAddress}:${MEMCACHED_PORT}`).join(',');

/** The SQLAlchemy driver of the spec's database: psycopg2 for PostgreSQL (MariaDB's PyMySQL comes with mariadb.ts). */
export const dbPackages = (lab: Lab) => (openstackPg(lab) ? ['python3-psycopg2'] : []);

/** Services that talk over RabbitMQ here; Keystone and Placement do not. */
const MESSAGING_SERVICES = ['nova', 'neutron', 'cinder', 'octavia'];
export const openstackMessaging = (lab: Lab) =>
  openstackEnabled(lab) && MESSAGING_SERVICES.some((s) => !!lab.spec.services?.[s]);

/** [DEFAULT] of a service that runs on a node and talks over RabbitMQ. */
export function nodeDefaults(c: OpenstackContext, node: LabNode, dir: string): Record<string, IniValue> {
  return { use_stderr: true, host: node.hostname, my_ip: node.apiAddress, state_path: dir, transport_url: transportUrl(c) };
}

export function ksAuth(c: OpenstackContext, user: string): Record<string, IniValue> {
  return {
    auth_url: serviceUrl(c.lab, 'keystone', 'internal'),
    auth_type: 'password',
    project_domain_name: 'Default',
    user_domain_name: 'Default',
    project_name: 'service',
    username: user,
    password: c.secrets.service[user],
    cafile: caForServices(c.paths),
    region_name: c.lab.region,
  };
}

export function authtoken(c: OpenstackContext, user: string): Record<string, IniValue> {
  return {
    www_authenticate_uri: serviceUrl(c.lab, 'keystone', 'public'),
    ...ksAuth(c, user),
    memcached_servers: memcachedServers(c),
    service_token_roles_required: true,
  };
}

export interface UwsgiApp {
  readonly service: string;
  readonly user: string;
  readonly wsgiFile: string;
  readonly port: number;
  readonly dir: string;
  readonly env?: Record<string, string>;
  readonly pyargv?: string;
  /** Python threads the app starts itself run (uwsgi's enable-threads): without it they never get the GIL. */
  readonly appThreads?: boolean;
  /** Modules imported before the app (from `pythonpath`), e.g. fixes the lab applies to a package. */
  readonly imports?: readonly string[];
  readonly pythonpath?: string;
}

/** An API under uwsgi on the node's API address, HAProxy in front. */
export function uwsgi(c: OpenstackContext, node: LabNode, app: UwsgiApp): Daemon {
  const conf = [
    head(c.lab, node, app.service),
    '[uwsgi]',
    'plugins = python3',
    'master = true',
    'processes = 1',
    // nova-api: with threads > 1 eventlet breaks ("cannot switch to a different thread").
    'threads = 1',
    `http-socket = ${node.apiAddress}:${app.port}`,
    `wsgi-file = ${app.wsgiFile}`,
    'die-on-term = true',
    'need-app = true',
    'lazy-apps = true',
    'buffer-size = 65535',
    'thunder-lock = true',
    ...(app.appThreads ? ['enable-threads = true'] : []),
    ...Object.entries(app.env ?? {}).map(([k, v]) => `env = ${k}=${v}`),
    ...(app.pyargv ? [`pyargv = ${app.pyargv}`] : []),
    ...(app.pythonpath ? [`pythonpath = ${app.pythonpath}`] : []),
    ...(app.imports ?? []).map((m) => `import = ${m}`),
    '',
  ].join('\n');
  const ini = `${app.dir}/${app.service}-uwsgi.ini`;
  return daemon(node, app.service, {
    argv: ['/usr/bin/uwsgi', '--ini', ini],
    user: app.user,
    files: [{ path: ini, content: conf, owner: app.user, mode: 0o640 }],
    dirs: [{ path: app.dir, owner: app.user }],
    health: [{ kind: 'tcp', host: node.apiAddress!, port: app.port }],
    stopSignal: 'INT',
  });
}

// ---------------------------------------------------------------- the admin session `lab up` uses

const sessions = new Map<string, Promise<Api>>();

/** One admin session per `up` (a token through the internal VIP), closed when `up` ends. */
export function adminApi(c: UpContext): Promise<Api> {
  const key = c.paths.root;
  let s = sessions.get(key);
  if (!s) {
    s = (async () => {
      const api = new Api(readFileSync(c.paths.caCert, 'utf8'));
      const secrets = openstackSecrets(c.paths);
      const t = await api.call('POST', `${viaVip(c.lab, 'keystone')}/v3/auth/tokens`, passwordAuth('admin', secrets.adminPassword, 'admin'));
      api.token = String(t.headers['x-subject-token']);
      return api;
    })();
    sessions.set(key, s);
    s.catch(() => sessions.delete(key));
    c.defer(async () => {
      sessions.delete(key);
      await (await s!.catch(() => undefined))?.close();
    });
  }
  return s;
}

/** Wait until the service answers through HAProxy below 500 (a crash-looping WSGI app can look RUNNING). */
export async function answersViaVip(c: UpContext, service: string, timeoutMs = 90_000): Promise<string> {
  const api = new Api(readFileSync(c.paths.caCert, 'utf8'));
  const url = `${viaVip(c.lab, service)}/`;
  try {
    const deadline = Date.now() + timeoutMs;
    let status = 0;
    while (Date.now() < deadline) {
      status = await api.status(url);
      if (status > 0 && status < 500) return `${url} → ${status}`;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${service} through the internal VIP (${url}): ${status || 'no answer'} after ${timeoutMs / 1000} s`);
  } finally {
    await api.close();
  }
}

