/**
 * Keystone under uwsgi on every control node: db_sync, fernet and credential keys, `keystone-manage bootstrap` once, on
 * the first, whose key sets the others get (as Kolla distributes one set);
 * the service project and roles; and `register`, which every other service's bootstrap calls for its user, service
 * and endpoints (the REST API: the CLI costs ~1.5 s per call).
 */
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quote } from '../../../helpers/node/quote.ts';
import { Api, passwordAuth, viaVip } from '../api.ts';
import type { Component, LabContext, RenderedFile, UpContext } from '../component.ts';
import { head, ini } from '../config.ts';
import { inNode, once } from '../exec.ts';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import type { LabPaths } from '../paths.ts';
import {
  adminApi, answersViaVip, caForServices, dbPackages, hasService, layout, memcachedServers, openstackContext,
  openstackSecrets, serviceUrl, servicePort, dbUrl, uwsgi, SERVICE_USERS, type OpenstackContext, type OpenstackSecrets,
} from './common.ts';
import { ensureDatabase } from './database.ts';
import { readFileSync } from 'node:fs';

export const keystoneDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'keystone');

export function keystoneConf(c: OpenstackContext, node: LabNode = c.layout.control): string {
  const dir = keystoneDir(c.paths, node);
  return ini(
    {
      DEFAULT: { use_stderr: true },
      database: { connection: dbUrl(c, 'keystone', 'keystone'), max_retries: -1 },
      token: { provider: 'fernet', expiration: 86400 },
      fernet_tokens: { key_repository: `${dir}/fernet-keys`, max_active_keys: 3 },
      credential: { key_repository: `${dir}/credential-keys` },
      cache: { enabled: true, backend: 'oslo_cache.memcache_pool', memcache_servers: memcachedServers(c) },
      oslo_middleware: { enable_proxy_headers_parsing: true },
    },
    head(c.lab, node, 'keystone.conf'),
  );
}

function renderKeystone(c: OpenstackContext, node: LabNode) {
  const dir = keystoneDir(c.paths, node);
  const d = uwsgi(c, node, {
    service: 'keystone', user: 'keystone', wsgiFile: '/usr/bin/keystone-wsgi-public', port: servicePort(c.lab, 'keystone'),
    env: { OS_KEYSTONE_CONFIG_DIR: dir }, dir,
  });
  const conf = { path: `${dir}/keystone.conf`, content: keystoneConf(c, node), owner: 'keystone', mode: 0o640 };
  // Keystone warns of key repositories others can read; keystone-manage and Kolla make them 0700.
  const keys = ['fernet-keys', 'credential-keys'].map((k) => ({ path: `${dir}/${k}`, owner: 'keystone', mode: 0o700 }));
  return { ...d, files: [...d.files, conf], dirs: [...d.dirs, ...keys] };
}

const endpointUrl = (lab: Lab, iface: 'public' | 'internal') => {
  const c = lab.expectedCatalog.find((x) => x.service === 'keystone' && x.interface === iface)!;
  return `${c.scheme}://${c.host}:${c.port}`;
};

async function bootstrapKeystone(c: UpContext): Promise<string> {
  const { lab, paths } = c;
  const control = openstackContext(c).layout.control;
  const kdir = keystoneDir(paths, control);
  const kconf = `${kdir}/keystone.conf`;
  const admin = openstackSecrets(paths).adminPassword;
  return once(paths, 'keystone', readFileSync(kconf, 'utf8') + admin, async () => {
    const km = (args: string[], env?: Record<string, string>) =>
      inNode(lab, control, 'keystone', ['keystone-manage', '--config-file', kconf, ...args], undefined, { env });
    await km(['db_sync']);
    const owner = ['--keystone-user', 'keystone', '--keystone-group', 'keystone'];
    if (readdirSync(`${kdir}/fernet-keys`).length === 0) await km(['fernet_setup', ...owner]);
    if (readdirSync(`${kdir}/credential-keys`).length === 0) await km(['credential_setup', ...owner]);
    // The admin password from the environment keystone-manage reads it from, not on its command line.
    await km([
      'bootstrap', '--bootstrap-username', 'admin', '--bootstrap-project-name', 'admin',
      '--bootstrap-role-name', 'admin', '--bootstrap-service-name', 'keystone', '--bootstrap-region-id', lab.region,
      '--bootstrap-public-url', endpointUrl(lab, 'public'), '--bootstrap-internal-url', endpointUrl(lab, 'internal'),
    ], { OS_BOOTSTRAP_PASSWORD: admin });
  });
}

/**
 * The first controller's fernet and credential keys copied to every other one (owner and mode kept), as Kolla's
 * keystone-fernet distributes one key set: a token one controller issued is valid on any other.
 */
export function shareKeys({ lab, paths }: LabContext): string {
  const { control, controls } = layout(lab);
  const copied: string[] = [];
  for (const kind of ['fernet-keys', 'credential-keys']) {
    const from = join(keystoneDir(paths, control), kind);
    const keys = readdirSync(from);
    for (const node of controls.filter((n) => n !== control)) {
      const to = join(keystoneDir(paths, node), kind);
      mkdirSync(to, { recursive: true, mode: 0o700 });
      const { uid, gid } = statSync(from);
      chownSync(to, uid, gid);
      for (const f of readdirSync(to).filter((k) => !keys.includes(k))) rmSync(join(to, f));
      for (const k of keys) {
        const src = join(from, k);
        const dst = join(to, k);
        const content = readFileSync(src);
        if (existsSync(dst) && readFileSync(dst).equals(content)) continue;
        writeFileSync(dst, content, { mode: 0o600 });
        chownSync(dst, uid, gid);
        copied.push(`${node.name}/${kind}/${k}`);
      }
    }
  }
  return copied.length ? `copied ${copied.join(', ')}` : 'the same';
}

type Obj = { id: string; name?: string; [k: string]: unknown };

/** Find a Keystone object by query or create it; `made` collects what was created. */
async function ensureObject(api: Api, lab: Lab, kind: string, query: string, create: Record<string, unknown>, made: string[]): Promise<Obj> {
  const ks = viaVip(lab, 'keystone');
  const list = (await api.call<Record<string, Obj[]>>('GET', `${ks}/v3/${kind}?${query}`)).body[kind] ?? [];
  if (list[0]) return list[0];
  const one = kind.slice(0, -1);
  made.push(`${one} ${String(create.name ?? create.type)}`);
  return (await api.call<Record<string, Obj>>('POST', `${ks}/v3/${kind}`, { [one]: create })).body[one]!;
}

async function projectAndRoles(c: UpContext): Promise<string> {
  const api = await adminApi(c);
  const made: string[] = [];
  await ensureObject(api, c.lab, 'projects', 'name=service&domain_id=default', { name: 'service', domain_id: 'default', description: 'Service project' }, made);
  for (const role of ['admin', 'service']) await ensureObject(api, c.lab, 'roles', `name=${role}`, { name: role }, made);
  return made.length ? `created ${made.join(', ')}` : 'present';
}

/** A service's user (admin and service roles in project service, its password current), service and endpoints. */
export async function register(c: UpContext, name: string): Promise<string> {
  const { lab } = c;
  const api = await adminApi(c);
  const ks = viaVip(lab, 'keystone');
  const made: string[] = [];
  if ((SERVICE_USERS as readonly string[]).includes(name)) await serviceUser(c, api, name, made);
  const spec = lab.spec.services![name]!;
  const svc = await ensureObject(api, lab, 'services', `type=${spec.type}`, { name, type: spec.type, enabled: true }, made);
  type Endpoint = Obj & { interface: string; url: string; region_id: string };
  const existing = (await api.call<{ endpoints: Endpoint[] }>('GET', `${ks}/v3/endpoints?service_id=${svc.id}`)).body.endpoints;
  for (const e of lab.expectedCatalog.filter((x) => x.service === name)) {
    const url = `${e.scheme}://${e.host}:${e.port}${spec.path ?? ''}`;
    const ep = existing.find((x) => x.interface === e.interface && x.region_id === lab.region);
    if (!ep) {
      const endpoint = { service_id: svc.id, interface: e.interface, url, region_id: lab.region, enabled: true };
      await api.call('POST', `${ks}/v3/endpoints`, { endpoint });
      made.push(`${name} ${e.interface}`);
    } else if (ep.url !== url) {
      await api.call('PATCH', `${ks}/v3/endpoints/${ep.id}`, { endpoint: { url } });
      made.push(`${name} ${e.interface} url`);
    }
  }
  return made.length ? `created ${made.join(', ')}` : 'present';
}

/**
 * Roles a service's policy names, made when missing; each grant (a user's role in a project, both by name in the
 * default domain) given when missing.
 */
export async function ensureRoles(
  c: UpContext, roles: readonly string[], grants: readonly { user: string; project: string; role: string }[],
): Promise<string> {
  const api = await adminApi(c);
  const ks = viaVip(c.lab, 'keystone');
  const made: string[] = [];
  const ids = new Map<string, string>();
  for (const r of roles) ids.set(r, (await ensureObject(api, c.lab, 'roles', `name=${r}`, { name: r }, made)).id);
  for (const g of grants) {
    const find = async (kind: string, name: string) => {
      const list = (await api.call<Record<string, Obj[]>>('GET', `${ks}/v3/${kind}?name=${encodeURIComponent(name)}&domain_id=default`)).body[kind] ?? [];
      if (!list[0]) throw new Error(`Keystone has no ${kind.slice(0, -1)} ${name} in domain default to grant ${g.role} to`);
      return list[0].id;
    };
    const [user, project] = [await find('users', g.user), await find('projects', g.project)];
    const role = ids.get(g.role) ?? (await ensureObject(api, c.lab, 'roles', `name=${g.role}`, { name: g.role }, made)).id;
    const q = `user.id=${user}&scope.project.id=${project}&role.id=${role}`;
    const given = (await api.call<{ role_assignments: unknown[] }>('GET', `${ks}/v3/role_assignments?${q}`)).body.role_assignments;
    if (given.length === 0) {
      await api.call('PUT', `${ks}/v3/projects/${project}/users/${user}/roles/${role}`);
      made.push(`${g.role} for ${g.user} in ${g.project}`);
    }
  }
  return made.length ? `created ${made.join(', ')}` : 'present';
}

async function serviceUser(c: UpContext, api: Api, name: string, made: string[]): Promise<void> {
  const { lab, paths } = c;
  const ks = viaVip(lab, 'keystone');
  const password = openstackSecrets(paths).service[name]!;
  const project = await ensureObject(api, lab, 'projects', 'name=service&domain_id=default', { name: 'service', domain_id: 'default' }, made);
  const user = await ensureObject(api, lab, 'users', `name=${name}&domain_id=default`, { name, domain_id: 'default', password, enabled: true }, made);
  for (const r of ['admin', 'service']) {
    const role = await ensureObject(api, lab, 'roles', `name=${r}`, { name: r }, made);
    await api.call('PUT', `${ks}/v3/projects/${project.id}/users/${user.id}/roles/${role.id}`);
  }
  const probe = new Api(readFileSync(caForServices(paths), 'utf8'));
  const auth = await probe.call('POST', `${ks}/v3/auth/tokens`, passwordAuth(name, password, 'service'), [201, 401]).finally(() => probe.close());
  if (auth.status === 401) {
    await api.call('PATCH', `${ks}/v3/users/${user.id}`, { user: { password } });
    made.push(`password of ${name}`);
  }
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

export const keystone: Component = {
  name: 'keystone',
  // PostgreSQL's standbys too: with synchronous ones, a commit waits until they stream.
  after: ['mariadb', 'postgresql-standby', 'memcached', 'openstack'],
  needed: (lab) => hasService(lab, 'keystone'),
  packages: (lab) => ['keystone', 'uwsgi', 'uwsgi-plugin-python3', 'python3-openstackclient', ...dbPackages(lab)],
  render: (ctx) => {
    const c = openstackContext(ctx);
    return c.layout.controls.map((n) => renderKeystone(c, n));
  },
  files: ({ lab, paths }: LabContext): RenderedFile[] => {
    const s = openstackSecrets(paths);
    return [
      { path: cloudsFile(lab, paths), content: renderCloudsYaml(lab, paths, s), mode: 0o600 },
      { path: openrcFile(paths), content: renderOpenrc(lab, paths, s), mode: 0o600 },
    ];
  },
  bootstrap: async (c) => {
    await c.step('database', () => ensureDatabase(c, 'keystone', ['keystone']));
    await c.step('db_sync, fernet and credential keys, bootstrap', () => bootstrapKeystone(c));
    if (layout(c.lab).controls.length > 1) await c.step('the same keys on every controller', async () => shareKeys(c));
  },
  configure: async (c) => {
    await c.step('answers through HAProxy (internal VIP, TLS)', () => answersViaVip(c, 'keystone', 60_000));
    await c.step('service project and roles', () => projectAndRoles(c));
  },
  keeps: ({ lab, paths }) => layout(lab).controls.map((n) => keystoneDir(paths, n)),
};
