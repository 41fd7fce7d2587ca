/**
 * Octavia on the control node with the OVN provider driver (no amphora): its API under uwsgi behind HAProxy (catalog
 * type load-balancer), and the driver agent, which runs the OVN provider agent (health monitor verdicts from OVN's
 * southbound Service_Monitor rows, floating IPs on a VIP) and the status, stats and get listeners the provider driver
 * reports to. Debian 12 packages: octavia-api, octavia-driver-agent, python3-ovn-octavia-provider (3.0.0, Zed).
 */
import { existsSync, readFileSync } from 'node:fs';
import { tokenProject } from '../../../helpers/lab/defaults.ts';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { daemon, type Component, type Condition, type Daemon, type ReadyContext, type UpContext } from '../component.ts';
import { head, ini } from '../config.ts';
import { inNode, once } from '../exec.ts';
import type { LabPaths } from '../paths.ts';
import {
  answersViaVip, authtoken, caForServices, dbUrl, hasService, ksAuth, openstackContext, servicePort, transportUrl, uwsgi,
  type OpenstackContext,
} from './common.ts';
import { ensureRoles } from './keystone.ts';
import { ovnNbRemote, ovnSbRemote } from './ovn.ts';
import { serviceBootstrap } from './service.ts';

/** The spec's service name of Octavia (its catalog type is load-balancer). */
export const OCTAVIA = 'octavia';

export const octaviaDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'octavia');

/**
 * Where the driver agent listens and the provider driver reports: octavia_lib's defaults, which the OVN provider
 * (3.0.0, helper.py: `DriverLibrary()` without arguments) uses whatever [driver_agent] says. So the agent must listen
 * there too; one Octavia runs on this host at a time, as one lab is up at a time.
 */
export const DRIVER_AGENT_RUN = '/var/run/octavia';
export const DRIVER_AGENT_SOCKETS = ['status', 'stats', 'get'].map((s) => `${DRIVER_AGENT_RUN}/${s}.sock`);

/** The provider drivers Octavia's API enables ([api_settings] enabled_provider_drivers, name:description). */
export const OVN_PROVIDER = 'ovn:The Octavia OVN driver';

/**
 * Octavia's policy (octavia/policies/base.py, Zed): a tenant writes load balancers with `load-balancer_member` in its
 * project (`member` alone is not enough, new defaults or not); the others are its observer, quota and admin roles.
 */
export const OCTAVIA_ROLES = [
  'load-balancer_observer', 'load-balancer_global_observer', 'load-balancer_member', 'load-balancer_admin',
  'load-balancer_quota_admin',
] as const;

export const octaviaPreseeds = (): string[] => [
  ...['configure_db', 'configure_rabbit', 'configure_ksat'].map((q) => `octavia-common octavia/${q} boolean false`),
  'octavia-common octavia-common/dbconfig-install boolean false',
  'octavia-api octavia/configure_api-endpoint boolean false',
];

export function octaviaConf(c: OpenstackContext): string {
  const node = c.layout.control;
  const dir = octaviaDir(c.paths, node);
  const [status, stats, get] = DRIVER_AGENT_SOCKETS;
  return ini(
    {
      DEFAULT: { use_stderr: true, host: node.hostname, transport_url: transportUrl(c) },
      api_settings: {
        bind_host: node.apiAddress,
        bind_port: servicePort(c.lab, OCTAVIA),
        auth_strategy: 'keystone',
        enabled_provider_drivers: OVN_PROVIDER,
        default_provider_driver: 'ovn',
      },
      database: { connection: dbUrl(c, OCTAVIA, OCTAVIA), max_retries: -1 },
      keystone_authtoken: authtoken(c, OCTAVIA),
      // The provider driver's own Neutron calls (the VIP port, the member's ports) authenticate as Octavia.
      service_auth: ksAuth(c, OCTAVIA),
      neutron: { region_name: c.lab.region, endpoint_type: 'internal', ca_certificates_file: caForServices(c.paths) },
      ovn: { ovn_nb_connection: ovnNbRemote(c.lab, c.layout), ovn_sb_connection: ovnSbRemote(c.lab, c.layout) },
      driver_agent: {
        status_socket_path: status,
        stats_socket_path: stats,
        get_socket_path: get,
        enabled_provider_agents: 'ovn',
      },
      oslo_concurrency: { lock_path: `${dir}/lock` },
      oslo_messaging_notifications: { driver: 'noop' },
      oslo_middleware: { enable_proxy_headers_parsing: true },
    },
    head(c.lab, node, 'octavia.conf'),
  );
}

/**
 * Two stable/zed fixes of the OVN provider that Debian 12's 3.0.0 lacks (LP #1999813: listeners left PENDING_UPDATE
 * after a health monitor is made; LP #1997418: no health check on the VIP's floating IP), as an operator on Zed would
 * run them: see the module. Both Octavia processes import it before the provider loads.
 */
const OVN_FIXES = 'octavia_ovn_fixes';
const OVN_FIXES_SOURCE = readFileSync(new URL(`./${OVN_FIXES}.py`, import.meta.url), 'utf8');

/** octavia-driver-agent's console script, with the fixes imported first (its provider agents are forked from it). */
function driverAgent(dir: string): string {
  return [
    'import sys',
    `sys.path.insert(0, ${JSON.stringify(dir)})`,
    `import ${OVN_FIXES}  # noqa: F401`,
    'from octavia.cmd.driver_agent import main',
    'sys.exit(main())',
    '',
  ].join('\n');
}

function renderOctavia(c: OpenstackContext): Daemon[] {
  const provider = c.lab.spec.loadbalancer?.provider;
  if (provider && provider !== 'ovn') {
    throw new Error(`lab ${c.lab.name}: the local provider runs Octavia with the ovn provider only, the spec asks for ${provider} (loadbalancer.provider)`);
  }
  const node = c.layout.control;
  const dir = octaviaDir(c.paths, node);
  const file = { path: `${dir}/octavia.conf`, content: octaviaConf(c), owner: 'octavia', mode: 0o640 };
  const dirs = [{ path: `${dir}/lock`, owner: 'octavia' }, { path: DRIVER_AGENT_RUN, owner: 'octavia' }];
  const fixes = { path: `${dir}/${OVN_FIXES}.py`, content: OVN_FIXES_SOURCE, owner: 'octavia', mode: 0o644 };
  const agent = { path: `${dir}/octavia-driver-agent.py`, content: driverAgent(dir), owner: 'octavia', mode: 0o644 };
  const api = uwsgi(c, node, {
    service: 'octavia-api', user: 'octavia', wsgiFile: '/usr/bin/octavia-wsgi', port: servicePort(c.lab, OCTAVIA), dir,
    pyargv: `--config-file ${dir}/octavia.conf`,
    // The OVN provider driver hands every request to a thread of its own (helper.py: helper_thread).
    appThreads: true,
    pythonpath: dir,
    imports: [OVN_FIXES],
  });
  return [
    { ...api, files: [...api.files, file, fixes], dirs: [...api.dirs, ...dirs] },
    daemon(node, 'octavia-driver-agent', {
      argv: ['/usr/bin/python3', agent.path, '--config-file', `${dir}/octavia.conf`],
      user: 'octavia',
      files: [file, fixes, agent],
      dirs: [{ path: dir, owner: 'octavia' }, ...dirs],
    }),
  ];
}

async function dbSync(c: UpContext): Promise<string> {
  const control = openstackContext(c).layout.control;
  const f = `${octaviaDir(c.paths, control)}/octavia.conf`;
  return once(c.paths, 'octavia-db', readFileSync(f, 'utf8'), () =>
    inNode(c.lab, control, OCTAVIA, ['octavia-db-manage', '--config-file', f, 'upgrade', 'head']));
}

/** The user the checks run as, given what Octavia's policy asks of a tenant that builds load balancers. */
function memberGrant(lab: Lab) {
  return { user: 'admin', project: tokenProject(lab).name, role: 'load-balancer_member' };
}

/** Octavia's API lists the ovn provider (its driver loaded), and the driver agent's listeners are there. */
async function octaviaReady(c: ReadyContext): Promise<true | string> {
  const missing = DRIVER_AGENT_SOCKETS.filter((s) => !existsSync(s));
  if (missing.length) return `the driver agent's sockets are missing: ${missing.join(', ')}`;
  const cloud = await c.cloud();
  const r = await cloud.get<{ providers: { name: string }[] }>('load-balancer', '/v2/lbaas/providers', { ok: [200, 401, 403, 500, 503] });
  if (r.status !== 200) return `GET /v2/lbaas/providers → ${r.status}`;
  const names = r.body.providers.map((p) => p.name);
  return names.includes('ovn') ? true : `providers: ${names.join(', ') || 'none'}`;
}

export const octavia: Component = {
  name: 'octavia',
  after: ['keystone', 'rabbitmq', 'neutron', 'ovn-central'],
  needed: (lab) => hasService(lab, OCTAVIA),
  packages: () => ['octavia-api', 'octavia-driver-agent', 'python3-ovn-octavia-provider'],
  preseeds: octaviaPreseeds,
  render: (ctx) => renderOctavia(openstackContext(ctx)),
  bootstrap: (c) => serviceBootstrap(c, OCTAVIA, [OCTAVIA], () => dbSync(c)),
  configure: async (c) => {
    await c.step('answers through HAProxy', () => answersViaVip(c, OCTAVIA));
    await c.step('load-balancer roles, load-balancer_member for the checks', () => ensureRoles(c, OCTAVIA_ROLES, [memberGrant(c.lab)]));
  },
  ready: (c: ReadyContext): Condition[] => [{ what: 'Octavia lists its ovn provider, its driver agent listens', probe: () => octaviaReady(c) }],
};
