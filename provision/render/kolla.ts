/**
 * Kolla-Ansible: globals.yml with every decision of the spec (phase 1), a globals.d overlay for phase 2 (external
 * Ceph), the multinode inventory with its host_vars (per-node interfaces live there, never in globals.yml, which
 * outranks everything), the ansible.cfg the provider runs with, and config/ overrides.
 */
import {
  HAPROXY_MIN_TLS, KOLLA_DEFAULT_DISTRO, KOLLA_REGISTRY_PORT, imageArch, imagesSource, kollaHasStorageInterface, kollaImageFacts, kollaImageTag,
} from '../../helpers/lab/kolla.ts';
import type { Lab, LabNode } from '../../helpers/lab/model.ts';
import type { NodeRole } from '../../helpers/lab/spec.ts';
import type { LimaPaths } from '../lima/paths.ts';
import { vipNic } from '../local/infra/loadbalancer.ts';
import { DEFAULTS, novaPool } from '../../helpers/lab/defaults.ts';
import { addressNic, apiNetwork, header, need, sshUser, yaml, type RenderedFile } from './common.ts';

type Globals = Record<string, string | number | string[]>;
const yes = (b: boolean) => (b ? 'yes' : 'no');

/** Roles of the spec that are Kolla inventory groups; database and messaging are Kolla's mariadb and rabbitmq. */
export const KOLLA_GROUPS: Partial<Record<NodeRole, string>> = {
  control: 'control',
  network: 'network',
  compute: 'compute',
  storage: 'storage',
  monitoring: 'monitoring',
  loadbalancer: 'loadbalancer',
  database: 'mariadb',
  messaging: 'rabbitmq',
};

/** Kolla's Prometheus switch for each scrape job of the spec (jobs Kolla serves without a switch are absent). */
const JOB_SWITCH: Record<string, string> = {
  node: 'enable_prometheus_node_exporter',
  mysqld: 'enable_prometheus_mysqld_exporter',
  haproxy: 'enable_prometheus_haproxy_exporter',
  rabbitmq: 'enable_prometheus_rabbitmq_exporter',
  memcached: 'enable_prometheus_memcached_exporter',
  cadvisor: 'enable_prometheus_cadvisor',
  fluentd: 'enable_prometheus_fluentd_integration',
  openstack_exporter: 'enable_prometheus_openstack_exporter',
  blackbox_exporter: 'enable_prometheus_blackbox_exporter',
  libvirt_exporter: 'enable_prometheus_libvirt_exporter',
  alertmanager: 'enable_prometheus_alertmanager',
  ceph_mgr_exporter: 'enable_prometheus_ceph_mgr_exporter',
};

/** Services Kolla enables with enable_openstack_core that the spec may leave out (the design's core stack). */
const CORE_OPTIONAL = ['heat'];

/** CA bundle inside Kolla's containers on Debian-family images, where kolla_copy_ca_into_containers installs the lab CA. */
const DEBIAN_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

function kolla(lab: Lab) {
  if (lab.deployer.kind !== 'kolla') throw new Error(`lab ${lab.name}: the lima provider deploys with Kolla-Ansible, the spec's deployer is ${lab.deployer.kind}`);
  return lab.deployer;
}

function endpointVip(lab: Lab, which: 'internal' | 'public') {
  return lab.vip(need(lab.spec.endpoints?.[which], `lab ${lab.name}: endpoints.${which} names no VIP`));
}

/** The HAProxy TLS profile: the spec's, which must admit exactly the spec's minimum TLS version. */
export function haproxySslSettings(lab: Lab): 'modern' | 'intermediate' | 'legacy' {
  const settings = kolla(lab).haproxySslSettings ?? 'modern';
  const floor = HAPROXY_MIN_TLS[settings];
  if (floor !== lab.tls.minVersion) {
    throw new Error(`lab ${lab.name}: kolla_haproxy_ssl_settings "${settings}" accepts ${floor} and up, but tls.minVersion is ${lab.tls.minVersion}`);
  }
  return settings;
}

/** globals.yml for phase 1 (before Ceph): every decision the spec states that Kolla has a variable for. */
export function renderGlobals(lab: Lab): Globals {
  const d = kolla(lab);
  const internal = endpointVip(lab, 'internal');
  const external = endpointVip(lab, 'public');
  const g: Globals = {
    openstack_release: lab.release,
    kolla_base_distro: need(d.baseDistro, `lab ${lab.name}: deployer.baseDistro is not set`),
    openstack_tag_suffix: d.imageTagSuffix ?? '',
    kolla_container_engine: d.containerEngine ?? 'docker',
    kolla_internal_vip_address: internal.address,
    kolla_internal_fqdn: internal.host,
    kolla_external_vip_address: external.address,
    kolla_external_fqdn: external.host,
  };
  const build = kollaRegistry(lab);
  if (build) {
    // Kolla's multinode guide: a plain-HTTP registry on the management network, marked insecure in every Docker daemon.
    g.docker_registry = build.registry;
    g.docker_registry_insecure = 'yes';
  }
  const vrid = lab.spec.vips?.[internal.name]?.vrid;
  if (vrid !== undefined) g.keepalived_virtual_router_id = String(vrid);
  // TLS: both off by default in Kolla when the VIPs differ; the lab CA inside every container, and in clouds.yaml.
  g.kolla_enable_tls_internal = yes(lab.tls.internal);
  g.kolla_enable_tls_external = yes(lab.tls.external);
  if (lab.tls.internal || lab.tls.external) {
    g.kolla_haproxy_ssl_settings = haproxySslSettings(lab);
    g.kolla_copy_ca_into_containers = 'yes';
    if (['ubuntu', 'debian'].includes(g.kolla_base_distro as string)) g.openstack_cacert = DEBIAN_CA_BUNDLE;
    g.kolla_admin_openrc_cacert = '{{ kolla_certificates_dir }}/ca/root.crt';
  }
  const neutron = lab.spec.neutron;
  if (neutron) {
    g.neutron_plugin_agent = neutron.backend === 'ovn' ? 'ovn' : 'openvswitch';
    if (neutron.tenantNetworkType) g.neutron_tenant_network_types = neutron.tenantNetworkType;
    if (neutron.bridge) g.neutron_bridge_name = neutron.bridge;
    if (neutron.physnet) g.neutron_physical_networks = neutron.physnet;
    if (neutron.backend === 'ovn') g.neutron_ovn_distributed_fip = yes(neutron.distributedFip ?? false);
  }
  const services = Object.keys(lab.spec.services ?? {});
  for (const s of CORE_OPTIONAL) g[`enable_${s}`] = yes(services.includes(s));
  if (lab.spec.dashboard) g.enable_horizon = yes(lab.spec.dashboard.enabled);
  const compute = lab.spec.compute;
  if (compute?.virtType) g.nova_compute_virt_type = compute.virtType;
  if (compute?.cpuMode) g.nova_libvirt_cpu_mode = compute.cpuMode;
  // Cinder, phase 1: LVM only; cinder-backup (Kolla: on, ceph driver) waits for Ceph.
  const phase1 = lab.cinderBackends.filter((b) => b.phase <= 1);
  if (services.includes('cinder') || phase1.length > 0) g.enable_cinder = 'yes';
  const lvm = phase1.find((b) => b.driver === 'lvm');
  g.enable_cinder_backend_lvm = yes(!!lvm);
  if (lvm) {
    g.cinder_backend_lvm_name = lvm.name;
    if (lvm.volumeGroup) g.cinder_volume_group = lvm.volumeGroup;
  }
  const backup = lab.spec.storage?.cinder?.backup;
  if (backup) g.enable_cinder_backup = yes((backup.phase ?? 1) <= 1);
  Object.assign(g, octaviaGlobals(lab));
  // Monitoring: Prometheus and Grafana are off by default; each scrape job the spec expects from the start.
  const mon = lab.spec.monitoring;
  if (mon) {
    g.enable_prometheus = 'yes';
    g.enable_grafana = yes(!!mon.grafana && !lab.lacks('grafana'));
    for (const job of mon.jobs) {
      const sw = JOB_SWITCH[job.job];
      if (sw && (job.phase ?? 1) <= 1) g[sw] = 'yes';
    }
  }
  return g;
}

/**
 * Octavia (a load-balancer service in the spec), from kolla-ansible's group_vars/all/octavia.yml and the octavia role's
 * defaults: enable_octavia; the provider drivers the spec's provider needs (Kolla lists ovn beside amphora when Neutron
 * runs OVN); for amphora (seed 002) Kolla's automatic configuration, which makes the lb-mgmt network, its subnet
 * (octavia_amp_network_cidr), the amphora flavor and security groups, and the Glance tag the amphora image carries
 * (octavia_amp_image_tag). The image itself is built and uploaded outside Kolla (seed 002: get-amphora-img.sh), and
 * the amphora channel needs `kolla-ansible octavia-certificates` before deploy.
 */
export function octaviaGlobals(lab: Lab): Globals {
  if (!Object.values(lab.spec.services ?? {}).some((s) => s.type === 'load-balancer')) return {};
  const g: Globals = { enable_octavia: 'yes' };
  const lb = lab.spec.loadbalancer;
  if (lb?.provider === 'ovn') {
    g.octavia_provider_drivers = 'ovn:OVN provider';
    g.octavia_provider_agents = 'ovn';
  } else if (lb?.provider === 'amphora') {
    g.octavia_provider_drivers = 'amphora:Amphora provider';
    g.octavia_auto_configure = 'yes';
    // No network of the design is Octavia's: Kolla makes lb-mgmt-net a tenant network with o-hm0 on the controllers.
    g.octavia_network_type = 'tenant';
    if (lb.amphora?.managementCidr) g.octavia_amp_network_cidr = lb.amphora.managementCidr;
    g.octavia_amp_image_tag = lb.amphora?.imageTag ?? DEFAULTS.amphoraImageTag;
  }
  return g;
}

/** The globals.d overlay of phase 2: Kolla's external Ceph for every consumer the spec names, cinder-backup on Ceph. */
export function renderGlobalsPhase2(lab: Lab): Globals {
  const ceph = need(lab.ceph, `lab ${lab.name} has no Ceph`);
  const consumers = ceph.consumers ?? [];
  const g: Globals = {};
  const rbd = lab.cinderBackends.find((b) => b.driver === 'ceph');
  if (consumers.includes('glance')) {
    g.glance_backend_ceph = 'yes';
    g.glance_backend_file = 'no';
  }
  if (consumers.includes('cinder') && rbd) {
    g.cinder_backend_ceph = 'yes';
    g.cinder_backend_ceph_name = rbd.name;
    if (rbd.user) g.ceph_cinder_user = rbd.user;
    if (rbd.pool) g.ceph_cinder_pool_name = rbd.pool;
  }
  if (consumers.includes('nova')) g.nova_backend_ceph = 'yes';
  const backup = lab.spec.storage?.cinder?.backup;
  if (backup && consumers.includes('cinder-backup')) {
    g.enable_cinder_backup = 'yes';
    g.cinder_backup_driver = backup.driver ?? 'ceph';
    if (rbd) g.cinder_backup_backend_ceph_name = rbd.name;
  }
  for (const [client, pools] of Object.entries(ceph.clients ?? {})) {
    const user = client.replace(/^client\./, '');
    if (user === 'glance' && pools[0]) Object.assign(g, { ceph_glance_user: user, ceph_glance_pool_name: pools[0] });
    if (user === 'cinder-backup' && pools[0]) Object.assign(g, { ceph_cinder_backup_user: user, ceph_cinder_backup_pool_name: pools[0] });
  }
  const vms = ceph.pools?.find((p) => p.name === novaPool(lab));
  if (consumers.includes('nova') && vms) g.ceph_nova_pool_name = vms.name;
  const mgrJob = lab.spec.monitoring?.jobs.find((j) => j.job === 'ceph_mgr_exporter');
  if (mgrJob) {
    g.enable_prometheus_ceph_mgr_exporter = 'yes';
    g.prometheus_ceph_mgr_exporter_endpoints = lab.expectedTargets.filter((t) => t.job === 'ceph_mgr_exporter').map((t) => t.instance);
  }
  return g;
}

/**
 * Images kolla-build makes when the spec builds them: Kolla's own `default` profile (openstack/kolla stable/2025.2,
 * kolla/common/config.py) plus what the spec enables beyond it. kolla-build ignores --profile once regexes are given
 * (kolla/image/kolla_worker.py filter_images), so the profile is spelled out here.
 */
const KOLLA_DEFAULT_PROFILE = [
  'cron', 'kolla-toolbox', 'fluentd', 'glance', 'haproxy', 'heat', 'horizon', 'keepalived', 'keystone', 'mariadb', 'memcached',
  'neutron', 'nova-', 'placement', 'proxysql', 'openvswitch', 'rabbitmq',
];

export function kollaBuildImages(lab: Lab): string[] {
  const g = renderGlobals(lab);
  const extra: string[] = [];
  if (g.enable_cinder === 'yes') extra.push('cinder');
  if (g.enable_cinder_backend_lvm === 'yes') extra.push('iscsid', 'tgtd');
  if (g.neutron_plugin_agent === 'ovn') extra.push('ovn-');
  if (g.enable_prometheus === 'yes') extra.push('prometheus');
  if (g.enable_grafana === 'yes') extra.push('grafana');
  // Anchored: kolla-build searches image names, and a bare "keystone" also builds barbican-keystone-listener.
  return [...KOLLA_DEFAULT_PROFILE, ...extra].map((name) => `^${name}`);
}

export interface ImageBuild {
  readonly node: LabNode;
  /** host:port, Kolla's docker_registry. */
  readonly registry: string;
  readonly tag: string;
  readonly argv: string[];
}

/** The registry node and host:port of a spec whose images are built (deployer.images.source build). */
export function kollaRegistry(lab: Lab): { node: LabNode; registry: string } | undefined {
  const d = kolla(lab);
  if (imagesSource(d) !== 'build') return undefined;
  const node = lab.node(need(d.images?.registryNode, `lab ${lab.name}: deployer.images.source is build but names no registryNode`));
  const address = need(node.managementAddress, `registry node ${node.name} has no management address`);
  return { node, registry: `${address}:${d.images?.registryPort ?? KOLLA_REGISTRY_PORT}` };
}

/** The kolla-build run of a spec whose images are built; undefined otherwise. */
export function kollaImageBuild(lab: Lab): ImageBuild | undefined {
  const at = kollaRegistry(lab);
  if (!at) return undefined;
  const { node, registry } = at;
  const d = kolla(lab);
  const distro = d.baseDistro ?? KOLLA_DEFAULT_DISTRO;
  const tag = need(
    kollaImageTag(lab.release, distro, d.imageTagSuffix ?? ''),
    `no distribution version of ${distro} is recorded for Kolla ${lab.release} (fixtures/kolla/images-published.json)`,
  );
  const argv = [
    '--base', distro, ...(d.baseRelease ? ['--base-tag', d.baseRelease] : []), '--base-arch', imageArch(d),
    '--namespace', kollaImageFacts().namespace, '--tag', tag, '--registry', registry, '--push', '--skip-existing', ...kollaBuildImages(lab),
  ];
  return { node, registry, tag, argv };
}

/** Kolla's per-host interface variables from the node's NICs. */
export function hostInterfaces(lab: Lab, node: LabNode): Record<string, string> {
  const out: Record<string, string> = {};
  const api = addressNic(node, apiNetwork(lab));
  if (api) {
    out.network_interface = api.name;
    out.api_interface = api.name;
  }
  const tunnel = addressNic(node, lab.networkFor('tunnel')?.name);
  if (tunnel) out.tunnel_interface = tunnel.name;
  const ext = node.nics.find((n) => n.use === 'neutron-external');
  if (ext && node.roles.some((r) => r === 'network' || r === 'compute')) out.neutron_external_interface = ext.name;
  if (node.roles.includes('loadbalancer') && lab.spec.endpoints?.public) {
    const vip = endpointVip(lab, 'public');
    const name = vipNic(node, vip);
    // keepalived adds the VIP as a /32: without an address of its own the NIC has no route to the VIP's network.
    if (!node.nics.some((n) => n.name === name && n.use === 'address' && n.address)) {
      throw new Error(
        `node ${node.name} ${name}: kolla_external_vip_interface for VIP ${vip.name} carries no address of the node; Kolla requires one ` +
          `(etc/kolla/globals.yml: "These interfaces must contain an IP address"), as keepalived adds ${vip.address} as a /32`,
      );
    }
    out.kolla_external_vip_interface = name;
  }
  const storage = addressNic(node, lab.networkFor('storage')?.name);
  if (storage && kollaHasStorageInterface(lab.deployer.version)) out.storage_interface = storage.name;
  return out;
}

export function renderHostVars(lab: Lab, node: LabNode, paths: LimaPaths): Record<string, string> {
  return {
    ansible_host: need(node.managementAddress, `node ${node.name} has no management address to deploy over`),
    ansible_user: sshUser(lab),
    ansible_ssh_private_key_file: paths.sshKey,
    ...hostInterfaces(lab, node),
  };
}

/** The inventory's own groups: each Kolla group of the spec's roles with its nodes, and the deploy host. */
export function inventoryGroups(lab: Lab): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  for (const [role, group] of Object.entries(KOLLA_GROUPS)) {
    groups[group] = lab.nodesWithRole(role as NodeRole).map((n) => n.name);
  }
  return groups;
}

/**
 * The multinode inventory's host part (INI). Kolla's service groups ([keystone:children] control …) come from the
 * installed kolla-ansible's own multinode at `lab up` time, minus the groups defined here.
 */
export function renderInventory(lab: Lab): string {
  const sections = Object.entries(inventoryGroups(lab)).map(([group, hosts]) => `[${group}]\n${hosts.map((h) => `${h}\n`).join('')}`);
  sections.push('[deployment]\nlocalhost ansible_connection=local\n');
  return `${header(lab, 'Kolla-Ansible inventory: hosts and their groups; interfaces in host_vars/')}\n${sections.join('\n')}`;
}

/** Groups the rendered inventory defines, so the merge drops Kolla's definitions of them. */
export function ownGroups(lab: Lab): string[] {
  return [...Object.keys(inventoryGroups(lab)), 'deployment'];
}

/**
 * Kolla's multinode minus the sections of groups the rendered inventory defines (and every plain host section,
 * which holds Kolla's example hosts): what remains is its map of service groups onto the base groups.
 */
export function kollaServiceGroups(upstreamMultinode: string, own: readonly string[]): string {
  const out: string[] = [];
  let keep = false;
  for (const line of upstreamMultinode.split('\n')) {
    const m = /^\[([^\]:]+)(:children)?\]\s*$/.exec(line);
    if (m) keep = !!m[2] && !own.includes(m[1]!);
    if (keep) out.push(line);
  }
  return `${out.join('\n').trim()}\n`;
}

export function renderAnsibleCfg(lab: Lab, paths: LimaPaths): string {
  return `${header(lab, 'ansible.cfg for kolla-ansible (ANSIBLE_CONFIG); paths relative to the repository root, where every command runs', '#')}[defaults]
host_key_checking = True
forks = 50
timeout = 30

[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${paths.knownHosts} -o StrictHostKeyChecking=yes
`;
}

/** config/ overrides (node_custom_config): Kolla CI's aarch64 CPU model for QEMU guests; a pinned iSCSI target address. */
export function renderKollaConfig(lab: Lab): RenderedFile[] {
  const out: RenderedFile[] = [];
  const compute = lab.spec.compute;
  if (compute?.cpuModel) {
    out.push({
      path: 'config/nova/nova-compute.conf',
      content: `${header(lab, 'nova-compute override', '#')}[libvirt]\ncpu_mode = ${compute.cpuMode ?? 'custom'}\ncpu_models = ${compute.cpuModel}\n`,
    });
  }
  for (const backend of lab.cinderBackends.filter((b) => b.driver === 'lvm' && b.targetAddressPinned && b.iscsiNetwork)) {
    for (const host of backend.hosts ?? []) {
      const node = lab.node(host);
      const address = need(node.addresses[backend.iscsiNetwork!], `node ${host} has no address on ${backend.iscsiNetwork}`);
      out.push({
        path: `config/cinder/${host}/cinder.conf`,
        content: `${header(lab, `cinder on ${host}: iSCSI target on network ${backend.iscsiNetwork}`, '#')}[${backend.name}]\ntarget_ip_address = ${address}\n`,
      });
    }
  }
  return out;
}

export function renderKolla(lab: Lab, paths: LimaPaths): RenderedFile[] {
  const files: RenderedFile[] = [
    { path: 'kolla/globals.yml', content: header(lab, 'Kolla-Ansible globals.yml, phase 1') + yaml(renderGlobals(lab), { quoteStrings: true }) },
    { path: 'kolla/inventory/multinode', content: renderInventory(lab) },
    ...lab.nodes.map((n) => ({ path: `kolla/inventory/host_vars/${n.name}.yml`, content: header(lab, `host vars of ${n.name}`) + yaml(renderHostVars(lab, n, paths), { quoteStrings: true }) })),
    { path: 'kolla/ansible.cfg', content: renderAnsibleCfg(lab, paths) },
    ...renderKollaConfig(lab).map((f) => ({ path: `kolla/${f.path}`, content: f.content })),
  ];
  if (lab.ceph) files.push({ path: 'kolla/globals.d/phase2-ceph.yml', content: header(lab, 'globals.d overlay for storage phase 2 (external Ceph)') + yaml(renderGlobalsPhase2(lab), { quoteStrings: true }) });
  return files;
}
