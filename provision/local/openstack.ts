/**
 * The embedded lab's OpenStack part (issue 4), rendered purely from the lab spec: MariaDB, RabbitMQ and memcached,
 * Keystone, Glance, Placement, Nova and Neutron with ML2/OVN, each a `Daemon` on the node its role names. Every
 * OpenStack daemon is `manual`: supervisor does not autostart it; `bootstrap.ts` starts the tiers in order after
 * their one-time steps (db sync, keystone bootstrap …). Nothing here touches the machine.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { novaPool, ovnSouthbound } from '../../helpers/lab/defaults.ts';
import type { Lab, LabNode } from '../../helpers/lab/model.ts';
import type { LabPaths } from './paths.ts';
import { CEPH_PACKAGES, cephConf, cephDue, cephSpec } from './ceph.ts';
import type { Daemon, RenderedFile } from './render.ts';
import { computeDriver, metadataProxy, novaComputeSections, ovsdbGuestRemotes, renderGuests, guestsRun } from './guests.ts';
import { quote } from '../../helpers/node/quote.ts';
import { addSecret } from '../../helpers/gate/redact.ts';
import { writeIfChanged } from './pki.ts';

/** Debian 12 packages of the OpenStack part (installed with --no-install-recommends). */
export const OPENSTACK_PACKAGES = [
  'mariadb-server',
  'python3-pymysql',
  'rabbitmq-server',
  'memcached',
  'python3-memcache',
  'uwsgi',
  'uwsgi-plugin-python3',
  'keystone',
  'glance',
  'placement-api',
  'nova-api',
  'nova-conductor',
  'nova-scheduler',
  'nova-compute',
  'nova-compute-qemu',
  'neutron-server',
  'cinder-api',
  'cinder-scheduler',
  'ovn-central',
  'ovn-host',
  'openvswitch-switch',
  'python3-openstackclient',
  'prometheus-mysqld-exporter',
] as const;

/** Packages of the storage phase the spec is in: Ceph and cinder-volume/-backup once Ceph is due. */
export function storagePackages(lab: Lab): string[] {
  return cephDue(lab) ? [...CEPH_PACKAGES, 'cinder-volume', ...(backupDue(lab) ? ['cinder-backup'] : [])] : [];
}

/** debconf answers so that no maintainer script configures a database, RabbitMQ, Keystone or endpoints. */
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

// ---------------------------------------------------------------- switch and secrets

/** Written when a bootstrap went through end to end; until then the lab is not up and `lab ensure` brings it up. */
export const completeMarker = (paths: LabPaths) => join(paths.root, 'openstack', 'complete');
export const openstackComplete = (paths: LabPaths) => existsSync(completeMarker(paths));

/**
 * Whether the lab has an OpenStack part: the spec decides (a packages deployer with Keystone among its services).
 * A lab without a cloud is a spec of its own (the bundled `embedded-infra`), not a switch on the default lab.
 */
export function openstackEnabled(lab: Lab): boolean {
  return lab.deployer.kind === 'packages' && !!lab.spec.services?.keystone;
}

export const SERVICE_USERS = ['glance', 'placement', 'nova', 'neutron', 'cinder'] as const;
export const DATABASES = ['keystone', 'glance', 'placement', 'nova_api', 'nova', 'nova_cell0', 'neutron', 'cinder'] as const;

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
    db: Object.fromEntries(['keystone', 'glance', 'placement', 'nova', 'neutron', 'cinder', 'exporter'].map((k) => [k, old.db?.[k] ?? pw()])),
    service: Object.fromEntries(SERVICE_USERS.map((k) => [k, old.service?.[k] ?? pw()])),
    metadataSecret: old.metadataSecret ?? pw(),
    rbdSecretUuid: old.rbdSecretUuid ?? randomUUID(),
  };
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeIfChanged(file, `${JSON.stringify(s, null, 2)}\n`, 0o600);
  for (const v of [s.adminPassword, s.rabbitPassword, s.metadataSecret, ...Object.values(s.db), ...Object.values(s.service)]) addSecret(v);
  return s;
}

// ---------------------------------------------------------------- placement of services on nodes

function first(lab: Lab, role: Parameters<Lab['nodesWithRole']>[0], what: string): LabNode {
  const n = lab.nodesWithRole(role).find((x) => x.apiAddress);
  if (!n) throw new Error(`lab ${lab.name}: no node with role ${role} and an API address for ${what}`);
  return n;
}

export interface OpenstackLayout {
  readonly control: LabNode;
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
  const compute = lab.nodesWithRole('compute').filter((n) => n.apiAddress);
  const chassis = lab.nodes.filter((n) => network.includes(n) || compute.includes(n));
  return { control, database, messaging, ovnCentral: control, network, compute, chassis };
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

function port(lab: Lab, service: string): number {
  const s = lab.spec.services?.[service];
  if (!s) throw new Error(`lab ${lab.name}: no service ${service} in spec.services`);
  return s.port;
}

// ---------------------------------------------------------------- config helpers

type IniValue = string | number | boolean | undefined;
export function ini(sections: Record<string, Record<string, IniValue>>, head: string): string {
  const out = [head];
  for (const [name, kv] of Object.entries(sections)) {
    out.push('', `[${name}]`);
    for (const [k, v] of Object.entries(kv)) if (v !== undefined) out.push(`${k} = ${String(v)}`);
  }
  return `${out.join('\n')}\n`;
}

const head = (lab: Lab, node: LabNode, what: string) => `# Rendered by stackgate (local provider) for ${lab.name}/${node.name}: ${what}; do not edit.`;

/** The CA copy services can read (the certificates dir itself is 0700). */
export const caForServices = (paths: LabPaths) => join(paths.root, 'openstack', 'ca.crt');

export interface Ctx {
  readonly lab: Lab;
  readonly paths: LabPaths;
  readonly s: OpenstackSecrets;
  readonly l: OpenstackLayout;
}

const dbUrl = (c: Ctx, user: string, db: string) => `mysql+pymysql://${user}:${c.s.db[user]}@${c.l.database.apiAddress}:3306/${db}?charset=utf8`;
const transportUrl = (c: Ctx) => `rabbit://openstack:${c.s.rabbitPassword}@${c.l.messaging.apiAddress}:5672/`;
const memcached = (c: Ctx) => `${c.l.control.apiAddress}:11211`;

function ksAuth(c: Ctx, user: string): Record<string, IniValue> {
  return {
    auth_url: serviceUrl(c.lab, 'keystone', 'internal'),
    auth_type: 'password',
    project_domain_name: 'Default',
    user_domain_name: 'Default',
    project_name: 'service',
    username: user,
    password: c.s.service[user],
    cafile: caForServices(c.paths),
    region_name: c.lab.region,
  };
}

function authtoken(c: Ctx, user: string): Record<string, IniValue> {
  return {
    www_authenticate_uri: serviceUrl(c.lab, 'keystone', 'public'),
    ...ksAuth(c, user),
    memcached_servers: memcached(c),
    service_token_roles_required: true,
  };
}

export function daemon(
  node: LabNode,
  service: string,
  d: Omit<Daemon, 'node' | 'service' | 'program' | 'manual' | 'dirs' | 'files' | 'health'> & Partial<Pick<Daemon, 'dirs' | 'files' | 'health'>>,
): Daemon {
  return { node: node.name, service, program: `${node.name}-${service}`, manual: true, files: [], dirs: [], health: [], ...d };
}

export function uwsgi(c: Ctx, node: LabNode, service: string, user: string, wsgiFile: string, listenPort: number, env: Record<string, string>, dir: string, pyargv?: string): Daemon {
  const conf = [
    head(c.lab, node, service),
    '[uwsgi]',
    'plugins = python3',
    'master = true',
    'processes = 1',
    // nova-api: with threads > 1 eventlet breaks ("cannot switch to a different thread").
    'threads = 1',
    `http-socket = ${node.apiAddress}:${listenPort}`,
    `wsgi-file = ${wsgiFile}`,
    'die-on-term = true',
    'need-app = true',
    'lazy-apps = true',
    'buffer-size = 65535',
    'thunder-lock = true',
    ...Object.entries(env).map(([k, v]) => `env = ${k}=${v}`),
    ...(pyargv ? [`pyargv = ${pyargv}`] : []),
    '',
  ].join('\n');
  return daemon(node, service, {
    argv: ['/usr/bin/uwsgi', '--ini', `${dir}/${service}-uwsgi.ini`],
    user,
    files: [{ path: `${dir}/${service}-uwsgi.ini`, content: conf, owner: user, mode: 0o640 }],
    dirs: [{ path: dir, owner: user }],
    health: [{ kind: 'tcp', host: node.apiAddress!, port: listenPort }],
    stopSignal: 'INT',
  });
}

// ---------------------------------------------------------------- infrastructure: MariaDB, RabbitMQ, memcached

export function mariadbDir(paths: LabPaths, node: LabNode) {
  return paths.node(node.name, 'mariadb');
}
export const mariadbSocket = (paths: LabPaths, node: LabNode) => `${mariadbDir(paths, node)}/mysqld.sock`;

function renderInfra(c: Ctx): Daemon[] {
  const { lab, paths, l } = c;
  const db = l.database;
  const mdir = mariadbDir(paths, db);
  const mq = l.messaging;
  const rdir = paths.node(mq.name, 'rabbitmq');
  const rabbitEnv = {
    HOME: rdir,
    RABBITMQ_NODENAME: 'rabbit@localhost',
    RABBITMQ_NODE_IP_ADDRESS: mq.apiAddress!,
    RABBITMQ_NODE_PORT: '5672',
    RABBITMQ_MNESIA_BASE: `${rdir}/mnesia`,
    RABBITMQ_LOG_BASE: `${rdir}/log`,
    RABBITMQ_PID_FILE: `${paths.run}/${mq.name}-rabbitmq.pid`,
    RABBITMQ_CONFIG_FILE: `${rdir}/rabbitmq.conf`,
    RABBITMQ_ENABLED_PLUGINS_FILE: `${rdir}/enabled_plugins`,
    RABBITMQ_CONF_ENV_FILE: '/dev/null',
    RABBITMQ_LOGS: '-',
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  const env = (e: Record<string, string>) => ['/usr/bin/env', ...Object.entries(e).map(([k, v]) => `${k}=${v}`)];
  // The spec's mysqld job: Debian's prometheus-mysqld-exporter beside MariaDB, as a read-only user (mysqldExporter).
  const mysqldJob = lab.spec.monitoring?.jobs.find((j) => j.job === 'mysqld');
  const exporter: Daemon[] = mysqldJob
    ? [
        daemon(db, 'mysqld-exporter', {
          argv: ['/usr/bin/prometheus-mysqld-exporter', `--config.my-cnf=${mdir}-exporter.cnf`, `--web.listen-address=${db.apiAddress}:${mysqldJob.port}`],
          user: 'prometheus',
          files: [{ path: `${mdir}-exporter.cnf`, content: `# ${head(lab, db, 'mysqld exporter').slice(2)}\n[client]\nuser = exporter\npassword = ${c.s.db.exporter}\nhost = ${db.apiAddress}\nport = 3306\n`, owner: 'prometheus', mode: 0o600 }],
          health: [{ kind: 'tcp', host: db.apiAddress!, port: mysqldJob.port }],
        }),
      ]
    : [];
  return [
    ...exporter,
    daemon(db, 'mariadb', {
      argv: [
        '/usr/sbin/mariadbd', '--no-defaults', '--user=mysql', `--datadir=${mdir}/data`, `--socket=${mariadbSocket(paths, db)}`,
        `--pid-file=${mdir}/mysqld.pid`, `--bind-address=${db.apiAddress}`, '--port=3306', '--skip-name-resolve',
        '--max-connections=1000', '--innodb-buffer-pool-size=128M', '--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci',
        '--log-error=', `--tmpdir=${mdir}/tmp`,
      ],
      dirs: [{ path: mdir, owner: 'mysql' }, { path: `${mdir}/tmp`, owner: 'mysql' }],
      health: [{ kind: 'tcp', host: db.apiAddress!, port: 3306 }],
    }),
    // RabbitMQ starts epmd itself (on 127.0.0.1 of the node); it daemonises out of supervisor's tree.
    daemon(mq, 'rabbitmq', {
      argv: [...env(rabbitEnv), '/usr/lib/rabbitmq/bin/rabbitmq-server'],
      user: 'rabbitmq',
      files: [
        {
          path: `${rdir}/rabbitmq.conf`,
          content: `# ${head(lab, mq, 'RabbitMQ').slice(2)}\nlisteners.tcp.1 = ${mq.apiAddress}:5672\nloopback_users = none\nprometheus.tcp.ip = ${mq.apiAddress}\nprometheus.tcp.port = 15692\nlog.console = true\nlog.file = false\n`,
          owner: 'rabbitmq',
        },
        { path: `${rdir}/enabled_plugins`, content: '[rabbitmq_prometheus].\n', owner: 'rabbitmq' },
      ],
      dirs: [{ path: rdir, owner: 'rabbitmq' }, { path: `${rdir}/mnesia`, owner: 'rabbitmq' }, { path: `${rdir}/log`, owner: 'rabbitmq' }],
      health: [{ kind: 'tcp', host: mq.apiAddress!, port: 5672 }],
    }),
    daemon(l.control, 'memcached', {
      argv: ['/usr/bin/memcached', '-u', 'memcache', '-l', l.control.apiAddress!, '-p', '11211', '-U', '0', '-m', '64', '-c', '4096'],
      health: [{ kind: 'tcp', host: l.control.apiAddress!, port: 11211 }],
    }),
  ];
}

// ---------------------------------------------------------------- Keystone, Glance, Placement

export const keystoneDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'keystone');

export function keystoneConf(c: Ctx): string {
  const dir = keystoneDir(c.paths, c.l.control);
  return ini(
    {
      DEFAULT: { use_stderr: true },
      database: { connection: dbUrl(c, 'keystone', 'keystone'), max_retries: -1 },
      token: { provider: 'fernet', expiration: 86400 },
      fernet_tokens: { key_repository: `${dir}/fernet-keys`, max_active_keys: 3 },
      credential: { key_repository: `${dir}/credential-keys` },
      cache: { enabled: true, backend: 'oslo_cache.memcache_pool', memcache_servers: memcached(c) },
      oslo_middleware: { enable_proxy_headers_parsing: true },
    },
    head(c.lab, c.l.control, 'keystone.conf'),
  );
}

function renderKeystone(c: Ctx): Daemon[] {
  const node = c.l.control;
  const dir = keystoneDir(c.paths, node);
  const d = uwsgi(c, node, 'keystone', 'keystone', '/usr/bin/keystone-wsgi-public', port(c.lab, 'keystone'), { OS_KEYSTONE_CONFIG_DIR: dir }, dir);
  const conf = { path: `${dir}/keystone.conf`, content: keystoneConf(c), owner: 'keystone', mode: 0o640 };
  // Keystone warns of key repositories others can read; keystone-manage and Kolla make them 0700.
  const keys = ['fernet-keys', 'credential-keys'].map((k) => ({ path: `${dir}/${k}`, owner: 'keystone', mode: 0o700 }));
  return [{ ...d, files: [...d.files, conf], dirs: [...d.dirs, ...keys] }];
}

export const glanceDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'glance');

function renderGlance(c: Ctx): Daemon[] {
  const node = c.l.control;
  const dir = glanceDir(c.paths, node);
  const rbd = cephConsumer(c.lab, 'glance');
  const conf = ini(
    {
      DEFAULT: { use_stderr: true, bind_host: node.apiAddress, bind_port: port(c.lab, 'glance'), workers: 1, enabled_backends: rbd ? 'rbd:rbd, fs:file' : 'fs:file', show_image_direct_url: !!rbd },
      database: { connection: dbUrl(c, 'glance', 'glance'), max_retries: -1 },
      keystone_authtoken: authtoken(c, 'glance'),
      paste_deploy: { flavor: 'keystone', config_file: '/etc/glance/glance-api-paste.ini' },
      glance_store: { default_backend: rbd ? 'rbd' : 'fs' },
      // With Ceph due, new images go to Ceph; the file store stays readable for images made before.
      ...(rbd ? { rbd: { rbd_store_pool: rbd.pool, rbd_store_user: rbd.user, rbd_store_ceph_conf: cephConf(c.paths), rbd_store_chunk_size: 8 } } : {}),
      fs: { filesystem_store_datadir: `${dir}/images` },
      os_glance_staging_store: { filesystem_store_datadir: `${dir}/staging` },
      os_glance_tasks_store: { filesystem_store_datadir: `${dir}/tasks` },
      oslo_concurrency: { lock_path: `${dir}/lock` },
      oslo_middleware: { enable_proxy_headers_parsing: true },
    },
    head(c.lab, node, 'glance-api.conf'),
  );
  return [
    daemon(node, 'glance-api', {
      argv: ['/usr/bin/glance-api', '--config-file', `${dir}/glance-api.conf`],
      user: 'glance',
      files: [{ path: `${dir}/glance-api.conf`, content: conf, owner: 'glance', mode: 0o640 }],
      dirs: ['', '/images', '/staging', '/tasks', '/lock'].map((p) => ({ path: `${dir}${p}`, owner: 'glance' })),
      health: [{ kind: 'tcp', host: node.apiAddress!, port: port(c.lab, 'glance') }],
    }),
  ];
}

export const placementDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'placement');

function renderPlacement(c: Ctx): Daemon[] {
  const node = c.l.control;
  const dir = placementDir(c.paths, node);
  const conf = ini(
    {
      DEFAULT: { use_stderr: true },
      placement_database: { connection: dbUrl(c, 'placement', 'placement'), max_retries: -1 },
      api: { auth_strategy: 'keystone' },
      keystone_authtoken: authtoken(c, 'placement'),
      oslo_middleware: { enable_proxy_headers_parsing: true },
    },
    head(c.lab, node, 'placement.conf'),
  );
  const d = uwsgi(c, node, 'placement-api', 'placement', '/usr/bin/placement-api', port(c.lab, 'placement'), { OS_PLACEMENT_CONFIG_DIR: dir }, dir);
  return [{ ...d, files: [...d.files, { path: `${dir}/placement.conf`, content: conf, owner: 'placement', mode: 0o640 }] }];
}

// ---------------------------------------------------------------- Nova

export const novaDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'nova');
/** nova-compute's directory (its nova.conf): on a node that also runs the control services, a directory of its own. */
export const novaComputeDir = (lab: Lab, paths: LabPaths, node: LabNode) => (node.name === layout(lab).control.name ? `${novaDir(paths, node)}-compute` : novaDir(paths, node));

export function novaConf(c: Ctx, node: LabNode, role: 'control' | 'compute'): string {
  const dir = novaDir(c.paths, node);
  const auth = (user: string) => ({ ...ksAuth(c, user), valid_interfaces: 'internal' });
  return ini(
    {
      DEFAULT: {
        use_stderr: true,
        host: node.hostname,
        my_ip: node.apiAddress,
        state_path: dir,
        transport_url: transportUrl(c),
        enabled_apis: 'osapi_compute',
        osapi_compute_workers: 1,
        metadata_workers: 1,
        compute_driver: role === 'compute' ? computeDriver(c.lab) : undefined,
        instances_path: role === 'compute' ? `${dir}/instances` : undefined,
      },
      api: { auth_strategy: 'keystone' },
      api_database: role === 'control' ? { connection: dbUrl(c, 'nova', 'nova_api'), max_retries: -1 } : {},
      database: role === 'control' ? { connection: dbUrl(c, 'nova', 'nova'), max_retries: -1 } : {},
      keystone_authtoken: authtoken(c, 'nova'),
      service_user: { send_service_user_token: true, ...ksAuth(c, 'nova') },
      placement: auth('placement'),
      neutron: { ...auth('neutron'), ...metadataProxy(c) },
      glance: { valid_interfaces: 'internal', cafile: caForServices(c.paths), region_name: c.lab.region },
      // Volume attach: Nova calls Cinder's internal endpoint over TLS, as Kolla configures it.
      cinder: { catalog_info: 'volumev3::internalURL', os_region_name: c.lab.region, cafile: caForServices(c.paths), ...ksAuth(c, 'nova') },
      conductor: { workers: 1 },
      scheduler: { workers: 1 },
      ...(role === 'compute' ? novaComputeSections(c, node) : {}),
      cache: { enabled: true, backend: 'oslo_cache.memcache_pool', memcache_servers: memcached(c) },
      vnc: { enabled: false },
      wsgi: { api_paste_config: '/etc/nova/api-paste.ini' },
      oslo_concurrency: { lock_path: `${dir}/lock` },
      oslo_messaging_notifications: { driver: 'noop' },
      oslo_middleware: { enable_proxy_headers_parsing: true },
    },
    head(c.lab, node, `nova.conf (${role})`),
  );
}

function renderNova(c: Ctx): Daemon[] {
  const node = c.l.control;
  const dir = novaDir(c.paths, node);
  const conf = { path: `${dir}/nova.conf`, content: novaConf(c, node, 'control'), owner: 'nova', mode: 0o640 } satisfies RenderedFile;
  const dirs = [{ path: dir, owner: 'nova' }, { path: `${dir}/lock`, owner: 'nova' }];
  // nova-api-wsgi loads its paste pipeline from the first file of OS_NOVA_CONFIG_FILES (an absolute path wins).
  const api = uwsgi(c, node, 'nova-api', 'nova', '/usr/bin/nova-api-wsgi', port(c.lab, 'nova'), { OS_NOVA_CONFIG_DIR: dir, OS_NOVA_CONFIG_FILES: '/etc/nova/api-paste.ini;nova.conf' }, dir);
  const out: Daemon[] = [
    { ...api, files: [...api.files, conf], dirs: [...api.dirs, ...dirs] },
    daemon(node, 'nova-conductor', { argv: ['/usr/bin/nova-conductor', '--config-file', `${dir}/nova.conf`], user: 'nova', files: [conf], dirs }),
    daemon(node, 'nova-scheduler', { argv: ['/usr/bin/nova-scheduler', '--config-file', `${dir}/nova.conf`], user: 'nova', files: [conf], dirs }),
  ];
  for (const cn of c.l.compute) {
    const cdir = novaDir(c.paths, cn);
    const own = novaComputeDir(c.lab, c.paths, cn);
    out.push(
      daemon(cn, 'nova-compute', {
        argv: ['/usr/bin/nova-compute', '--config-file', `${own}/nova.conf`],
        user: 'nova',
        files: [{ path: `${own}/nova.conf`, content: novaConf(c, cn, 'compute').replaceAll(`${cdir}/`, `${own}/`).replace(`state_path = ${cdir}\n`, `state_path = ${own}\n`), owner: 'nova', mode: 0o640 }],
        dirs: [{ path: own, owner: 'nova' }, { path: `${own}/lock`, owner: 'nova' }, { path: `${own}/instances`, owner: 'nova' }],
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------- Cinder (API and scheduler)

export const cinderDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'cinder');

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

/** cinder-backup runs when the spec's backup phase has come (with the Ceph driver: when Ceph is due too). */
export function backupDue(lab: Lab): boolean {
  const b = lab.spec.storage?.cinder?.backup;
  if (!b?.phase || b.phase > lab.storagePhase) return false;
  return b.driver === 'ceph' ? cephDue(lab) : false;
}

/**
 * The spec's Cinder backends of the phase the lab is in, with what this lab can run: a Ceph backend when Ceph is
 * due; an LVM backend never here (the local provider builds no volume group; the lab declares `lacks: lvm`).
 */
export function cinderBackends(lab: Lab): { name: string; driver: string; volumeType?: string; hosts: string[]; runs: boolean; why?: string }[] {
  return lab.cinderBackends
    .filter((b) => b.phase <= lab.storagePhase)
    .map((b) => {
      const base = { name: b.name, driver: b.driver, volumeType: b.volumeType, hosts: b.hosts ?? [] };
      if (b.driver === 'ceph') return cephDue(lab) ? { ...base, runs: true } : { ...base, runs: false, why: 'Ceph is not due' };
      const lacks = b.driver === 'lvm' ? lab.lacks('lvm') : undefined;
      return { ...base, runs: false, why: lacks ? `lab lacks lvm: ${lacks}` : `the local provider runs no ${b.driver} backend` };
    });
}

function cinderConf(c: Ctx, node: LabNode, dir: string, extra: Record<string, Record<string, IniValue>> = {}): string {
  const { DEFAULT: more, ...sections } = extra;
  return ini(
    {
      DEFAULT: {
        use_stderr: true,
        host: node.hostname,
        my_ip: node.apiAddress,
        state_path: dir,
        transport_url: transportUrl(c),
        auth_strategy: 'keystone',
        osapi_volume_workers: 1,
        api_paste_config: '/etc/cinder/api-paste.ini',
        // As Kolla: Glance on its internal endpoint, verified with the lab CA. Cinder's Glance session takes its CA
        // from here, not from [glance]: without it a volume from an image is refused ("Invalid image identifier").
        ...(c.lab.spec.services?.glance
          ? { glance_api_servers: serviceUrl(c.lab, 'glance', 'internal'), glance_ca_certificates_file: caForServices(c.paths) }
          : {}),
        ...more,
      },
      database: { connection: dbUrl(c, 'cinder', 'cinder'), max_retries: -1 },
      keystone_authtoken: authtoken(c, 'cinder'),
      service_user: { send_service_user_token: true, ...ksAuth(c, 'cinder') },
      nova: { ...ksAuth(c, 'nova'), interface: 'internal' },
      glance: { cafile: caForServices(c.paths), region_name: c.lab.region },
      oslo_concurrency: { lock_path: `${dir}/lock` },
      oslo_messaging_notifications: { driver: 'noop' },
      oslo_middleware: { enable_proxy_headers_parsing: true },
      ...sections,
    },
    head(c.lab, node, 'cinder.conf'),
  );
}

function renderCinder(c: Ctx): Daemon[] {
  const node = c.l.control;
  const dir = cinderDir(c.paths, node);
  const file = { path: `${dir}/cinder.conf`, content: cinderConf(c, node, dir), owner: 'cinder', mode: 0o640 } satisfies RenderedFile;
  const dirs = [{ path: dir, owner: 'cinder' }, { path: `${dir}/lock`, owner: 'cinder' }];
  const api = uwsgi(c, node, 'cinder-api', 'cinder', '/usr/bin/cinder-wsgi', port(c.lab, 'cinder'), {}, dir, `--config-file ${dir}/cinder.conf`);
  const out: Daemon[] = [
    { ...api, files: [...api.files, file], dirs: [...api.dirs, ...dirs] },
    daemon(node, 'cinder-scheduler', { argv: ['/usr/bin/cinder-scheduler', '--config-file', `${dir}/cinder.conf`], user: 'cinder', files: [file], dirs }),
  ];
  // cinder-volume on each host of a backend the lab runs (the spec's backend hosts), cinder-backup beside it.
  const rbd = cephConsumer(c.lab, 'cinder');
  const backup = backupDue(c.lab) ? cephConsumer(c.lab, 'cinder-backup') : undefined;
  const running = cinderBackends(c.lab).filter((b) => b.runs);
  const hosts = [...new Set(running.flatMap((b) => b.hosts))];
  for (const h of hosts) {
    const vn = c.lab.node(h);
    // On the control node the volume service gets a directory of its own.
    const vdir = vn.name === node.name ? `${cinderDir(c.paths, vn)}-volume` : cinderDir(c.paths, vn);
    const mine = running.filter((b) => b.hosts.includes(h));
    const sections: Record<string, Record<string, IniValue>> = {
      DEFAULT: {
        enabled_backends: mine.map((b) => b.name).join(','),
        ...(backup ? { backup_driver: 'cinder.backup.drivers.ceph.CephBackupDriver', backup_ceph_conf: cephConf(c.paths), backup_ceph_user: backup.user, backup_ceph_pool: backup.pool } : {}),
      },
    };
    for (const b of mine) {
      if (b.driver === 'ceph' && rbd) {
        sections[b.name] = {
          volume_driver: 'cinder.volume.drivers.rbd.RBDDriver',
          volume_backend_name: b.name,
          rbd_pool: rbd.pool,
          rbd_user: rbd.user,
          // The key of rbd_user, defined as this libvirt secret on the compute nodes: QEMU attaches volumes with it.
          rbd_secret_uuid: c.s.rbdSecretUuid,
          rbd_ceph_conf: cephConf(c.paths),
          rbd_flatten_volume_from_snapshot: false,
          rbd_max_clone_depth: 5,
          rados_connect_timeout: 10,
          report_discard_supported: true,
        };
      }
    }
    const vfile = { path: `${vdir}/cinder.conf`, content: cinderConf(c, vn, vdir, sections), owner: 'cinder', mode: 0o640 } satisfies RenderedFile;
    const vdirs = [{ path: vdir, owner: 'cinder' }, { path: `${vdir}/lock`, owner: 'cinder' }];
    out.push(daemon(vn, 'cinder-volume', { argv: ['/usr/bin/cinder-volume', '--config-file', vfile.path], user: 'cinder', files: [vfile], dirs: vdirs }));
    if (backup && h === hosts[0]) out.push(daemon(vn, 'cinder-backup', { argv: ['/usr/bin/cinder-backup', '--config-file', vfile.path], user: 'cinder', files: [vfile], dirs: vdirs }));
  }
  return out;
}

// ---------------------------------------------------------------- Neutron + OVN

export const neutronDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'neutron');
export const ovnCentralRun = (paths: LabPaths, node: LabNode) => `${paths.run}/${node.name}-ovn`;
export const ovsRun = (paths: LabPaths, node: LabNode) => `${paths.run}/${node.name}-ovs`;
export const ovsDb = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'openvswitch', 'conf.db');
export const ovnDb = (paths: LabPaths, node: LabNode, which: 'nb' | 'sb') => paths.node(node.name, 'ovn', `ovn${which}_db.db`);

function renderNeutron(c: Ctx): Daemon[] {
  const node = c.l.control;
  const dir = neutronDir(c.paths, node);
  const central = c.l.ovnCentral.apiAddress!;
  const nspec = c.lab.spec.neutron;
  const physnet = nspec?.physnet ?? 'physnet1';
  const conf = ini(
    {
      DEFAULT: {
        use_stderr: true,
        host: node.hostname,
        bind_host: node.apiAddress,
        bind_port: port(c.lab, 'neutron'),
        core_plugin: 'ml2',
        service_plugins: 'ovn-router',
        transport_url: transportUrl(c),
        auth_strategy: 'keystone',
        api_workers: 1,
        rpc_workers: 0,
        rpc_state_report_workers: 0,
        api_paste_config: '/etc/neutron/api-paste.ini',
        state_path: dir,
        notify_nova_on_port_status_changes: true,
        notify_nova_on_port_data_changes: true,
      },
      database: { connection: dbUrl(c, 'neutron', 'neutron'), max_retries: -1 },
      keystone_authtoken: authtoken(c, 'neutron'),
      nova: { ...ksAuth(c, 'nova'), endpoint_type: 'internal' },
      placement: { ...ksAuth(c, 'placement'), endpoint_type: 'internal' },
      oslo_concurrency: { lock_path: `${dir}/lock` },
      oslo_messaging_notifications: { driver: 'noop' },
      oslo_middleware: { enable_proxy_headers_parsing: true },
    },
    head(c.lab, node, 'neutron.conf'),
  );
  const ml2 = ini(
    {
      ml2: {
        type_drivers: 'flat,vlan,geneve',
        tenant_network_types: nspec?.tenantNetworkType ?? 'geneve',
        mechanism_drivers: 'ovn',
        extension_drivers: 'port_security',
        overlay_ip_version: 4,
      },
      ml2_type_geneve: { vni_ranges: '1:65536', max_header_size: 38 },
      ml2_type_flat: { flat_networks: physnet },
      ml2_type_vlan: { network_vlan_ranges: physnet },
      securitygroup: { enable_security_group: true },
      ovn: {
        ovn_nb_connection: `tcp:${central}:6641`,
        ovn_sb_connection: ovnSbRemote(c.lab, c.l),
        ovn_l3_scheduler: 'leastloaded',
        ovn_metadata_enabled: guestsRun(c.lab),
        enable_distributed_floating_ip: nspec?.distributedFip ?? false,
      },
    },
    head(c.lab, node, 'ml2_conf.ini'),
  );
  return [
    daemon(node, 'neutron-server', {
      argv: ['/usr/bin/neutron-server', '--config-file', `${dir}/neutron.conf`, '--config-file', `${dir}/ml2_conf.ini`],
      user: 'neutron',
      files: [
        { path: `${dir}/neutron.conf`, content: conf, owner: 'neutron', mode: 0o640 },
        { path: `${dir}/ml2_conf.ini`, content: ml2, owner: 'neutron', mode: 0o640 },
      ],
      dirs: [{ path: dir, owner: 'neutron' }, { path: `${dir}/lock`, owner: 'neutron' }],
      health: [{ kind: 'tcp', host: node.apiAddress!, port: port(c.lab, 'neutron') }],
    }),
  ];
}

/** The southbound DB as the spec places it (neutron.ovnSouthbound); this provider serves it over plain TCP only. */
export function ovnSbRemote(lab: Lab, l: OpenstackLayout): string {
  const sb = ovnSouthbound(lab);
  if (sb.scheme !== 'tcp') throw new Error(`lab ${lab.name}: the local provider serves OVN's southbound DB over tcp only, the spec asks for ${sb.scheme} (neutron.ovnSouthbound.scheme)`);
  return `tcp:${l.ovnCentral.apiAddress}:${sb.port}`;
}

function renderOvn(c: Ctx): Daemon[] {
  const node = c.l.ovnCentral;
  const run = ovnCentralRun(c.paths, node);
  const env = ['/usr/bin/env', `OVN_RUNDIR=${run}`, `OVS_RUNDIR=${run}`];
  const db = (which: 'nb' | 'sb', p: number) =>
    daemon(node, `ovn-${which}-db`, {
      argv: [
        ...env, '/usr/sbin/ovsdb-server', ovnDb(c.paths, node, which), `--remote=punix:${run}/ovn${which}_db.sock`, `--remote=ptcp:${p}:${node.apiAddress}`,
        `--pidfile=${run}/ovn${which}_db.pid`, `--unixctl=${run}/ovn${which}_db.ctl`, '--no-chdir',
      ],
      dirs: [{ path: run }, { path: dirname(ovnDb(c.paths, node, which)) }],
      health: [{ kind: 'tcp', host: node.apiAddress!, port: p }],
    });
  const out: Daemon[] = [
    db('nb', 6641),
    db('sb', ovnSouthbound(c.lab).port),
    daemon(node, 'ovn-northd', {
      argv: [...env, '/usr/bin/ovn-northd', `--ovnnb-db=unix:${run}/ovnnb_db.sock`, `--ovnsb-db=unix:${run}/ovnsb_db.sock`, `--pidfile=${run}/ovn-northd.pid`, '--no-chdir'],
      dirs: [{ path: run }],
    }),
  ];
  for (const n of c.l.chassis) {
    const r = ovsRun(c.paths, n);
    const e = ['/usr/bin/env', `OVS_RUNDIR=${r}`, `OVN_RUNDIR=${r}`, `OVS_DBDIR=${dirname(ovsDb(c.paths, n))}`];
    out.push(
      daemon(n, 'ovsdb-server', {
        argv: [...e, '/usr/sbin/ovsdb-server', ovsDb(c.paths, n), `--remote=punix:${r}/db.sock`, ...ovsdbGuestRemotes(c, n), `--pidfile=${r}/ovsdb-server.pid`, `--unixctl=${r}/ovsdb-server.ctl`, '--no-chdir'],
        dirs: [{ path: r }, { path: dirname(ovsDb(c.paths, n)) }],
      }),
      daemon(n, 'ovs-vswitchd', {
        argv: [...e, '/usr/sbin/ovs-vswitchd', `unix:${r}/db.sock`, `--pidfile=${r}/ovs-vswitchd.pid`, `--unixctl=${r}/ovs-vswitchd.ctl`, '--no-chdir'],
        dirs: [{ path: r }],
      }),
      daemon(n, 'ovn-controller', {
        argv: [...e, '/usr/bin/ovn-controller', `unix:${r}/db.sock`, `--pidfile=${r}/ovn-controller.pid`, '--no-chdir'],
        dirs: [{ path: r }],
      }),
    );
  }
  return out;
}

/** The external_ids ovn-controller reads on a chassis (ovs-vsctl set open . …). */
export function chassisSettings(lab: Lab, l: OpenstackLayout, node: LabNode): Record<string, string> {
  const nspec = lab.spec.neutron;
  const gateway = l.network.some((n) => n.name === node.name);
  return {
    'system-id': node.hostname,
    hostname: node.hostname,
    'ovn-remote': ovnSbRemote(lab, l),
    'ovn-encap-type': nspec?.tenantNetworkType === 'vxlan' ? 'vxlan' : 'geneve',
    'ovn-encap-ip': tunnelAddress(lab, node),
    'ovn-bridge-datapath-type': 'netdev',
    'ovn-bridge': 'br-int',
    ...(gateway ? { 'ovn-bridge-mappings': `${nspec?.physnet ?? 'physnet1'}:${nspec?.bridge ?? 'br-ex'}`, 'ovn-cms-options': 'enable-chassis-as-gw' } : {}),
  };
}

/** The external bridge of a network node and the interface it takes (the spec's neutron-external NIC). */
export function externalBridge(lab: Lab, node: LabNode): { bridge: string; nic: string } | undefined {
  const nic = node.nics.find((n) => n.use === 'neutron-external');
  return nic ? { bridge: lab.spec.neutron?.bridge ?? 'br-ex', nic: nic.name } : undefined;
}

// ---------------------------------------------------------------- clouds.yaml and admin-openrc

export const cloudsFile = (lab: Lab, paths: LabPaths) => (lab.spec.credentials?.cloudsFile ? lab.path(lab.spec.credentials.cloudsFile) : join(paths.root, 'clouds.yaml'));
export const openrcFile = (paths: LabPaths) => join(paths.root, 'admin-openrc.sh');
export const cloudName = (lab: Lab) => lab.spec.credentials?.cloud ?? `${lab.name}-admin`;

/** Clouds as Kolla's post-deploy writes them: <name> (public), <name>-internal, <name>-system. */
export function renderCloudsYaml(lab: Lab, paths: LabPaths, s: OpenstackSecrets): string {
  const name = cloudName(lab);
  const cloud = (iface: 'public' | 'internal', system: boolean) =>
    [
      `  ${name}${system ? '-system' : iface === 'internal' ? '-internal' : ''}:`,
      '    auth:',
      `      auth_url: ${serviceUrl(lab, 'keystone', iface)}`,
      '      username: admin',
      `      password: ${s.adminPassword}`,
      ...(system ? ['      system_scope: all'] : ['      project_name: admin', '      project_domain_name: Default']),
      '      user_domain_name: Default',
      `    region_name: ${lab.region}`,
      `    interface: ${iface}`,
      '    identity_api_version: 3',
      `    cacert: ${paths.caCert}`,
    ].join('\n');
  return `# Written by stackgate for lab ${lab.name}; holds the admin password: never commit it.\nclouds:\n${cloud('public', false)}\n${cloud('internal', false)}\n${cloud('internal', true)}\n`;
}

export function renderOpenrc(lab: Lab, paths: LabPaths, s: OpenstackSecrets): string {
  // Sourced by a shell: every value is one quoted word (the state folder may hold any character).
  const vars: [string, string][] = [
    ['OS_PROJECT_DOMAIN_NAME', 'Default'],
    ['OS_USER_DOMAIN_NAME', 'Default'],
    ['OS_PROJECT_NAME', 'admin'],
    ['OS_TENANT_NAME', 'admin'],
    ['OS_USERNAME', 'admin'],
    ['OS_PASSWORD', s.adminPassword],
    ['OS_AUTH_URL', serviceUrl(lab, 'keystone', 'internal')],
    ['OS_INTERFACE', 'internal'],
    ['OS_ENDPOINT_TYPE', 'internalURL'],
    ['OS_IDENTITY_API_VERSION', '3'],
    ['OS_REGION_NAME', lab.region],
    ['OS_AUTH_PLUGIN', 'password'],
    ['OS_CACERT', paths.caCert],
  ];
  return `# Written by stackgate for lab ${lab.name} (as Kolla's admin-openrc.sh); holds the admin password: never commit it.
for key in $( set | awk '{FS="="}  /^OS_/ {print $1}' ); do unset $key ; done
${vars.map(([k, v]) => `export ${k}=${quote(v)}`).join('\n')}
`;
}

// ---------------------------------------------------------------- the whole OpenStack part

/** Every daemon of the OpenStack part, in start order (tiers: infra + OVN, Keystone, the other services). */
export function renderOpenstack(lab: Lab, paths: LabPaths, s: OpenstackSecrets): Daemon[] {
  const c: Ctx = { lab, paths, s, l: layout(lab) };
  const svc = new Set(deployedServices(lab));
  return [
    ...renderInfra(c),
    ...(svc.has('neutron') ? renderOvn(c) : []),
    ...renderKeystone(c),
    ...(svc.has('glance') ? renderGlance(c) : []),
    ...(svc.has('placement') ? renderPlacement(c) : []),
    ...(svc.has('nova') ? renderNova(c) : []),
    ...(svc.has('nova') && svc.has('neutron') ? renderGuests(c) : []),
    ...(svc.has('neutron') ? renderNeutron(c) : []),
    ...(svc.has('cinder') ? renderCinder(c) : []),
  ];
}

export const TIERS: readonly (readonly string[])[] = [
  ['mariadb', 'rabbitmq', 'memcached', 'ovn-nb-db', 'ovn-sb-db', 'ovn-northd', 'ovsdb-server'],
  ['ovs-vswitchd', 'ovn-controller', 'keystone', 'virtlogd', 'libvirtd'],
  ['glance-api', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'neutron-server', 'cinder-api', 'cinder-scheduler', 'cinder-volume', 'cinder-backup', 'mysqld-exporter', 'nova-metadata-api'],
  ['nova-compute', 'neutron-ovn-metadata-agent', 'ovnmeta-tx-csum', 'tunnel-carrier'],
];
