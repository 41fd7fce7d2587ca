/**
 * neutron-server with ML2/OVN on every control node (one database, the same OVN NB and SB: the spec's RAFT cluster
 * where it has one, every member listed), and the spec's external (provider) network.
 */
import { readFileSync } from 'node:fs';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import type { Api } from '../api.ts';
import { viaVip } from '../api.ts';
import { daemon, type Component, type Daemon, type UpContext } from '../component.ts';
import { head, ini } from '../config.ts';
import { inNode, once } from '../exec.ts';
import type { LabPaths } from '../paths.ts';
import { run, sleep, waitUntil } from '../sh.ts';
import { restartProgram } from '../supervisor.ts';
import { ovnClusterOf } from '../../../helpers/ha/ovn.ts';
import {
  adminApi, answersViaVip, authtoken, dbUrl, guestsRun, hasService, ksAuth, openstackContext, servicePort, transportUrl,
  type OpenstackContext,
} from './common.ts';
import { serviceBootstrap } from './service.ts';
import { ovnNbRemote, ovnSbRemote } from './ovn.ts';

export const neutronDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'neutron');

function neutronConf(c: OpenstackContext, node: LabNode): string {
  const dir = neutronDir(c.paths, node);
  return ini(
    {
      DEFAULT: {
        use_stderr: true,
        host: node.hostname,
        bind_host: node.apiAddress,
        bind_port: servicePort(c.lab, 'neutron'),
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
}

function ml2Conf(c: OpenstackContext, node: LabNode): string {
  const nspec = c.lab.spec.neutron;
  const physnet = nspec?.physnet ?? 'physnet1';
  return ini(
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
        ovn_nb_connection: ovnNbRemote(c.lab, c.layout),
        ovn_sb_connection: ovnSbRemote(c.lab, c.layout),
        ovn_l3_scheduler: 'leastloaded',
        ovn_metadata_enabled: guestsRun(c.lab),
        enable_distributed_floating_ip: nspec?.distributedFip ?? false,
        // What a subnet without dns_nameservers hands its guests; unset, Neutron falls back to neutron-server's
        // own resolv.conf. Addresses only (the schema's ipv4 format), so nothing else reaches the file.
        dns_servers: nspec?.tenantDnsServers?.join(','),
      },
    },
    head(c.lab, node, 'ml2_conf.ini'),
  );
}

function renderNeutron(c: OpenstackContext, node: LabNode): Daemon {
  const dir = neutronDir(c.paths, node);
  return daemon(node, 'neutron-server', {
    argv: ['/usr/bin/neutron-server', '--config-file', `${dir}/neutron.conf`, '--config-file', `${dir}/ml2_conf.ini`],
    user: 'neutron',
    files: [
      { path: `${dir}/neutron.conf`, content: neutronConf(c, node), owner: 'neutron', mode: 0o640 },
      { path: `${dir}/ml2_conf.ini`, content: ml2Conf(c, node), owner: 'neutron', mode: 0o640 },
    ],
    dirs: [{ path: dir, owner: 'neutron' }, { path: `${dir}/lock`, owner: 'neutron' }],
    health: [{ kind: 'tcp', host: node.apiAddress!, port: servicePort(c.lab, 'neutron') }],
  });
}

type Obj = { id: string; name?: string; [k: string]: unknown };

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

async function dbSync(c: UpContext): Promise<string> {
  const control = openstackContext(c).layout.control;
  const d = neutronDir(c.paths, control);
  const files = [`${d}/neutron.conf`, `${d}/ml2_conf.ini`];
  return once(c.paths, 'neutron-db', files.map((f) => readFileSync(f, 'utf8')).join(''), () =>
    inNode(c.lab, control, 'neutron', ['neutron-db-manage', ...files.flatMap((f) => ['--config-file', f]), 'upgrade', 'heads']));
}

/** The port group ML2/OVN puts every port with port security in, whose ACLs drop what no security group allows. */
const PG_DROP = 'neutron_pg_drop';

/** Whether OVN's northbound cluster holds the drop port group (asked from the host, of every RAFT member). */
async function hasPgDrop(lab: Lab): Promise<true | string> {
  const c = ovnClusterOf(lab)!;
  const db = c.nodes.map((n) => `tcp:${n.apiAddress}:${c.clientPort.OVN_Northbound}`).join(',');
  const out = await run('ovn-nbctl', [`--db=${db}`, '--bare', '--columns=name', 'find', 'Port_Group', `name=${PG_DROP}`],
    { timeout: 20_000 });
  return out.trim() === PG_DROP || `no port group ${PG_DROP} in OVN's northbound database`;
}

/**
 * Three neutron-servers starting at once on a RAFT cluster can each fail to create the drop port group ("OVSDB Error:
 * The transaction failed", seen on a cold `up` in CI) and then wait for it in vain: every port create answers 500.
 * Neutron makes it itself when one server restarts alone; that is what happens here, one server at a time.
 */
async function ensurePgDrop(c: UpContext): Promise<string> {
  const present = async () => (await hasPgDrop(c.lab).catch((e: Error) => e.message)) === true;
  for (let i = 0; i < 10; i++) {
    if (await present()) return 'present';
    await sleep(2000);
  }
  for (const d of c.daemons.filter((x) => x.service === 'neutron-server')) {
    await restartProgram(c.paths, d.program);
    for (let i = 0; i < 45; i++) {
      if (await present()) return `made by ${d.node}'s neutron-server after its restart`;
      await sleep(2000);
    }
  }
  throw new Error(`no neutron-server created OVN port group ${PG_DROP}, even restarted one at a time`);
}

export const neutron: Component = {
  name: 'neutron',
  after: ['keystone', 'rabbitmq', 'rabbitmq-cluster', 'ovn-central', 'ovn-raft'],
  needed: (lab) => hasService(lab, 'neutron'),
  packages: () => ['neutron-server'],
  render: (ctx) => {
    const c = openstackContext(ctx);
    return c.layout.controls.map((n) => renderNeutron(c, n));
  },
  bootstrap: (c) => serviceBootstrap(c, 'neutron', ['neutron'], () => dbSync(c)),
  ready: ({ lab }) => (ovnClusterOf(lab) ? [{ what: `OVN port group ${PG_DROP} made by Neutron`, probe: () => hasPgDrop(lab) }] : []),
  configure: async (c) => {
    await c.step('answers through HAProxy', () => answersViaVip(c, 'neutron'));
    if (ovnClusterOf(c.lab)) await c.step(`OVN port group ${PG_DROP}`, () => ensurePgDrop(c));
    await c.step('external network', async () => {
      const api = await adminApi(c);
      const url = `${viaVip(c.lab, 'neutron')}/v2.0/networks?limit=1`;
      await waitUntil('neutron lists networks', 60_000, async () => ((await api.status(url)) === 200 ? true : 'not yet'));
      return ensureExternalNetwork(c.lab, api);
    });
  },
};

