/**
 * Horizon (Debian's openstack-dashboard) under uwsgi on the control node; HAProxy terminates TLS on the VIPs at
 * dashboard.port and forwards here. Django reads the lab's settings from the state dir, never /etc: a `local`
 * package there shadows Debian's /etc/openstack-dashboard/local_settings.py, because openstack_dashboard.settings
 * imports `local.local_settings` and only appends its own directory to sys.path (after uwsgi's pythonpath).
 * The static files and the offline-compressed CSS/JS are the package's (its postinst runs collectstatic and
 * compress into /var/lib/openstack-dashboard/static); the settings keep WEBROOT, STATIC_URL and the themes its
 * manifest was made with, so they serve as they are.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { addSecret } from '../../../helpers/gate/redact.ts';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { labLookup } from '../../../helpers/openstack/cloud.ts';
import { horizonBase } from '../../../helpers/openstack/horizon.ts';
import { daemon, type Component, type Daemon, type LabContext } from '../component.ts';
import { caForServices, layout, openstackEnabled, serviceUrl } from './common.ts';
import type { LabPaths } from '../paths.ts';
import { writeIfChanged } from '../config.ts';

/** Where uwsgi listens on the control node's API address (HAProxy's backend); free among the lab's ports. */
export const HORIZON_PORT = 8088;
/**
 * HAProxy's check of the backend: the login page, sent with a Host of ALLOWED_HOSTS (the public VIP's FQDN), since
 * Django answers 400 to a request without one (it falls back to the machine's hostname).
 */
export const HORIZON_CHECK = '/auth/login/';
/** Debian's collected and compressed static files (openstack-dashboard's postinst). */
export const HORIZON_STATIC = '/var/lib/openstack-dashboard/static';

export const horizonDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'horizon');
export const horizonSettings = (paths: LabPaths, node: LabNode) =>
  `${horizonDir(paths, node)}/settings/local/local_settings.py`;
/** Django's SECRET_KEY (Kolla: horizon_secret_key), kept root-only beside the cloud's other secrets. */
export const horizonKeyFile = (paths: LabPaths) => join(paths.root, 'openstack', 'horizon-secret-key');

/** The hosts Horizon is reached by: every VIP it is served on, and the node's address for probes that bypass HAProxy. */
function allowedHosts(lab: Lab, node: LabNode): string[] {
  const vips = lab.dashboardVips;
  return [...new Set([...vips.flatMap((v) => [v.host, v.address]), node.apiAddress!])];
}

const py = (v: string | readonly string[]) => JSON.stringify(v);
const pyBool = (b: boolean) => (b ? 'True' : 'False');

export function localSettings(lab: Lab, paths: LabPaths, node: LabNode, secretKeyPath: string): string {
  const memcached = `${layout(lab).control.apiAddress}:11211`;
  return `# Rendered by stackgate (local provider) for ${lab.name}/${node.name}: Horizon's local_settings; do not edit.
with open(${py(secretKeyPath)}) as _f:
    SECRET_KEY = _f.read().strip()

DEBUG = False
ALLOWED_HOSTS = ${py(allowedHosts(lab, node))}
TIME_ZONE = 'UTC'

OPENSTACK_KEYSTONE_URL = ${py(`${serviceUrl(lab, 'keystone', 'internal')}/v3`)}
OPENSTACK_SSL_CACERT = ${py(caForServices(paths))}
OPENSTACK_SSL_NO_VERIFY = False
OPENSTACK_ENDPOINT_TYPE = 'internalURL'

WEBROOT = '/'
STATIC_ROOT = ${py(`${HORIZON_STATIC}/`)}
COMPRESS_OFFLINE = True

SESSION_ENGINE = 'django.contrib.sessions.backends.cache'
CACHES = {
    'default': {
        'BACKEND': 'django.core.cache.backends.memcached.PyMemcacheCache',
        'LOCATION': ${py(memcached)},
        'KEY_PREFIX': 'horizon',
    },
}

SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https')
CSRF_COOKIE_SECURE = ${pyBool(lab.tls.external)}
SESSION_COOKIE_SECURE = ${pyBool(lab.tls.external)}

LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'console': {'class': 'logging.StreamHandler', 'level': 'INFO'}},
    'root': {'handlers': ['console'], 'level': 'WARNING'},
    'loggers': {'openstack_auth': {'handlers': ['console'], 'level': 'INFO', 'propagate': False}},
}
`;
}

// Debian's local_settings.d snippets run after local_settings, and one sets CACHES to a per-process locmem.
const LAB_SETTINGS = `# Rendered by stackgate (local provider): Horizon's settings module; do not edit.
from openstack_dashboard.settings import *  # noqa: F401,F403
from local.local_settings import CACHES, SESSION_ENGINE  # noqa: F401
`;

function renderHorizon(lab: Lab, paths: LabPaths): Daemon {
  const node = layout(lab).control;
  const dir = horizonDir(paths, node);
  const key = `${dir}/secret_key`;
  const ini = [
    `# Rendered by stackgate (local provider) for ${lab.name}/${node.name}: horizon; do not edit.`,
    '[uwsgi]',
    'plugins = python3',
    'master = true',
    'processes = 2',
    'threads = 1',
    `http-socket = ${node.apiAddress}:${HORIZON_PORT}`,
    `pythonpath = ${dir}/settings`,
    'env = DJANGO_SETTINGS_MODULE=lab_settings',
    'module = django.core.wsgi:get_wsgi_application()',
    `static-map = /static=${HORIZON_STATIC}`,
    'die-on-term = true',
    'need-app = true',
    'lazy-apps = true',
    'buffer-size = 65535',
    'thunder-lock = true',
    '',
  ].join('\n');
  const secret = readFileSync(horizonKeyFile(paths), 'utf8');
  return daemon(node, 'horizon', {
    argv: ['/usr/bin/uwsgi', '--ini', `${dir}/horizon-uwsgi.ini`],
    user: 'horizon',
    files: [
      { path: `${dir}/horizon-uwsgi.ini`, content: ini, owner: 'horizon', mode: 0o640 },
      { path: key, content: secret, owner: 'horizon', mode: 0o600 },
      { path: `${dir}/settings/lab_settings.py`, content: LAB_SETTINGS, mode: 0o644 },
      { path: `${dir}/settings/local/__init__.py`, content: '', mode: 0o644 },
      { path: horizonSettings(paths, node), content: localSettings(lab, paths, node, key), mode: 0o644 },
    ],
    dirs: [{ path: dir, owner: 'horizon', mode: 0o750 }],
    health: [{ kind: 'tcp', host: node.apiAddress!, port: HORIZON_PORT }],
    stopSignal: 'INT',
  });
}

/** GET the login page through HAProxy as the check does: its status, or why there was none. */
export async function horizonLoginPage(lab: Lab, paths: LabPaths): Promise<true | string> {
  const lookup = labLookup(lab);
  const ca = readFileSync(paths.caCert, 'utf8');
  const agent = new Agent({ connect: { timeout: 5000, ca, ...(lookup ? { lookup } : {}) } });
  try {
    const url = `${horizonBase(lab)}/auth/login/`;
    const r = await request(url, { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 });
    await r.body.dump();
    return r.statusCode === 200 ? true : `HTTP ${r.statusCode}`;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await agent.close();
  }
}

export const horizon: Component = {
  name: 'horizon',
  after: ['keystone', 'memcached', 'openstack'],
  needed: (lab) => !!lab.spec.dashboard?.enabled && openstackEnabled(lab),
  packages: () => ['openstack-dashboard', 'python3-pymemcache', 'uwsgi', 'uwsgi-plugin-python3'],
  keys: async ({ paths }: LabContext) => {
    const file = horizonKeyFile(paths);
    const made = !existsSync(file);
    if (made) writeIfChanged(file, randomBytes(32).toString('base64url'), 0o600);
    addSecret(readFileSync(file, 'utf8'));
    return made ? 'Horizon secret key' : 'Horizon secret key present';
  },
  render: ({ lab, paths }) => [renderHorizon(lab, paths)],
  ready: ({ lab, paths }) => [
    { what: `Horizon's login page at ${horizonBase(lab)}`, probe: () => horizonLoginPage(lab, paths) },
  ],
  keeps: ({ paths }) => [horizonKeyFile(paths)],
};
