/**
 * The embedded lab's OpenStack part checked with the real `openstack` CLI (python3-openstackclient) against the
 * lab's TLS endpoints, with the generated clouds.yaml, from inside the control node (whose resolver is the lab's
 * BIND, so the catalog's FQDNs resolve). Runs only as root and only when the OpenStack part is up.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { Lab } from '../../helpers/lab/model.ts';
import { labPaths, netnsName } from './index.ts';
import { parse } from 'yaml';
import { deployedServices, layout, openstackEnabled } from './openstack/common.ts';
import { cloudName, cloudsFile, renderCloudsYaml } from './openstack/keystone.ts';
import { chassisSettings } from './openstack/ovn.ts';
import { upComplete } from './orchestrator.ts';
import { renderSupervisor, supervisordPid } from './supervisor.ts';
import { renderForTest, TEST_OPENSTACK_SECRETS as fake } from './testing.ts';

const lab = loadLab(process.env.STACKGATE_LAB || 'embedded');
const paths = labPaths(lab.name);
const live = process.getuid?.() === 0 && lab.provider === 'local' && supervisordPid(paths) !== undefined && upComplete(paths);

const P = 'sg-selftest';

describe('OpenStack part rendering (pure)', () => {
  const r = renderForTest(lab);
  const tmp = r.paths;
  // The cloud's daemons (Ceph's aside): every one started by the provider after its component's bootstrap.
  const daemons = r.all.filter((d) => d.manual && !d.service.startsWith('ceph-'));

  test('is on when the spec lists Keystone under a packages deployer, and off for a spec without a cloud', () => {
    expect(openstackEnabled(lab)).toBe(true);
    const infra = loadLab('embedded-infra');
    expect(openstackEnabled(infra)).toBe(false);
  });

  test('places every daemon on the node its role names, all started by the provider, not by supervisor', () => {
    const l = layout(lab);
    const on = (service: string) => daemons.filter((d) => d.service === service).map((d) => d.node);
    expect(on('mariadb')).toEqual([l.database.name]);
    expect(on('rabbitmq')).toEqual([l.messaging.name]);
    for (const s of ['keystone', 'glance-api', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'neutron-server', 'ovn-northd']) expect(on(s)).toEqual([l.control.name]);
    expect(on('nova-compute')).toEqual(lab.nodesWithRole('compute').map((n) => n.name));
    expect(on('ovn-controller').sort()).toEqual([...new Set([...lab.nodesWithRole('network'), ...lab.nodesWithRole('compute')].map((n) => n.name))].sort());
    expect(daemons.every((d) => d.manual)).toBe(true);
    expect(renderSupervisor(lab, tmp, daemons)).not.toMatch(/autostart=true/);
  });

  test('chassis tunnel from their tunnel-network address; only network nodes are gateways with the physnet bridge', () => {
    const l = layout(lab);
    const tunnel = lab.networkFor('tunnel')!;
    for (const n of l.chassis) {
      const s = chassisSettings(lab, l, n);
      expect(s['ovn-encap-ip']).toBe(n.addresses[tunnel.name]);
      expect(s['ovn-bridge-datapath-type']).toBe('netdev');
      expect(s['system-id']).toBe(n.hostname);
      expect('ovn-bridge-mappings' in s).toBe(n.roles.includes('network'));
    }
  });

  test("ml2_conf.ini gives subnets without DNS servers of their own the spec's tenant DNS servers, none when it names none", () => {
    const ml2 = (rendered: typeof r) => rendered.all.find((d) => d.service === 'neutron-server')!.files.find((f) => f.path.endsWith('/ml2_conf.ini'))!.content;
    const ovn = (text: string) => text.split(/^\[/m).find((s) => s.startsWith('ovn]')) ?? '';
    expect(ovn(ml2(r))).toContain(`\ndns_servers = ${lab.spec.neutron!.tenantDnsServers!.join(',')}\n`);
    const none = new Lab({ ...lab.spec, neutron: { ...lab.spec.neutron!, tenantDnsServers: undefined } }, lab.file);
    expect(ovn(ml2(renderForTest(none)))).not.toContain('dns_servers');
  });

  test('clouds.yaml: Kolla-style cloud names, public on the external FQDN, internal on the internal FQDN, with cacert', () => {
    const y = parse(renderCloudsYaml(lab, tmp, fake)) as { clouds: Record<string, { auth: { auth_url: string }; cacert: string; interface: string }> };
    const name = cloudName(lab);
    expect(Object.keys(y.clouds)).toEqual([name, `${name}-internal`, `${name}-system`]);
    expect(y.clouds[name]!.auth.auth_url).toContain(lab.vip(lab.spec.endpoints!.public!).host);
    expect(y.clouds[`${name}-internal`]!.auth.auth_url).toContain(lab.vip(lab.spec.endpoints!.internal!).host);
    expect(y.clouds[name]!.cacert).toBe(tmp.caCert);
  });
});

async function os<T = unknown>(...args: string[]): Promise<T> {
  const ns = netnsName(lab, layout(lab).control);
  const { stdout } = await execa('ip', ['netns', 'exec', ns, 'openstack', ...args, '-f', 'json'], {
    env: { PATH: '/usr/bin:/usr/sbin:/bin:/sbin', OS_CLIENT_CONFIG_FILE: cloudsFile(lab, paths), OS_CLOUD: cloudName(lab) },
    extendEnv: false,
    timeout: 180_000,
  });
  return (stdout.trim() ? JSON.parse(stdout) : {}) as T;
}

/** A command that prints nothing (set, add, delete …): no -f json; throws when it fails. */
async function act(...args: string[]): Promise<void> {
  const ns = netnsName(lab, layout(lab).control);
  await execa('ip', ['netns', 'exec', ns, 'openstack', ...args], {
    env: { PATH: '/usr/bin:/usr/sbin:/bin:/sbin', OS_CLIENT_CONFIG_FILE: cloudsFile(lab, paths), OS_CLOUD: cloudName(lab) },
    extendEnv: false,
    timeout: 180_000,
  });
}

async function quiet(...args: string[]): Promise<void> {
  const ns = netnsName(lab, layout(lab).control);
  await execa('ip', ['netns', 'exec', ns, 'openstack', ...args], {
    env: { PATH: '/usr/bin:/usr/sbin:/bin:/sbin', OS_CLIENT_CONFIG_FILE: cloudsFile(lab, paths), OS_CLOUD: cloudName(lab) },
    extendEnv: false,
    reject: false,
    timeout: 180_000,
  });
}

describe.skipIf(!live)(`lab ${lab.name}: OpenStack part (live, openstack CLI over TLS)`, () => {
  const cleanup: string[][] = [];
  const work = mkdtempSync(join(tmpdir(), `${P}-`));

  afterAll(async () => {
    for (const c of cleanup.reverse()) await quiet(...c);
    rmSync(work, { recursive: true, force: true });
  }, 300_000);

  test('a token is issued through the public endpoint', async () => {
    const t = await os<{ id: string; expires: string }>('token', 'issue');
    expect(t.id.length).toBeGreaterThan(20);
  });

  test('the catalog lists every deployed service, public on the external FQDN and internal on the internal FQDN', async () => {
    const eps = await os<{ 'Service Type': string; Interface: string; URL: string }[]>('endpoint', 'list');
    const types = new Set(eps.map((e) => e['Service Type']));
    const wanted = ['identity', 'compute', 'network', 'image', 'placement', ...(deployedServices(lab).includes('cinder') ? ['volumev3'] : [])];
    for (const t of wanted) expect(types, t).toContain(t);
    for (const c of lab.expectedCatalog.filter((x) => types.has(x.type))) {
      const urls = eps.filter((e) => e['Service Type'] === c.type && e.Interface === c.interface).map((e) => e.URL);
      expect(urls.some((u) => u.startsWith(`${c.scheme}://${c.host}:${c.port}`)), `${c.type} ${c.interface}: ${urls.join(', ')}`).toBe(true);
    }
  });

  test('an image uploads, a network/subnet/router/floating IP are made, a server goes ACTIVE, all are deleted', async () => {
    const file = join(work, 'tiny.raw');
    writeFileSync(file, Buffer.alloc(16 * 1024, 0));
    const image = await os<{ id: string; status: string }>('image', 'create', '--disk-format', 'raw', '--container-format', 'bare', '--file', file, `${P}-image`);
    cleanup.push(['image', 'delete', image.id]);
    expect((await os<{ status: string }>('image', 'show', image.id)).status).toBe('active');

    const flavor = await os<{ id: string }>('flavor', 'create', '--ram', '64', '--vcpus', '1', '--disk', '1', `${P}-flavor`);
    cleanup.push(['flavor', 'delete', flavor.id]);
    const net = await os<{ id: string }>('network', 'create', `${P}-net`);
    cleanup.push(['network', 'delete', net.id]);
    const cidr = lab.spec.neutron?.tenantSubnets?.[0] ?? '172.16.1.0/24';
    const subnet = await os<{ id: string }>('subnet', 'create', '--network', net.id, '--subnet-range', cidr, `${P}-subnet`);
    cleanup.push(['subnet', 'delete', subnet.id]);
    const router = await os<{ id: string }>('router', 'create', `${P}-router`);
    cleanup.push(['router', 'delete', router.id]);
    const external = lab.spec.neutron?.externalNetwork?.name ?? 'public';
    await act('router', 'set', '--external-gateway', external, router.id);
    cleanup.push(['router', 'unset', '--external-gateway', router.id]);
    await act('router', 'add', 'subnet', router.id, subnet.id);
    cleanup.push(['router', 'remove', 'subnet', router.id, subnet.id]);
    const fip = await os<{ id: string; floating_ip_address: string }>('floating', 'ip', 'create', '--description', `${P}-fip`, external);
    cleanup.push(['floating', 'ip', 'delete', fip.id]);
    const range = lab.spec.neutron?.externalNetwork?.floatingRange;
    if (range) expect(fip.floating_ip_address.split('.').slice(0, 3)).toEqual(range.start.split('.').slice(0, 3));

    const server = await os<{ id: string; status: string }>('server', 'create', '--flavor', flavor.id, '--image', image.id, '--network', net.id, '--wait', `${P}-server`);
    cleanup.push(['server', 'delete', '--wait', server.id]);
    expect(server.status).toBe('ACTIVE');

    // Delete in reverse order now (afterAll only mops up after a failure).
    for (const c of cleanup.splice(0).reverse()) await act(...c);
    const left = await os<{ Name: string }[]>('server', 'list', '--name', P);
    expect(left).toEqual([]);
    expect((await os<{ Name: string }[]>('network', 'list')).filter((n) => n.Name.startsWith(P))).toEqual([]);
    expect((await os<{ Name: string }[]>('image', 'list')).filter((n) => n.Name.startsWith(P))).toEqual([]);
  }, 600_000);
});
