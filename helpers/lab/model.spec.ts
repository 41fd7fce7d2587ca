import { describe, expect, it } from 'vitest';
import { loadLab, parseLabSpec } from './load.ts';
import { Lab } from './model.ts';

/** A small lab built from inline YAML; `extra` is appended at the top level. */
function lab(extra = '', provider = 'none', networks?: string): Lab {
  const text = `
name: tiny
title: Tiny
design: design.md
release: "2025.2"
provider: ${provider}
deployer: { kind: kolla, version: "21" }
networks:
${
  networks ??
  `  management: { cidr: 192.168.105.0/24, gateway: 192.168.105.1, mode: shared, purpose: [management, api] }
  tunnel: { cidr: 10.0.1.0/24, purpose: [tunnel] }
  external: { cidr: 10.0.2.0/24, gateway: 10.0.2.1, mode: host, purpose: [external], dhcp: false }
  storage: { cidr: 10.0.3.0/24, purpose: [storage], dhcp: { start: 10.0.3.2, end: 10.0.3.99 } }`
}
nodes:
  node1:
    hostname: ctl1
    roles: [control, network, loadbalancer, monitoring, database]
    interfaces:
      - { name: eth0, network: management, address: 192.168.105.101 }
      - { name: eth1, network: tunnel, address: 10.0.1.101 }
      - { name: eth2, network: external, use: vip }
      - { name: eth3, network: external, use: neutron-external }
      - { name: eth4, network: storage, address: 10.0.3.101, mtu: 9000 }
  node2:
    roles: [compute, ceph-osd]
    disks: [{ name: osd, sizeGiB: 20, use: ceph-osd }, { name: spare, sizeGiB: 5, use: other }]
    size: { memoryGiB: 16, vcpus: 4, diskGiB: 40 }
    interfaces:
      - { name: eth0, network: management, address: 192.168.105.102 }
      - { name: eth1, network: tunnel, address: 10.0.1.102 }
  node3:
    roles: [storage]
    interfaces:
      - { name: eth0, network: storage, address: 10.0.3.103 }
vips:
  internal: { address: 192.168.105.250, network: management, fqdn: internal.lab.local }
  external: { address: 10.0.2.250, network: external, fqdn: public.example.org, interface: eth2 }
  bare: { address: 10.0.2.251, network: external }
${extra}`;
  return new Lab(parseLabSpec(text, '/labs/tiny/lab.yaml'), '/labs/tiny/lab.yaml');
}

describe('addresses per network per node', () => {
  const l = lab();

  it('maps each network to the node address on it; VIP-only and external interfaces carry none', () => {
    expect(l.node('node1').addresses).toEqual({ management: '192.168.105.101', tunnel: '10.0.1.101', storage: '10.0.3.101' });
    expect(l.node('node2').addresses).toEqual({ management: '192.168.105.102', tunnel: '10.0.1.102' });
    expect(l.node('node1').nics.filter((n) => n.network === 'external').map((n) => [n.name, n.use, n.address])).toEqual([
      ['eth2', 'vip', undefined],
      ['eth3', 'neutron-external', undefined],
    ]);
  });

  it('derives the API and management address, the prefix and the MTU of every interface', () => {
    expect(l.node('node1').apiAddress).toBe('192.168.105.101');
    expect(l.node('node1').managementAddress).toBe('192.168.105.101');
    expect(l.node('node3').apiAddress).toBeUndefined();
    const eth4 = l.node('node1').nics.find((n) => n.name === 'eth4')!;
    expect([eth4.prefix, eth4.mtu]).toEqual([24, 9000]);
    expect(l.node('node1').nics[0]!.mtu).toBe(1500);
  });

  it('uses the API network for the API address when there is one, else management', () => {
    const split = lab('', 'none', `  management: { cidr: 192.168.105.0/24, purpose: [management] }
  tunnel: { cidr: 10.0.1.0/24, purpose: [api, tunnel] }
  external: { cidr: 10.0.2.0/24, purpose: [external] }
  storage: { cidr: 10.0.3.0/24, purpose: [storage] }`);
    expect(split.node('node1').apiAddress).toBe('10.0.1.101');
    expect(split.node('node1').managementAddress).toBe('192.168.105.101');
  });

  it('knows hostnames, sizes and the nodes on each network', () => {
    expect(l.node('node1').hostname).toBe('ctl1');
    expect(l.node('node3').hostname).toBe('node3');
    expect(l.node('node2').size).toEqual({ memoryGiB: 16, vcpus: 4, diskGiB: 40, extraDiskGiB: 25 });
    expect(l.nodesOn('external').map((n) => n.name)).toEqual(['node1']);
    expect(l.nodesOn('storage').map((n) => n.name)).toEqual(['node1', 'node3']);
    expect(l.nodesWithRole('compute', 'storage').map((n) => n.name)).toEqual(['node2', 'node3']);
    expect(l.nodesWithRole('all')).toHaveLength(3);
    expect(() => l.node('node9')).toThrow(/no node "node9"/);
  });

  it('gives a VIP its FQDN as URL host, or its address when it has none', () => {
    expect(l.vip('internal').host).toBe('internal.lab.local');
    expect(l.vip('bare').host).toBe('10.0.2.251');
    expect(l.vip('external').interface).toBe('eth2');
  });
});

describe("Lima's default DHCP range", () => {
  it('is gateway+1 … .254 on a Lima shared or host network that states none', () => {
    const l = lab('', 'lima');
    const mgmt = l.network('management');
    expect(mgmt.dhcp).toEqual({ start: '192.168.105.2', end: '192.168.105.254' });
    expect(mgmt.dhcpIsDefault).toBe(true);
  });

  it('starts after the first address when the network states no gateway', () => {
    const l = lab('', 'lima', `  management: { cidr: 192.168.105.0/24, mode: host, purpose: [management] }
  tunnel: { cidr: 10.0.1.0/24, purpose: [tunnel] }
  external: { cidr: 10.0.2.0/24, purpose: [external] }
  storage: { cidr: 10.0.3.0/24, purpose: [storage] }`);
    expect(l.network('management').dhcp).toEqual({ start: '192.168.105.2', end: '192.168.105.254' });
  });

  it('is what the spec says when it states a range, and nothing when it says false or names no Lima mode', () => {
    const l = lab('', 'lima');
    expect(l.network('storage').dhcp).toEqual({ start: '10.0.3.2', end: '10.0.3.99' });
    expect(l.network('storage').dhcpIsDefault).toBe(false);
    expect(l.network('external').dhcp).toBeUndefined();
    expect(l.network('tunnel').dhcp).toBeUndefined();
  });

  it('does not apply outside the Lima provider', () => {
    expect(lab('', 'none').network('management').dhcp).toBeUndefined();
    expect(lab('', 'local').network('management').dhcp).toBeUndefined();
  });
});

describe('DNS records and PTRs', () => {
  const l = lab(`dns:
  domain: lab.local
  servers: [{ node: node1 }]
  records: { registry: 192.168.105.50, mirror.example.org: 10.0.3.60, outside: 172.16.0.1 }`);

  it('has an A record for every node management address, every VIP FQDN in the domain and every extra record', () => {
    expect(l.dnsRecords).toEqual([
      { name: 'ctl1.lab.local', address: '192.168.105.101', what: 'node node1' },
      { name: 'node2.lab.local', address: '192.168.105.102', what: 'node node2' },
      { name: 'internal.lab.local', address: '192.168.105.250', what: 'VIP internal' },
      { name: 'registry.lab.local', address: '192.168.105.50', what: 'record registry' },
      { name: 'mirror.example.org', address: '10.0.3.60', what: 'record mirror.example.org' },
      { name: 'outside.lab.local', address: '172.16.0.1', what: 'record outside' },
    ]);
  });

  it('has a PTR in the reverse zone of its network for every record inside a lab network', () => {
    expect(l.ptrRecords).toEqual([
      { ptr: '101.105.168.192.in-addr.arpa', name: 'ctl1.lab.local', address: '192.168.105.101', zone: '105.168.192.in-addr.arpa', what: 'node node1' },
      { ptr: '102.105.168.192.in-addr.arpa', name: 'node2.lab.local', address: '192.168.105.102', zone: '105.168.192.in-addr.arpa', what: 'node node2' },
      { ptr: '250.105.168.192.in-addr.arpa', name: 'internal.lab.local', address: '192.168.105.250', zone: '105.168.192.in-addr.arpa', what: 'VIP internal' },
      { ptr: '50.105.168.192.in-addr.arpa', name: 'registry.lab.local', address: '192.168.105.50', zone: '105.168.192.in-addr.arpa', what: 'record registry' },
      { ptr: '60.3.0.10.in-addr.arpa', name: 'mirror.example.org', address: '10.0.3.60', zone: '3.0.10.in-addr.arpa', what: 'record mirror.example.org' },
    ]);
  });

  it('has none without a dns section', () => {
    expect(lab().dnsRecords).toEqual([]);
    expect(lab().ptrRecords).toEqual([]);
  });

  it('covers the Alpine lab: every host, both VIPs and the containers, each with a PTR', () => {
    const alpine = loadLab('alpine-lxc');
    const names = alpine.dnsRecords.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['controller-1.os.internal', 'ceph-3.os.internal', 'api.os.internal', 'db.os.internal', 'keystone-1.os.internal']));
    expect(alpine.ptrRecords).toHaveLength(alpine.dnsRecords.length);
    expect(new Set(alpine.ptrRecords.map((p) => p.zone))).toEqual(new Set(['0.40.10.in-addr.arpa', '0.41.10.in-addr.arpa']));
    expect(alpine.spec.dns?.servers.map((s) => `${s.node}:${s.role}`)).toEqual(['controller-1:primary', 'controller-2:secondary', 'controller-3:secondary']);
  });

  it('reads seed 004\'s replication: PostgreSQL master + two synchronous slaves, logging to controller-1 then 2 then 3', () => {
    const alpine = loadLab('alpine-lxc');
    expect(alpine.spec.postgresql).toMatchObject({ primary: 'controller-1', synchronous: ['controller-2', 'controller-3'] });
    expect(alpine.spec.logging?.collectors).toEqual(['controller-1', 'controller-2', 'controller-3']);
    expect(alpine.spec.logging).toMatchObject({ port: 10514, protocol: 'tcp', failover: true });
  });
});

describe('expected Prometheus (job, instance) pairs', () => {
  const monitoring = `monitoring:
  prometheus: { vip: internal, port: 9091 }
  jobs:
    - { job: node, port: 9100, roles: [all] }
    - { job: mysqld, port: 9104, roles: [database] }
    - { job: libvirt_exporter, port: 9177, roles: [compute], requires: libvirt-exporter }
    - { job: openstack_exporter, port: 9198, vip: internal }
    - { job: ceph_mgr_exporter, port: 9283, roles: [control], phase: 2 }
    - { job: everyone, port: 1234 }`;

  it('has one target per node with a role of the job, at its API address, and one per VIP job', () => {
    const l = lab(`${monitoring}\nstorage: { phase: 1 }`);
    const pairs = l.expectedTargets.map((t) => [t.job, t.instance, t.node ?? '-', t.notExpected === undefined]);
    expect(pairs).toEqual([
      // node3 has no address on the API network: it cannot be scraped there, so it is not expected.
      ['node', '192.168.105.101:9100', 'node1', true],
      ['node', '192.168.105.102:9100', 'node2', true],
      ['mysqld', '192.168.105.101:9104', 'node1', true],
      ['libvirt_exporter', '192.168.105.102:9177', 'node2', true],
      ['openstack_exporter', 'internal.lab.local:9198', '-', true],
      ['ceph_mgr_exporter', '192.168.105.101:9283', 'node1', false],
      ['everyone', '192.168.105.101:1234', 'node1', true],
      ['everyone', '192.168.105.102:1234', 'node2', true],
    ]);
  });

  it('marks a job of a later storage phase as not yet due, and a job needing a lacking capability as not expected', () => {
    const l = lab(`${monitoring}\nstorage: { phase: 1 }\ncapabilities: { lacks: { libvirt-exporter: no libvirt in this lab } }`);
    const why = Object.fromEntries(l.expectedTargets.map((t) => [t.job, t.notExpected]));
    expect(why.ceph_mgr_exporter).toBe('not yet due: phase 2, lab is in storage phase 1');
    expect(why.libvirt_exporter).toBe('lab lacks libvirt-exporter: no libvirt in this lab');
    expect(why.node).toBeUndefined();
  });

  it('expects the phase-2 job once the lab is in phase 2', () => {
    const l = lab(`${monitoring}\nstorage: { phase: 2 }`);
    expect(l.expectedTargets.find((t) => t.job === 'ceph_mgr_exporter')?.notExpected).toBeUndefined();
    expect(l.storagePhase).toBe(2);
  });

  it('has none without monitoring', () => {
    expect(lab().expectedTargets).toEqual([]);
    expect(lab().storagePhase).toBe(1);
  });
});

describe('catalog expectations', () => {
  it('has every service × interface on the endpoint VIP, https where TLS is demanded', () => {
    const l = lab(`endpoints: { public: external, internal: internal }
services:
  keystone: { type: identity, port: 5000 }
  nova: { type: compute, port: 8774, path: /v2.1, interfaces: [public, internal, admin] }
tls: { internal: false, external: true }`);
    expect(l.expectedCatalog.map((c) => `${c.service} ${c.type} ${c.interface} ${c.scheme}://${c.host}:${c.port} (${c.vip})`)).toEqual([
      'keystone identity public https://public.example.org:5000 (external)',
      'keystone identity internal http://internal.lab.local:5000 (internal)',
      // No admin endpoint VIP in the spec: no admin expectation.
      'nova compute public https://public.example.org:8774 (external)',
      'nova compute internal http://internal.lab.local:8774 (internal)',
    ]);
  });

  it('lets a service have its own public and internal VIPs (hacluster style)', () => {
    const l = lab(`endpoints: { public: external, internal: internal }
services:
  keystone: { type: identity, port: 5000, vip: bare }
  glance: { type: image, port: 9292, internalVip: bare, interfaces: [internal] }
tls: { internal: true, external: true }`);
    expect(l.expectedCatalog.map((c) => `${c.service} ${c.interface} ${c.host} ${c.scheme}`)).toEqual([
      'keystone public 10.0.2.251 https',
      'keystone internal internal.lab.local https',
      'glance internal 10.0.2.251 https',
    ]);
  });

  it('is plain HTTP on one VIP for the all-in-one lab', () => {
    const aio = loadLab('kolla-aio');
    const catalog = aio.expectedCatalog;
    expect(new Set(catalog.map((c) => `${c.scheme}://${c.host}`))).toEqual(new Set(['http://10.10.30.55']));
    expect(catalog.filter((c) => c.type === 'load-balancer').map((c) => c.interface)).toEqual(['public', 'internal']);
    expect(aio.nodes.map((n) => n.name)).toEqual(['aio']);
    expect(aio.node('aio').addresses).toEqual({ management: '10.10.10.51', api: '10.10.30.50' });
  });

  it('has per-service provider VIPs (public, FQDN) and metal VIPs (internal) in the Charmed lab', () => {
    const charmed = loadLab('charmed-caracal');
    const keystone = charmed.expectedCatalog.filter((c) => c.service === 'keystone');
    expect(keystone.map((c) => `${c.interface} ${c.scheme}://${c.host}:${c.port}`)).toEqual([
      'public https://keystone.omega.dc0.vr0.cloud.neumatrix.local:5000',
      'internal https://10.12.8.224:5000',
    ]);
    for (const c of charmed.expectedCatalog.filter((x) => x.interface === 'public')) {
      const last = Number(charmed.vip(c.vip).address.split('.')[3]);
      expect(charmed.vip(c.vip).network).toBe('provider');
      expect(last, `${c.service} public VIP in the D-003 API VIP range`).toBeGreaterThanOrEqual(224);
    }
    expect(charmed.node('openstack2').managementAddress).toBe('10.12.16.42');
  });
});

describe('the VIPs a lab publishes on', () => {
  it('the embedded lab: the endpoint VIPs, TLS on both, Horizon on both, public first', () => {
    const lab = loadLab('embedded');
    expect(lab.vipInterfaces('external')).toEqual(['public']);
    expect(lab.vipInterfaces('internal')).toEqual(['internal']);
    expect([lab.vipTls('external'), lab.vipTls('internal')]).toEqual([true, true]);
    expect(lab.dashboardVips.map((v) => v.name)).toEqual(['external', 'internal']);
    expect(lab.dashboardPublicVip?.name).toBe('external');
  });

  it("charmed-twin: each service's own pair, public on the provider space and internal on metal; Horizon's own pair", () => {
    const lab = loadLab('charmed-twin');
    const keystone = lab.expectedCatalog.filter((c) => c.service === 'keystone').map((c) => `${c.interface} ${c.vip} ${c.host}`);
    expect(keystone).toEqual([
      'public keystone-public keystone.twin.dc0.vr0.cloud.neumatrix.local',
      'internal keystone-internal keystone-internal.twin.dc0.vr0.cloud.neumatrix.local',
    ]);
    for (const c of lab.expectedCatalog) expect(lab.vip(c.vip).network).toBe(c.interface === 'public' ? 'tw-provider' : 'tw-metal');
    expect(lab.vips.filter((v) => lab.vipInterfaces(v.name).length !== 1)).toEqual([]);
    expect(lab.vips.filter((v) => !lab.vipTls(v.name))).toEqual([]);
    expect(lab.dashboardVips.map((v) => v.name)).toEqual(['dashboard-public', 'dashboard-internal']);
    expect(lab.vipInterfaces('dashboard-internal')).toEqual(['internal']);
  });
});
