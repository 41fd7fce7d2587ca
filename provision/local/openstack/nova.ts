/** Nova's control services on every control node (API, conductor, scheduler) and nova.conf for every Nova daemon. */
import { persistence } from '../../../helpers/lab/defaults.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { daemon, type Component, type Daemon, type LabContext, type RenderedFile, type UpContext } from '../component.ts';
import { head, ini, type IniSections } from '../config.ts';
import { inNode, once } from '../exec.ts';
import type { LabPaths } from '../paths.ts';
import {
  answersViaVip, authtoken, caForServices, dbUrl, guestsRun, hasService, ksAuth, layout, memcachedServers, novaRbd,
  openstackContext, rbdClient, servicePort, nodeDefaults, uwsgi, type OpenstackContext,
} from './common.ts';
import { libvirtUri, migrationListener } from './libvirt.ts';
import { serviceBootstrap } from './service.ts';
import { OVSDB_LOCAL_PORT } from './ovn.ts';

export const novaDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'nova');
/** nova-compute's directory (its nova.conf): on a node that also runs the control services, a directory of its own. */
export const novaComputeDir = (lab: Lab, paths: LabPaths, node: LabNode) => (node.name === layout(lab).control.name ? `${novaDir(paths, node)}-compute` : novaDir(paths, node));

/** Nova's ceph.conf on a compute node: the lab's, with the client keyring beside it, readable by nova. */
export const novaCephConf = (paths: LabPaths, node: LabNode) => join(novaDir(paths, node), 'ceph', 'ceph.conf');

/** The DEFAULT compute_driver for a compute node's nova.conf. */
export const computeDriver = (lab: Lab) => (guestsRun(lab) ? 'libvirt.LibvirtDriver' : 'fake.FakeDriver');

/** nova.conf [neutron]: Nova's metadata API answers proxied requests signed with the shared secret. */
export function metadataProxy(c: OpenstackContext): Record<string, string | boolean> {
  if (!guestsRun(c.lab)) return { service_metadata_proxy: false };
  return { service_metadata_proxy: true, metadata_proxy_shared_secret: c.secrets.metadataSecret };
}

/** nova.conf of a compute node: the driver and what it needs (libvirt, os-vif's OVS, VIF plugging events). */
export function novaComputeSections(c: OpenstackContext, node: LabNode): IniSections {
  if (!guestsRun(c.lab)) return { compute: { vif_plugging_is_fatal: false, vif_plugging_timeout: 0 } };
  const cpu = c.lab.spec.compute;
  return {
    // Neutron (OVN) reports the port up once ovn-controller has bound the guest's tap: wait for it, as Kolla does.
    compute: { vif_plugging_is_fatal: true, vif_plugging_timeout: 300 },
    libvirt: {
      virt_type: cpu?.virtType ?? 'kvm',
      // TCG: no host CPU to model; QEMU's default model (qemu64) boots the guest kernel.
      cpu_mode: cpu?.cpuMode ?? (cpu?.virtType === 'qemu' ? 'none' : undefined),
      cpu_models: cpu?.cpuModel,
      // The node's own libvirtd (every compute node runs one), by its socket.
      connection_uri: libvirtUri(c.paths, node),
      // Live migration to this node goes to its management address (libvirtd listens there: libvirt.ts), not to its
      // host name, which every namespace on this host shares with the host; scheme tcp, Nova's default.
      live_migration_inbound_addr: migrationListener(c.lab, node)?.address,
      live_migration_scheme: migrationListener(c.lab, node) ? 'tcp' : undefined,
      // RBD volumes (and disks) through librbd, authenticated with the Cinder client's key in a libvirt secret.
      ...(rbdClient(c.lab) ? { rbd_user: rbdClient(c.lab)!.user, rbd_secret_uuid: c.secrets.rbdSecretUuid } : {}),
      // Instance disks in Ceph (Kolla's nova_backend_ceph): Nova reads its own copy of ceph.conf and the key.
      ...(novaRbd(c.lab) ? { images_type: 'rbd', images_rbd_pool: novaRbd(c.lab)!.pool, images_rbd_ceph_conf: novaCephConf(c.paths, node) } : {}),
    },
    // os-vif (in nova-compute, as nova) talks to the node's own ovsdb-server over the node's loopback, as in Kolla.
    os_vif_ovs: { ovsdb_connection: `tcp:127.0.0.1:${OVSDB_LOCAL_PORT}` },
  };
}

export function novaConf(c: OpenstackContext, node: LabNode, role: 'control' | 'compute'): string {
  const dir = novaDir(c.paths, node);
  const auth = (user: string) => ({ ...ksAuth(c, user), valid_interfaces: 'internal' });
  return ini(
    {
      DEFAULT: {
        ...nodeDefaults(c, node, dir),
        enabled_apis: 'osapi_compute',
        osapi_compute_workers: 1,
        metadata_workers: 1,
        compute_driver: role === 'compute' ? computeDriver(c.lab) : undefined,
        instances_path: role === 'compute' ? `${dir}/instances` : undefined,
        // ARC-04: a lab that survives reboots brings its guests back with their host (Nova leaves them SHUTOFF).
        resume_guests_state_on_host_boot: role === 'compute' && persistence(c.lab).required ? true : undefined,
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
      cache: { enabled: true, backend: 'oslo_cache.memcache_pool', memcache_servers: memcachedServers(c) },
      vnc: { enabled: false },
      wsgi: { api_paste_config: '/etc/nova/api-paste.ini' },
      oslo_concurrency: { lock_path: `${dir}/lock` },
      oslo_messaging_notifications: { driver: 'noop' },
      oslo_middleware: { enable_proxy_headers_parsing: true },
    },
    head(c.lab, node, `nova.conf (${role})`),
  );
}

/** nova.conf of a control node's services: one file, read by API, conductor, scheduler and the metadata API. */
export function novaControlConf(c: OpenstackContext, node: LabNode = c.layout.control): RenderedFile {
  const dir = novaDir(c.paths, node);
  return { path: `${dir}/nova.conf`, content: novaConf(c, node, 'control'), owner: 'nova', mode: 0o640 };
}

function renderNova(c: OpenstackContext, node: LabNode): Daemon[] {
  const dir = novaDir(c.paths, node);
  const conf = novaControlConf(c, node);
  const dirs = [{ path: dir, owner: 'nova' }, { path: `${dir}/lock`, owner: 'nova' }];
  // nova-api-wsgi loads its paste pipeline from the first file of OS_NOVA_CONFIG_FILES (an absolute path wins).
  const api = uwsgi(c, node, {
    service: 'nova-api', user: 'nova', wsgiFile: '/usr/bin/nova-api-wsgi', port: servicePort(c.lab, 'nova'), dir,
    env: { OS_NOVA_CONFIG_DIR: dir, OS_NOVA_CONFIG_FILES: '/etc/nova/api-paste.ini;nova.conf' },
  });
  const service = (name: string) =>
    daemon(node, name, { argv: [`/usr/bin/${name}`, '--config-file', conf.path], user: 'nova', files: [conf], dirs });
  return [{ ...api, files: [...api.files, conf], dirs: [...api.dirs, ...dirs] }, service('nova-conductor'), service('nova-scheduler')];
}

/** nova-manage on the control node, as nova. */
export function novaManage(c: LabContext) {
  const control = openstackContext(c).layout.control;
  const f = novaControlConf(openstackContext(c)).path;
  return (args: string[]) => inNode(c.lab, control, 'nova', ['nova-manage', '--config-file', f, ...args]);
}

async function dbSync(c: UpContext): Promise<string> {
  const nm = novaManage(c);
  const f = novaControlConf(openstackContext(c)).path;
  return once(c.paths, 'nova-db', readFileSync(f, 'utf8'), async () => {
    await nm(['api_db', 'sync']);
    await nm(['cell_v2', 'map_cell0']);
    if (!/\bcell1\b/.test(await nm(['cell_v2', 'list_cells']))) await nm(['cell_v2', 'create_cell', '--name=cell1', '--verbose']);
    await nm(['db', 'sync']);
  });
}

export const nova: Component = {
  name: 'nova',
  after: ['keystone', 'rabbitmq', 'rabbitmq-cluster', 'placement'],
  needed: (lab) => hasService(lab, 'nova'),
  packages: () => ['nova-api', 'nova-conductor', 'nova-scheduler'],
  render: (ctx) => {
    const c = openstackContext(ctx);
    return c.layout.controls.flatMap((n) => renderNova(c, n));
  },
  bootstrap: (c) => serviceBootstrap(c, 'nova', ['nova_api', 'nova', 'nova_cell0'], () => dbSync(c)),
  configure: async (c) => void (await c.step('answers through HAProxy', () => answersViaVip(c, 'nova'))),
};

