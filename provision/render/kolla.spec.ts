import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { loadLab, repoRoot } from '../../helpers/lab/load.ts';
import { limaPaths } from '../lima/paths.ts';
import { writeRender } from './index.ts';
import { hostInterfaces, inventoryGroups, kollaServiceGroups, renderGlobals, renderGlobalsPhase2, renderKollaConfig } from './kolla.ts';

const lab = loadLab('primary');
const known = JSON.parse(readFileSync(join(repoRoot, 'fixtures/kolla/variables-2025.2.json'), 'utf8')) as { provenance: { commit: string; branch: string }; variables: string[] };
const closed = JSON.parse(readFileSync(join(repoRoot, 'fixtures/kolla/closed-sets-2025.2.json'), 'utf8')) as {
  provenance: { commit: string };
  sets: Record<string, { values: string[]; source: string }>;
  switches: string[];
};
/** Ansible's own behavioural inventory variables the rendered host_vars use (Ansible docs: "Connecting to hosts"). */
const ANSIBLE_HOST_VARS = ['ansible_host', 'ansible_user', 'ansible_port', 'ansible_ssh_private_key_file', 'ansible_connection', 'ansible_become'];
/** Rendered values Kolla-Ansible would not accept: outside a variable's closed set, or a switch that is not yes/no. */
function outsideClosedSets(file: string, values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([key, value]) => {
    const set = closed.sets[key];
    if (set && !set.values.includes(String(value))) return [`${file} ${key}: ${String(value)} is not one of ${set.values.join(', ')} (${set.source})`];
    if (closed.switches.includes(key) && !['yes', 'no', 'true', 'false'].includes(String(value).toLowerCase())) return [`${file} ${key}: ${String(value)} is not a yes/no switch`];
    return [];
  });
}
const dir = mkdtempSync(join(tmpdir(), 'sg-kolla-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeRender(lab, dir);
const Lab = lab.constructor as new (s: typeof lab.spec, f: string) => typeof lab;

describe('Kolla-Ansible rendering (primary lab)', () => {
  test('the variable list comes from kolla-ansible stable/2025.2 at a recorded commit', () => {
    expect(known.provenance.branch).toBe('stable/2025.2');
    expect(known.provenance.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(known.variables.length).toBeGreaterThan(1000);
  });

  test('every key of globals.yml and of the phase-2 overlay is a variable Kolla-Ansible 2025.2 knows', () => {
    const vars = new Set(known.variables);
    for (const file of ['kolla/globals.yml', 'kolla/globals.d/phase2-ceph.yml']) {
      const keys = Object.keys(parse(readFileSync(join(dir, file), 'utf8')) as object);
      expect(keys.filter((k) => !vars.has(k)), file).toEqual([]);
    }
  });

  test('every host_vars key is a Kolla-Ansible 2025.2 variable or an Ansible connection variable', () => {
    const vars = new Set([...known.variables, ...ANSIBLE_HOST_VARS]);
    for (const node of lab.nodes) {
      const keys = Object.keys(parse(readFileSync(join(dir, `kolla/inventory/host_vars/${node.name}.yml`), 'utf8')) as object);
      expect(keys.filter((k) => !vars.has(k)), node.name).toEqual([]);
    }
  });

  test('every rendered value of a variable with a closed set is one Kolla-Ansible 2025.2 admits; switches are yes/no', () => {
    expect(closed.provenance.commit).toBe(known.provenance.commit);
    expect(closed.sets.neutron_plugin_agent?.values).toEqual(['openvswitch', 'ovn']);
    const files = ['kolla/globals.yml', 'kolla/globals.d/phase2-ceph.yml', ...lab.nodes.map((n) => `kolla/inventory/host_vars/${n.name}.yml`)];
    expect(files.flatMap((f) => outsideClosedSets(f, parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>))).toEqual([]);
  });

  test('a value outside its closed set is named with the upstream line that states the set', () => {
    const spec = structuredClone(lab.spec);
    spec.deployer.baseDistro = 'alpine';
    const g = renderGlobals(new Lab(spec, lab.file));
    expect(outsideClosedSets('globals.yml', { ...g, enable_cinder: 'maybe' })).toEqual([
      'globals.yml kolla_base_distro: alpine is not one of centos, debian, rocky, ubuntu (ansible/group_vars/all/common.yml:180)',
      'globals.yml enable_cinder: maybe is not a yes/no switch',
    ]);
  });

  test('built images: Docker on every node pulls from the registry on node1, marked insecure as Kolla\'s multinode guide does', () => {
    expect(renderGlobals(lab)).toMatchObject({ docker_registry: '192.168.105.101:4000', docker_registry_insecure: 'yes' });
    const published = structuredClone(lab.spec);
    delete published.deployer.images;
    expect(renderGlobals(new Lab(published, lab.file))).not.toHaveProperty('docker_registry');
  });

  test('the external VIP interface must carry an address of the node: Kolla requires one, keepalived adds the VIP as /32', () => {
    const spec = structuredClone(lab.spec);
    spec.nodes.node1!.interfaces = spec.nodes.node1!.interfaces.map((i) => (i.name === 'lima2' ? { name: 'lima2', network: 'external', use: 'vip' as const } : i));
    expect(() => hostInterfaces(new Lab(spec, lab.file), new Lab(spec, lab.file).node('node1'))).toThrow(
      /node node1 lima2: kolla_external_vip_interface for VIP external carries no address of the node.*adds 10\.0\.2\.250 as a \/32/,
    );
  });

  test('globals.yml states the decisions: release, distro + aarch64 tag, OVN, TLS both ways, VIPs and FQDNs, LVM, no backup, monitoring, qemu', () => {
    const g = parse(readFileSync(join(dir, 'kolla/globals.yml'), 'utf8')) as Record<string, unknown>;
    expect(g).toMatchObject({
      openstack_release: '2025.2', kolla_base_distro: 'ubuntu', openstack_tag_suffix: '-aarch64', neutron_plugin_agent: 'ovn',
      kolla_enable_tls_internal: 'yes', kolla_enable_tls_external: 'yes', kolla_haproxy_ssl_settings: 'intermediate',
      kolla_internal_vip_address: '192.168.105.250', kolla_internal_fqdn: 'internal.openstack.local',
      kolla_external_vip_address: '10.0.2.250', kolla_external_fqdn: 'public.openstack.local',
      enable_cinder: 'yes', enable_cinder_backend_lvm: 'yes', cinder_volume_group: 'cinder-volumes', enable_cinder_backup: 'no',
      enable_prometheus: 'yes', enable_grafana: 'yes', nova_compute_virt_type: 'qemu', neutron_ovn_distributed_fip: 'no',
    });
    expect(readFileSync(join(dir, 'kolla/globals.yml'), 'utf8')).toContain('kolla_enable_tls_internal: "yes"');
    expect(renderKollaConfig(lab).find((f) => f.path === 'config/nova/nova-compute.conf')?.content).toMatch(/cpu_mode = custom\ncpu_models = max/);
    expect(renderGlobalsPhase2(lab)).toMatchObject({ glance_backend_ceph: 'yes', cinder_backend_ceph: 'yes', nova_backend_ceph: 'yes', enable_cinder_backup: 'yes', cinder_backup_driver: 'ceph' });
  });

  test('no per-node interface in globals.yml (it would outrank host_vars)', () => {
    const g = renderGlobals(lab);
    for (const k of ['network_interface', 'api_interface', 'tunnel_interface', 'neutron_external_interface', 'kolla_external_vip_interface']) expect(g).not.toHaveProperty(k);
  });

  test('the inventory parses with ansible-inventory; groups, hosts and host vars match the spec', async () => {
    const r = await execa('ansible-inventory', ['-i', join(dir, 'kolla/inventory/multinode'), '--list'], { env: { ANSIBLE_LOCALHOST_WARNING: 'false' } });
    const inv = JSON.parse(r.stdout) as Record<string, { hosts?: string[] }> & { _meta: { hostvars: Record<string, Record<string, string>> } };
    for (const [group, hosts] of Object.entries(inventoryGroups(lab))) expect(inv[group]?.hosts ?? [], group).toEqual(hosts);
    expect(inv.deployment?.hosts).toEqual(['localhost']);
    const paths = limaPaths(lab);
    for (const node of lab.nodes) {
      expect(inv._meta.hostvars[node.name], node.name).toEqual({
        ansible_host: node.managementAddress,
        ansible_user: 'root',
        ansible_ssh_private_key_file: paths.sshKey,
        ...hostInterfaces(lab, node),
      });
    }
    expect(inv._meta.hostvars.node1).toMatchObject({ network_interface: 'lima0', tunnel_interface: 'lima1', neutron_external_interface: 'lima3', kolla_external_vip_interface: 'lima2' });
    expect(inv._meta.hostvars.node3).not.toHaveProperty('tunnel_interface');
    expect(inv._meta.hostvars.node3).not.toHaveProperty('storage_interface');
  });

  test("Kolla's service groups are kept, its example hosts and the groups the spec defines are dropped", () => {
    const upstream = '[control]\ncontrol01\n\n[network]\nnetwork01\n\n[deployment]\nlocalhost ansible_connection=local\n\n[loadbalancer:children]\nnetwork\n\n[keystone:children]\ncontrol\n\n[mariadb:children]\ncontrol\n';
    expect(kollaServiceGroups(upstream, ['control', 'network', 'loadbalancer', 'mariadb', 'deployment'])).toBe('[keystone:children]\ncontrol\n');
  });

  test('a HAProxy profile that does not match tls.minVersion is refused; a pinned iSCSI address is rendered per host', () => {
    const spec = structuredClone(lab.spec);
    spec.deployer.haproxySslSettings = 'modern';
    expect(() => renderGlobals(new Lab(spec, lab.file))).toThrow(/accepts TLSv1\.3 and up, but tls\.minVersion is TLSv1\.2/);
    const pinned = structuredClone(lab.spec);
    pinned.storage!.cinder!.backends![0]!.targetAddressPinned = true;
    expect(renderKollaConfig(new Lab(pinned, lab.file)).find((f) => f.path === 'config/cinder/node3/cinder.conf')?.content).toMatch(/\[lvm-1\]\ntarget_ip_address = 10\.0\.3\.103/);
  });
});

describe('Kolla-Ansible rendering of Octavia (kolla-aio, seed 002)', () => {
  const aio = loadLab('kolla-aio');
  const g = renderGlobals(aio);

  test('enable_octavia with the amphora provider, Kolla making lb-mgmt-net and finding the image by its tag', () => {
    expect(g).toMatchObject({
      enable_octavia: 'yes', octavia_provider_drivers: 'amphora:Amphora provider', octavia_auto_configure: 'yes',
      octavia_network_type: 'tenant', octavia_amp_image_tag: 'amphora',
    });
    expect(g).not.toHaveProperty('octavia_amp_network_cidr');
  });

  test('every Octavia key is a Kolla-Ansible 2025.2 variable, every value one it admits', () => {
    const octavia = Object.fromEntries(Object.entries(g).filter(([k]) => k.includes('octavia')));
    const vars = new Set(known.variables);
    expect(Object.keys(octavia).filter((k) => !vars.has(k))).toEqual([]);
    expect(outsideClosedSets('globals.yml', octavia)).toEqual([]);
  });

  test('the ovn provider: its driver and agent, no amphora machinery; no Octavia at all without a load-balancer service', () => {
    const spec = structuredClone(aio.spec);
    spec.loadbalancer = { provider: 'ovn' };
    const ovn = renderGlobals(new Lab(spec, aio.file));
    expect(ovn).toMatchObject({ enable_octavia: 'yes', octavia_provider_drivers: 'ovn:OVN provider', octavia_provider_agents: 'ovn' });
    expect(ovn).not.toHaveProperty('octavia_auto_configure');
    expect(Object.keys(renderGlobals(lab)).filter((k) => k.includes('octavia'))).toEqual([]);
  });
});
