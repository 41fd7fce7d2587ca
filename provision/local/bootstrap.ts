/**
 * The OpenStack part's imperative side: packages with debconf preseeds, one-time steps (databases, RabbitMQ user,
 * db syncs, keystone bootstrap, cell mapping) behind markers so warm re-runs skip them, tiered starts, and the
 * Keystone/Neutron registrations through the REST API (the CLI costs ~1.5 s per call).
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Agent, request } from 'undici';
import type { Lab, LabNode } from '../../helpers/lab/model.ts';
import { buildGuestImage, ensureGuestImage } from './guest.ts';
import { externalTxChecksumOff, guestPackages, guestsRun, mirrorChassisOptions, rbdClient, rbdSecret, tunnelNicOnBridge } from './guests.ts';
import { cephConf, clientKeyring } from './ceph.ts';
import {
  caForServices, chassisSettings, cinderDir, cloudsFile, completeMarker, DATABASES, deployedServices, externalBridge, glanceDir, keystoneDir, layout,
  mariadbDir, mariadbSocket, neutronDir, novaDir, OPENSTACK_PACKAGES, openrcFile, ovnDb, ovnSbRemote, ovsDb, ovsRun, placementDir,
  renderCloudsYaml, renderOpenrc, SERVICE_USERS, storagePackages, TIERS, cinderBackends, type OpenstackSecrets,
} from './openstack.ts';
import { netnsName, type LabPaths } from './paths.ts';
import { writeIfChanged } from './pki.ts';
import type { Daemon } from './render.ts';
import { run, sleep, tryRun, type Progress } from './sh.ts';
import { programStatus } from './supervisor.ts';
import { addSecret } from '../../helpers/gate/redact.ts';

/** The Debian packages of the OpenStack part, Ceph and guests as far as the spec has them. */
export function openstackPackages(lab: Lab): string[] {
  return [...OPENSTACK_PACKAGES, ...storagePackages(lab), ...guestPackages(lab)];
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

/** Run a one-time step unless its marker holds the same input hash. */
async function once(paths: LabPaths, step: string, input: string, fn: () => Promise<unknown>): Promise<string> {
  const marker = join(paths.root, 'openstack', 'done', step);
  const h = sha(input);
  if (existsSync(marker) && readFileSync(marker, 'utf8') === h) return 'done before';
  await fn();
  mkdirSync(dirname(marker), { recursive: true });
  writeFileSync(marker, h);
  return 'done';
}

/**
 * RabbitMQ definitions that create (or update) a user with full permissions on vhost /, its password as RabbitMQ
 * stores it (rabbit_password_hashing_sha256: a 4-byte salt, then SHA-256 of salt and password, base64).
 */
export function rabbitUserDefinitions(user: string, password: string, salt: Buffer = randomBytes(4)): string {
  const hash = Buffer.concat([salt, createHash('sha256').update(Buffer.concat([salt, Buffer.from(password, 'utf8')])).digest()]);
  return JSON.stringify({
    users: [{ name: user, password_hash: hash.toString('base64'), hashing_algorithm: 'rabbit_password_hashing_sha256', tags: [] }],
    permissions: [{ user, vhost: '/', configure: '.*', write: '.*', read: '.*' }],
  });
}

/** A command inside a node's namespace, as a system user. */
export function inNode(lab: Lab, node: LabNode, user: string | undefined, argv: string[], timeout = 300_000, more: { env?: Record<string, string>; input?: string } = {}) {
  const drop = user ? ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--'] : [];
  const env = { PATH: `/usr/sbin:/usr/bin:/sbin:/bin`, ...more.env };
  return run('ip', ['netns', 'exec', netnsName(lab, node), ...drop, ...argv], { timeout, env, extendEnv: true, input: more.input });
}

const ctl = (paths: LabPaths, args: string[]) => tryRun('supervisorctl', ['-c', paths.supervisorConf, ...args]);

async function tcpUp(host: string, port: number): Promise<boolean> {
  const { Socket } = await import('node:net');
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, host, () => done(true));
  });
}

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(500);
  }
  throw new Error(`${what}: not ready after ${timeoutMs / 1000} s`);
}

/** Start (or restart when its config changed) the tier's programs; wait for their health probes and RUNNING. */
export async function startTier(lab: Lab, paths: LabPaths, daemons: readonly Daemon[], changed: ReadonlySet<string>, timeoutMs: number): Promise<string> {
  const states = new Map((await programStatus(paths)).map((s) => [s.program, s.state]));
  const start = daemons.filter((d) => states.get(d.program) !== 'RUNNING' && states.get(d.program) !== 'STARTING').map((d) => d.program);
  const restart = daemons.filter((d) => !start.includes(d.program) && changed.has(d.program)).map((d) => d.program);
  if (start.length) await ctl(paths, ['start', ...start]);
  if (restart.length) await ctl(paths, ['restart', ...restart]);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = new Map((await programStatus(paths)).map((s) => [s.program, s]));
    const bad: string[] = [];
    for (const d of daemons) {
      const s = st.get(d.program);
      if (s?.state !== 'RUNNING') bad.push(`${d.program} ${s?.state ?? 'ABSENT'} ${s?.detail ?? ''}`.trim());
      else for (const h of d.health) if (h.kind === 'tcp' && !(await tcpUp(h.host, h.port))) bad.push(`${d.program}: ${h.host}:${h.port} closed`);
    }
    if (bad.length === 0) break;
    if (Date.now() > deadline || bad.some((b) => / FATAL| BACKOFF/.test(b) && Date.now() > deadline - timeoutMs + 60_000)) {
      throw new Error(`not healthy after ${((Date.now() - deadline + timeoutMs) / 1000).toFixed(0)} s:\n  ${bad.join('\n  ')}\n  (logs: ${paths.logs}/<node>/<service>.log)`);
    }
    await sleep(500);
  }
  return [start.length ? `started ${start.length}` : '', restart.length ? `restarted ${restart.join(' ')}` : ''].filter(Boolean).join(', ') || 'running';
}

// ---------------------------------------------------------------- REST

export class Api {
  private readonly agent: Agent;
  token = '';
  constructor(ca: string) {
    this.agent = new Agent({ connect: { ca } });
  }
  async call<T = Record<string, unknown>>(method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, body?: unknown, ok = [200, 201, 204]): Promise<{ status: number; body: T; headers: Record<string, unknown> }> {
    const r = await request(url, {
      method,
      dispatcher: this.agent,
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(this.token ? { 'x-auth-token': this.token } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.body.text();
    if (!ok.includes(r.statusCode)) throw new Error(`${method} ${url} → ${r.statusCode}: ${text.slice(0, 300)}`);
    return { status: r.statusCode, body: (text ? JSON.parse(text) : {}) as T, headers: r.headers };
  }
  close() {
    return this.agent.close();
  }
}

/** URLs the bootstrap itself uses: the internal VIP by address (its certificate carries the address too). */
export function viaVip(lab: Lab, service: string): string {
  const vip = lab.vip(lab.spec.endpoints?.internal ?? lab.vips[0]!.name);
  return `${lab.tls.internal ? 'https' : 'http'}://${vip.address}:${lab.spec.services![service]!.port}`;
}

export const passwordAuth = (user: string, password: string, project: string) => ({
  auth: { identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } }, scope: { project: { name: project, domain: { id: 'default' } } } },
});

type Obj = { id: string; name?: string; [k: string]: unknown };

async function registerKeystone(lab: Lab, api: Api, s: OpenstackSecrets): Promise<string> {
  const ks = viaVip(lab, 'keystone');
  const t = await api.call('POST', `${ks}/v3/auth/tokens`, passwordAuth('admin', s.adminPassword, 'admin'));
  api.token = String(t.headers['x-subject-token']);
  const notes: string[] = [];
  const ensure = async (kind: string, query: string, create: Record<string, unknown>): Promise<Obj> => {
    const list = (await api.call<Record<string, Obj[]>>('GET', `${ks}/v3/${kind}?${query}`)).body[kind] ?? [];
    if (list[0]) return list[0];
    notes.push(`${kind.slice(0, -1)} ${String(create.name ?? create.type)}`);
    const one = kind.slice(0, -1);
    return (await api.call<Record<string, Obj>>('POST', `${ks}/v3/${kind}`, { [one]: create })).body[one]!;
  };
  const project = await ensure('projects', 'name=service&domain_id=default', { name: 'service', domain_id: 'default', description: 'Service project' });
  const admin = await ensure('roles', 'name=admin', { name: 'admin' });
  const service = await ensure('roles', 'name=service', { name: 'service' });
  const deployed = new Set(deployedServices(lab));
  for (const u of SERVICE_USERS.filter((x) => deployed.has(x))) {
    const user = await ensure('users', `name=${u}&domain_id=default`, { name: u, domain_id: 'default', password: s.service[u], enabled: true });
    for (const role of [admin, service]) await api.call('PUT', `${ks}/v3/projects/${project.id}/users/${user.id}/roles/${role.id}`);
    const probe = new Api(readFileSync(caForServicesPath, 'utf8'));
    const auth = await probe.call('POST', `${ks}/v3/auth/tokens`, passwordAuth(u, s.service[u]!, 'service'), [201, 401]);
    await probe.close();
    if (auth.status === 401) {
      await api.call('PATCH', `${ks}/v3/users/${user.id}`, { user: { password: s.service[u] } });
      notes.push(`password of ${u}`);
    }
  }
  for (const name of deployedServices(lab)) {
    const spec = lab.spec.services![name]!;
    const svc = await ensure('services', `type=${spec.type}`, { name, type: spec.type, enabled: true });
    const existing = (await api.call<{ endpoints: (Obj & { interface: string; url: string; region_id: string })[] }>('GET', `${ks}/v3/endpoints?service_id=${svc.id}`)).body.endpoints;
    for (const c of lab.expectedCatalog.filter((x) => x.service === name)) {
      const url = `${c.scheme}://${c.host}:${c.port}${spec.path ?? ''}`;
      const ep = existing.find((e) => e.interface === c.interface && e.region_id === lab.region);
      if (!ep) {
        await api.call('POST', `${ks}/v3/endpoints`, { endpoint: { service_id: svc.id, interface: c.interface, url, region_id: lab.region, enabled: true } });
        notes.push(`${name} ${c.interface}`);
      } else if (ep.url !== url) {
        await api.call('PATCH', `${ks}/v3/endpoints/${ep.id}`, { endpoint: { url } });
        notes.push(`${name} ${c.interface} url`);
      }
    }
  }
  return notes.length ? `created ${notes.join(', ')}` : 'all present';
}
let caForServicesPath = '';

async function ensureExternalNetwork(lab: Lab, api: Api): Promise<string> {
  const ext = lab.spec.neutron?.externalNetwork;
  if (!ext) return 'spec has no external network';
  const net = lab.network(ext.network);
  const q = viaVip(lab, 'neutron');
  const name = ext.name ?? 'public';
  let n = (await api.call<{ networks: Obj[] }>('GET', `${q}/v2.0/networks?name=${name}`)).body.networks[0];
  const made: string[] = [];
  if (!n) {
    n = (
      await api.call<{ network: Obj }>('POST', `${q}/v2.0/networks`, {
        network: { name, 'router:external': true, shared: false, 'provider:network_type': 'flat', 'provider:physical_network': lab.spec.neutron?.physnet ?? 'physnet1' },
      })
    ).body.network;
    made.push(`network ${name}`);
  }
  const subnets = (await api.call<{ subnets: Obj[] }>('GET', `${q}/v2.0/subnets?network_id=${n.id}`)).body.subnets;
  if (subnets.length === 0) {
    await api.call('POST', `${q}/v2.0/subnets`, {
      subnet: {
        network_id: n.id, name: `${name}-subnet`, ip_version: 4, cidr: net.cidr.text, gateway_ip: net.gateway ?? null, enable_dhcp: false,
        allocation_pools: [{ start: ext.floatingRange.start, end: ext.floatingRange.end }],
      },
    });
    made.push(`subnet ${net.cidr.text}`);
  }
  return made.length ? `created ${made.join(', ')}` : `${name} present`;
}

/**
 * A public volume type per backend of the phase the lab is in that it can run (volume_backend_name = the backend
 * section); a backend it cannot run gets no type (nothing may be scheduled onto a backend that does not exist).
 */
async function ensureVolumeTypes(lab: Lab, api: Api): Promise<string> {
  const ks = viaVip(lab, 'keystone');
  const project = (await api.call<{ projects: Obj[] }>('GET', `${ks}/v3/projects?name=admin&domain_id=default`)).body.projects[0];
  if (!project) throw new Error('no admin project');
  const base = `${viaVip(lab, 'cinder')}${lab.spec.services!.cinder!.path ?? '/v3'}/${project.id}`;
  const notes: string[] = [];
  const types = (await api.call<{ volume_types: (Obj & { extra_specs?: Record<string, string> })[] }>('GET', `${base}/types?is_public=None`)).body.volume_types;
  for (const b of cinderBackends(lab)) {
    if (!b.runs || !b.volumeType) {
      notes.push(`${b.name}: no type (${b.why ?? 'the spec names no volume type'})`);
      continue;
    }
    let vt = types.find((x) => x.name === b.volumeType);
    if (!vt) {
      vt = (await api.call<{ volume_type: Obj }>('POST', `${base}/types`, { volume_type: { name: b.volumeType, 'os-volume-type-access:is_public': true, description: `Cinder backend ${b.name} (${b.driver})` } })).body.volume_type;
      notes.push(`created type ${b.volumeType}`);
    }
    const specs = (await api.call<{ extra_specs: Record<string, string> }>('GET', `${base}/types/${vt.id}/extra_specs`)).body.extra_specs;
    if (specs.volume_backend_name !== b.name) {
      await api.call('POST', `${base}/types/${vt.id}/extra_specs`, { extra_specs: { volume_backend_name: b.name } });
      notes.push(`${b.volumeType} → ${b.name}`);
    }
    if (!notes.some((n) => n.includes(b.volumeType!))) notes.push(`${b.volumeType} → ${b.name} present`);
  }
  return notes.join('; ');
}

// ---------------------------------------------------------------- the whole OpenStack part

/**
 * The OpenStack part. `storage` is the Ceph part coming up beside it: the services that are Ceph's clients (Glance,
 * Cinder, nova-compute's libvirt secret) start only once it is there; everything before them overlaps with it.
 */
export async function upOpenstack(
  lab: Lab, paths: LabPaths, s: OpenstackSecrets, daemons: readonly Daemon[], changedList: readonly string[], p: Progress,
  storage: Promise<void> = Promise.resolve(),
): Promise<void> {
  const l = layout(lab);
  const changed = new Set(changedList);
  const byService = (names: readonly string[]) => daemons.filter((d) => names.includes(d.service));
  caForServicesPath = caForServices(paths);
  // Services run as their own users: they read the lab CA from a copy outside the 0700 certificates dir.
  mkdirSync(dirname(caForServicesPath), { recursive: true });
  chmodSync(dirname(caForServicesPath), 0o755);
  copyFileSync(paths.caCert, caForServicesPath);
  chmodSync(caForServicesPath, 0o644);

  await p.step('OpenStack: data directories', async () => {
    const made: string[] = [];
    const ddir = `${mariadbDir(paths, l.database)}/data`;
    if (!existsSync(`${ddir}/mysql`)) {
      await run('mariadb-install-db', ['--no-defaults', '--user=mysql', `--datadir=${ddir}`, '--auth-root-authentication-method=socket', '--skip-test-db'], { timeout: 120_000 });
      made.push('mariadb');
      // A new database means every one-time step is due again.
      rmSync(join(paths.root, 'openstack', 'done'), { recursive: true, force: true });
      rmSync(completeMarker(paths), { force: true });
    }
    for (const n of daemons.filter((d) => d.service === 'ovsdb-server')) {
      const db = ovsDb(paths, lab.node(n.node));
      if (!existsSync(db)) {
        mkdirSync(dirname(db), { recursive: true });
        await run('ovsdb-tool', ['create', db, '/usr/share/openvswitch/vswitch.ovsschema']);
        made.push(`ovs ${n.node}`);
      }
    }
    if (daemons.some((d) => d.service === 'ovn-nb-db')) {
      for (const which of ['nb', 'sb'] as const) {
        const db = ovnDb(paths, l.ovnCentral, which);
        if (!existsSync(db)) {
          mkdirSync(dirname(db), { recursive: true });
          await run('ovsdb-tool', ['create', db, `/usr/share/ovn/ovn-${which}.ovsschema`]);
          made.push(`ovn ${which}`);
        }
      }
    }
    return made.length ? `created ${made.join(', ')}` : 'present';
  });

  await p.step('OpenStack: MariaDB, RabbitMQ, memcached, OVN databases, OVS', () => startTier(lab, paths, byService(TIERS[0]!), changed, 120_000));

  await p.step('OpenStack: databases and users', () => {
    const grants: Record<string, string[]> = { keystone: ['keystone'], glance: ['glance'], placement: ['placement'], nova: ['nova_api', 'nova', 'nova_cell0'], neutron: ['neutron'], cinder: ['cinder'] };
    const sql = [
      ...DATABASES.map((d) => `CREATE DATABASE IF NOT EXISTS ${d};`),
      ...Object.entries(grants).flatMap(([u, dbs]) => [
        `CREATE USER IF NOT EXISTS '${u}'@'%' IDENTIFIED BY '${s.db[u]}';`,
        `ALTER USER '${u}'@'%' IDENTIFIED BY '${s.db[u]}';`,
        ...dbs.map((d) => `GRANT ALL PRIVILEGES ON ${d}.* TO '${u}'@'%';`),
      ]),
      // The mysqld exporter's read-only user (Kolla's exporter grants).
      ...(s.db.exporter
        ? [
            `CREATE USER IF NOT EXISTS 'exporter'@'%' IDENTIFIED BY '${s.db.exporter}' WITH MAX_USER_CONNECTIONS 3;`,
            `ALTER USER 'exporter'@'%' IDENTIFIED BY '${s.db.exporter}';`,
            "GRANT PROCESS, REPLICATION CLIENT, SELECT, SLAVE MONITOR ON *.* TO 'exporter'@'%';",
          ]
        : []),
      'FLUSH PRIVILEGES;',
    ].join('\n');
    return once(paths, 'databases', sql, () => run('mariadb', [`--socket=${mariadbSocket(paths, l.database)}`, '-u', 'root'], { input: sql }));
  });

  await p.step('OpenStack: RabbitMQ user', async () => {
    const rdir = paths.node(l.messaging.name, 'rabbitmq');
    const cookieFile = `${rdir}/.erlang.cookie`;
    return once(paths, 'rabbit-user', s.rabbitPassword + readFileSync(cookieFile, 'utf8'), async () => {
      addSecret(readFileSync(cookieFile, 'utf8').trim());
      // Neither the cookie nor the password on a command line (ps shows it to every user): rabbitmqctl reads the
      // cookie from $HOME/.erlang.cookie (the server's HOME), the user comes as definitions on stdin.
      const rmq = (args: string[], input?: string) =>
        inNode(lab, l.messaging, undefined, ['/usr/lib/rabbitmq/bin/rabbitmqctl', '-n', 'rabbit@localhost', ...args], 60_000, { env: { HOME: rdir }, input });
      await rmq(['await_startup']);
      // RabbitMQ 3.10 (Debian 12) reads definitions from a file only: one only root can read, gone right after.
      const defs = join(rdir, `.definitions-${randomBytes(6).toString('hex')}.json`);
      writeFileSync(defs, rabbitUserDefinitions('openstack', s.rabbitPassword), { mode: 0o600 });
      try {
        await rmq(['import_definitions', '--format', 'json', defs]);
      } finally {
        rmSync(defs, { force: true });
      }
    });
  });

  if (l.chassis.length && daemons.some((d) => d.service === 'ovs-vswitchd')) {
    await p.step(`OpenStack: OVS on ${l.chassis.map((n) => n.name).join(', ')}`, async () => {
      for (const n of l.chassis) {
        const vsctl = (args: string[]) => run('ovs-vsctl', [`--db=unix:${ovsRun(paths, n)}/db.sock`, '--timeout=20', ...args]);
        await vsctl(['--no-wait', 'init']);
        const settings = chassisSettings(lab, l, n);
        await vsctl(['--no-wait', 'set', 'open', '.', ...Object.entries(settings).map(([k, v]) => `external_ids:${k}="${v}"`)]);
        const ext = l.network.some((x) => x.name === n.name) ? externalBridge(lab, n) : undefined;
        if (ext) {
          await vsctl(['--no-wait', '--may-exist', 'add-br', ext.bridge, '--', 'set', 'bridge', ext.bridge, 'datapath_type=netdev', '--', '--may-exist', 'add-port', ext.bridge, ext.nic]);
        }
      }
      return `${l.chassis.length} chassis configured`;
    });
    if (guestsRun(lab)) await p.step('OpenStack: full checksums into the userspace datapath (external veth)', () => externalTxChecksumOff(lab, l.network));
  }

  const kdir = keystoneDir(paths, l.control);
  const kconf = `${kdir}/keystone.conf`;
  await p.step('OpenStack: Keystone db_sync, fernet and credential keys, bootstrap', () =>
    once(paths, 'keystone', readFileSync(kconf, 'utf8') + s.adminPassword, async () => {
      const km = (args: string[], env?: Record<string, string>) => inNode(lab, l.control, 'keystone', ['keystone-manage', '--config-file', kconf, ...args], undefined, { env });
      await km(['db_sync']);
      if (readdirSync(`${kdir}/fernet-keys`).length === 0) await km(['fernet_setup', '--keystone-user', 'keystone', '--keystone-group', 'keystone']);
      if (readdirSync(`${kdir}/credential-keys`).length === 0) await km(['credential_setup', '--keystone-user', 'keystone', '--keystone-group', 'keystone']);
      // The admin password from the environment keystone-manage reads it from, not on its command line.
      await km([
        'bootstrap', '--bootstrap-username', 'admin', '--bootstrap-project-name', 'admin',
        '--bootstrap-role-name', 'admin', '--bootstrap-service-name', 'keystone', '--bootstrap-region-id', lab.region,
        '--bootstrap-public-url', `${lab.expectedCatalog.find((c) => c.service === 'keystone' && c.interface === 'public')!.scheme}://${lab.vip(lab.spec.endpoints!.public!).host}:${lab.spec.services!.keystone!.port}`,
        '--bootstrap-internal-url', `${lab.expectedCatalog.find((c) => c.service === 'keystone' && c.interface === 'internal')!.scheme}://${lab.vip(lab.spec.endpoints!.internal!).host}:${lab.spec.services!.keystone!.port}`,
      ], { OS_BOOTSTRAP_PASSWORD: s.adminPassword });
    }),
  );

  await p.step('OpenStack: Keystone, OVS and ovn-controller running', () => startTier(lab, paths, byService(TIERS[1]!), changed, 90_000));
  if (l.chassis.length && guestsRun(lab)) {
    await p.step('OpenStack: tunnel NICs on OVS bridges (native Geneve of the userspace datapath)', () => tunnelNicOnBridge(lab, paths, l.chassis));
  }
  if (l.chassis.length && daemons.some((d) => d.service === 'ovn-controller')) {
    await p.step('OpenStack: chassis options where Neutron Zed reads them (southbound external_ids)', () =>
      mirrorChassisOptions(ovnSbRemote(lab, l), netnsName(lab, l.ovnCentral), l.chassis.map((n) => ({ name: n.hostname, settings: chassisSettings(lab, l, n) }))),
    );
  }

  const api = new Api(readFileSync(paths.caCert, 'utf8'));
  try {
    await p.step('OpenStack: Keystone answers through HAProxy (internal VIP, TLS)', async () => {
      await waitFor('keystone via VIP', 60_000, async () => (await api.call('GET', `${viaVip(lab, 'keystone')}/v3`, undefined, [200, 503]).catch(() => ({ status: 0 }))).status === 200);
      return viaVip(lab, 'keystone');
    });
    await p.step('OpenStack: service project, users, roles, services and endpoints (REST)', () => registerKeystone(lab, api, s));

    await p.step('OpenStack: db sync of every service', async () => {
      const syncs: Promise<string>[] = [];
      const svc = new Set(deployedServices(lab));
      const conf = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
      if (svc.has('glance')) {
        const f = `${glanceDir(paths, l.control)}/glance-api.conf`;
        syncs.push(once(paths, 'glance-db', conf(f), () => inNode(lab, l.control, 'glance', ['glance-manage', '--config-file', f, 'db_sync'])).then((r) => `glance ${r}`));
      }
      if (svc.has('placement')) {
        const f = `${placementDir(paths, l.control)}/placement.conf`;
        syncs.push(once(paths, 'placement-db', conf(f), () => inNode(lab, l.control, 'placement', ['placement-manage', '--config-file', f, 'db', 'sync'])).then((r) => `placement ${r}`));
      }
      if (svc.has('nova')) {
        const f = `${novaDir(paths, l.control)}/nova.conf`;
        const nm = (args: string[]) => inNode(lab, l.control, 'nova', ['nova-manage', '--config-file', f, ...args]);
        syncs.push(
          once(paths, 'nova-db', conf(f), async () => {
            await nm(['api_db', 'sync']);
            await nm(['cell_v2', 'map_cell0']);
            const cells = await nm(['cell_v2', 'list_cells']);
            if (!/\bcell1\b/.test(cells)) await nm(['cell_v2', 'create_cell', '--name=cell1', '--verbose']);
            await nm(['db', 'sync']);
          }).then((r) => `nova ${r}`),
        );
      }
      if (svc.has('neutron')) {
        const d = neutronDir(paths, l.control);
        syncs.push(
          once(paths, 'neutron-db', conf(`${d}/neutron.conf`) + conf(`${d}/ml2_conf.ini`), () =>
            inNode(lab, l.control, 'neutron', ['neutron-db-manage', '--config-file', `${d}/neutron.conf`, '--config-file', `${d}/ml2_conf.ini`, 'upgrade', 'heads']),
          ).then((r) => `neutron ${r}`),
        );
      }
      if (svc.has('cinder')) {
        const f = `${cinderDir(paths, l.control)}/cinder.conf`;
        syncs.push(once(paths, 'cinder-db', conf(f), () => inNode(lab, l.control, 'cinder', ['cinder-manage', '--config-file', f, 'db', 'sync'])).then((r) => `cinder ${r}`));
      }
      return (await Promise.all(syncs)).join(', ');
    });

    await storage;
    await p.step('OpenStack: Glance, Placement, Nova API/conductor/scheduler, Neutron, Cinder API/scheduler running', () => startTier(lab, paths, byService(TIERS[2]!), changed, 180_000));
    const client = rbdClient(lab);
    if (client && daemons.some((d) => d.service === 'libvirtd')) {
      await p.step(`OpenStack: libvirt secret for RBD volumes and disks (${client.client})`, () => rbdSecret(lab, paths, l.compute, s.rbdSecretUuid, cephConf(paths), clientKeyring(paths, client.client)));
    }
    await p.step('OpenStack: nova-compute running', () => startTier(lab, paths, byService(TIERS[3]!), changed, 90_000));

    if (l.compute.length) {
      await p.step('OpenStack: compute hosts mapped to cell1 (discover_hosts)', () =>
        once(paths, 'hosts-mapped', l.compute.map((n) => n.hostname).join(','), async () => {
          const f = `${novaDir(paths, l.control)}/nova.conf`;
          const nm = (args: string[]) => inNode(lab, l.control, 'nova', ['nova-manage', '--config-file', f, ...args]);
          // Each nova-manage call costs seconds of Python start-up: wait on the API until nova-compute runs on every
          // compute node (os-services spans the cells; os-hypervisors shows only mapped hosts), then map them.
          const nova = `${viaVip(lab, 'nova')}${lab.spec.services!.nova!.path ?? '/v2.1'}`;
          await waitFor('nova-compute up on every compute node', 120_000, async () => {
            type Service = { host: string; state: string };
            const path = `${nova}/os-services?binary=nova-compute`;
            const r = await api.call<{ services: Service[] }>('GET', path, undefined, [200, 503]).catch(() => undefined);
            const up = (r?.body.services ?? []).filter((x) => x.state === 'up').map((x) => x.host.split('.')[0]);
            return l.compute.every((n) => up.includes(n.hostname.split('.')[0]));
          });
          await waitFor('compute hosts mapped', 120_000, async () => {
            await nm(['cell_v2', 'discover_hosts', '--verbose']);
            const hosts = await nm(['cell_v2', 'list_hosts']);
            return l.compute.every((n) => hosts.includes(` ${n.hostname} `));
          });
        }),
      );
    }

    await p.step('OpenStack: every API answers through HAProxy (internal VIP, TLS)', async () => {
      // A crash-looping WSGI app can look RUNNING to supervisor: only an HTTP answer below 500 counts.
      const bad: string[] = [];
      await waitFor('APIs through the VIP', 90_000, async () => {
        bad.length = 0;
        for (const svc of deployedServices(lab)) {
          const r = await api.call('GET', `${viaVip(lab, svc)}/`, undefined, [200, 300, 401, 404, 500, 502, 503, 504]).catch((e: unknown) => ({ status: String(e) }));
          if (typeof r.status !== 'number' || r.status >= 500) bad.push(`${svc} ${r.status}`);
        }
        return bad.length === 0;
      }).catch((e: unknown) => {
        throw new Error(`${String(e)}: ${bad.join(', ')}`);
      });
      return deployedServices(lab).join(', ');
    });

    if (deployedServices(lab).includes('cinder') && cinderBackends(lab).length) {
      await p.step('OpenStack: a volume type per Cinder backend the lab runs', () => ensureVolumeTypes(lab, api));
    }
    if (deployedServices(lab).includes('neutron')) {
      await p.step('OpenStack: external network', async () => {
        await waitFor('neutron via VIP', 60_000, async () => (await api.call('GET', `${viaVip(lab, 'neutron')}/v2.0/networks?limit=1`, undefined, [200, 503]).catch(() => ({ status: 0 }))).status === 200);
        return ensureExternalNetwork(lab, api);
      });
    }
    const guestImage = lab.spec.compute?.guestImage;
    if (guestImage && guestsRun(lab) && deployedServices(lab).includes('glance')) {
      await p.step(`OpenStack: guest image ${guestImage.name} (built from Debian packages, in Glance)`, async () => {
        const image = await buildGuestImage(paths.root);
        return ensureGuestImage({ glance: viaVip(lab, 'glance'), token: api.token, ca: readFileSync(paths.caCert, 'utf8'), name: guestImage.name, image });
      });
    }
  } finally {
    await api.close();
  }

  await p.step('OpenStack: clouds.yaml and admin-openrc', async () => {
    const file = cloudsFile(lab, paths);
    writeIfChanged(file, renderCloudsYaml(lab, paths, s), 0o600);
    writeIfChanged(openrcFile(paths), renderOpenrc(lab, paths, s), 0o600);
    writeIfChanged(completeMarker(paths), 'the OpenStack part came up end to end; plain `lab up` maintains it\n');
    return file;
  });
}

/** Processes still inside the lab's namespaces after supervisor stopped (RabbitMQ's epmd daemonises): end them. */
export async function reapNamespaces(lab: Lab): Promise<string> {
  const ended: string[] = [];
  for (const node of lab.nodes) {
    const { out } = await tryRun('ip', ['netns', 'pids', netnsName(lab, node)]);
    for (const pid of out.split(/\s+/).filter((x) => /^\d+$/.test(x)).map(Number)) {
      try {
        process.kill(pid, 'SIGTERM');
        ended.push(`${node.name}:${pid}`);
      } catch {
        // gone already
      }
    }
  }
  return ended.length ? `ended ${ended.join(' ')}` : 'none left';
}
