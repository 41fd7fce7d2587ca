/**
 * The charmed-twin lab as the local provider renders it: a VIP pair of its own per API service (Charmed D-020), each
 * pair in a keepalived VRRP instance of its own, HAProxy frontends and certificates per VIP, the tenants' public DNS
 * servers in Neutron's configuration only, and nothing of another bundled local lab's names, addresses or interfaces.
 */
import { describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { Lab } from '../../helpers/lab/model.ts';
import { cidrsOverlap } from '../../helpers/net/ip.ts';
import { viaVip } from './api.ts';
import { haproxyRoutes, renderKeepalived, vrrpGroups } from './infra/loadbalancer.ts';
import { vipCertFile, vipSans, vipTls } from './infra/pki.ts';
import { serviceUrl } from './openstack/common.ts';
import { TEST_SECRETS, renderForTest } from './testing.ts';
import { planTopology } from './topology.ts';

const lab = loadLab('charmed-twin');
const r = renderForTest(lab);
const conf = (program: string, suffix: string) => r.all.find((d) => d.program === program)?.files.find((f) => f.path.endsWith(suffix))?.content ?? '';

describe('charmed-twin: a VIP pair per API service', () => {
  test('keepalived runs one VRRP instance per service and for Horizon, each holding exactly its pair', () => {
    const groups = vrrpGroups(lab);
    expect(groups.map((g) => `${g.owner} ${g.vrid}: ${g.vips.map((v) => v.name).join(' ')}`)).toEqual([
      'keystone 81: keystone-public keystone-internal',
      'glance 82: glance-public glance-internal',
      'nova 83: nova-public nova-internal',
      'placement 84: placement-public placement-internal',
      'neutron 85: neutron-public neutron-internal',
      'cinder 86: cinder-public cinder-internal',
      'dashboard 87: dashboard-public dashboard-internal',
    ]);
    const text = renderKeepalived(lab, r.paths, lab.node('twin0'), TEST_SECRETS);
    expect(text.match(/^vrrp_instance /gm)).toHaveLength(7);
    // Advertised from ens3, which has an address; br-ens4 carries only VIPs.
    expect(text).toContain('vrrp_instance charmed-twin_keystone_vip_81 {\n  state BACKUP\n  nopreempt\n  interface ens3\n  virtual_router_id 81\n');
    expect(text).toContain('  virtual_ipaddress {\n    10.112.4.224/22 dev br-ens4\n    10.112.8.224/22 dev ens3\n  }');
    // Every VIP in exactly one instance.
    for (const v of lab.vips) expect(text.split(`${v.address}/`).length - 1, v.name).toBe(1);
  });

  test('a lab of endpoint VIPs keeps its one instance; a VIP that is also an endpoint VIP stays in it', () => {
    expect(vrrpGroups(loadLab('embedded')).map((g) => [g.owner, g.vrid, g.vips.map((v) => v.name)])).toEqual([[undefined, 51, ['internal', 'external']]]);
    const spec = structuredClone(loadLab('four-node').spec);
    spec.vips!.own = { address: '172.29.10.240', network: 'fn-mgmt', fqdn: 'own.fournode.test' };
    spec.services!.glance = { ...spec.services!.glance!, vip: 'outer', internalVip: 'own' };
    const mixed = new Lab(spec, loadLab('four-node').file);
    expect(vrrpGroups(mixed).map((g) => [g.owner, g.vrid, g.vips.map((v) => v.name)])).toEqual([
      [undefined, 61, ['inner', 'outer']],
      ['glance', 62, ['own']],
    ]);
  });

  test('HAProxy serves every catalog endpoint on its own VIP, with the TLS certificate of that VIP', () => {
    const { frontends } = haproxyRoutes(lab);
    for (const c of lab.expectedCatalog) {
      const f = frontends.find((x) => x.name === `${c.service}_${c.vip}`);
      expect(f, `${c.service} ${c.interface}`).toMatchObject({ port: c.port, tls: true, backend: `${c.service}_back` });
      expect(f!.vip.name).toBe(c.vip);
    }
    expect(frontends.filter((f) => f.backend === 'horizon_back').map((f) => `${f.vip.name}:${f.port}`)).toEqual(['dashboard-public:443', 'dashboard-internal:443']);
    const haproxy = conf('twin0-haproxy', 'haproxy.cfg');
    expect(haproxy).toContain(`  bind 10.112.8.226:9696 ssl crt ${r.paths.certificates}/haproxy-neutron-internal.pem ssl-min-ver TLSv1.2\n`);
    expect(haproxy).toContain('hdr Host dashboard.twin.dc0.vr0.cloud.neumatrix.local\n');
  });

  test("every VIP terminates TLS with a certificate of its own naming the VIP's FQDN and address", () => {
    const files = lab.vips.map((v) => vipCertFile(lab, r.paths, v));
    expect(new Set(files).size).toBe(lab.vips.length);
    expect(lab.vips.filter((v) => !vipTls(lab, v)).map((v) => v.name)).toEqual([]);
    expect(vipSans(lab.vip('placement-internal'))).toEqual(['DNS:placement-internal.twin.dc0.vr0.cloud.neumatrix.local', 'IP Address:10.112.8.228']);
  });

  test("services reach each other on the metal VIPs by name; lab up on the service's own internal VIP by address", () => {
    expect(serviceUrl(lab, 'keystone', 'internal')).toBe('https://keystone-internal.twin.dc0.vr0.cloud.neumatrix.local:5000');
    expect(serviceUrl(lab, 'keystone', 'public')).toBe('https://keystone.twin.dc0.vr0.cloud.neumatrix.local:5000');
    expect(viaVip(lab, 'glance')).toBe('https://10.112.8.225:9292');
    expect(conf('twin0-horizon', 'local_settings.py')).toContain('dashboard-internal.twin.dc0.vr0.cloud.neumatrix.local');
  });

  test('tenants get 1.1.1.1 and 1.0.0.1 from OVN (D-019); BIND listens on no such address', () => {
    expect(conf('twin0-neutron-server', 'ml2_conf.ini')).toContain('\ndns_servers = 1.1.1.1,1.0.0.1\n');
    expect(conf('twin0-bind', 'named.conf')).toContain('listen-on port 53 { 10.112.8.40; 10.112.12.40; 10.112.16.40; 127.0.0.1; };');
  });
});

describe('charmed-twin shares nothing with the other bundled local labs', () => {
  const others = ['embedded', 'embedded-infra', 'four-node', 'all-in-one'].map((n) => loadLab(n));

  test('no bridge, veth or namespace name and no network range of another lab', () => {
    const names = (t: ReturnType<typeof planTopology>) => [...t.bridges.map((b) => b.name), ...t.veths.map((v) => v.host), ...t.namespaces.map((n) => n.name)];
    const mine = names(planTopology(lab));
    for (const other of others) {
      expect(mine.filter((n) => names(planTopology(other)).includes(n)), other.name).toEqual([]);
      const overlaps = lab.networks.flatMap((a) => other.networks.filter((b) => cidrsOverlap(a.cidr, b.cidr)).map((b) => `${a.name}/${b.name}`));
      expect(overlaps, other.name).toEqual([]);
    }
    expect(lab.networks.filter((a) => cidrsOverlap(a.cidr, loadLab('charmed-caracal').network('provider').cidr))).toEqual([]);
  });

  test('nothing rendered carries a name or address of the embedded lab', () => {
    const text = [...r.all.flatMap((d) => [...d.argv, ...d.files.map((f) => f.content)]), ...r.files.map((f) => f.content)].join('\n');
    for (const leak of ['192.168.105.', '10.0.1.', '10.0.2.', '10.0.3.', 'openstack.local', 'node1', 'node2', 'node3', 'embedded', 'eth0']) {
      expect(text).not.toContain(leak);
    }
  });
});
