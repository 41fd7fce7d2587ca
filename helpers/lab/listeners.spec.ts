import { describe, expect, it } from 'vitest';
import { catalogProblems, nodeScrapeListeners, ownVipPairs, portClashes, vipListeners, vipPairProblems } from './listeners.ts';
import { loadLab } from './load.ts';
import { labVariant } from './variant.ts';

const variant = labVariant;

describe('listeners', () => {
  const primary = loadLab('primary');

  it('lists the frontends on each VIP without clashes in the primary lab', () => {
    const listeners = vipListeners(primary);
    expect(listeners).toContainEqual({ on: 'external', port: 5000, what: 'service keystone' });
    expect(listeners).toContainEqual({ on: 'internal', port: 3000, what: 'grafana' });
    expect(listeners).toContainEqual({ on: 'external', port: 443, what: 'dashboard' });
    expect(portClashes(listeners)).toEqual([]);
    const clash = variant((s) => void (s.monitoring!.grafana!.port = 9292));
    expect(portClashes(vipListeners(clash))).toEqual([{ on: 'internal', port: 9292, claimants: ['service glance', 'grafana'] }]);
  });

  it('wants catalog VIPs named in the DNS domain', () => {
    expect(catalogProblems(primary)).toEqual([]);
    const bare = variant((s) => {
      delete s.vips!.internal!.fqdn;
      s.vips!.external!.fqdn = 'public.example.org';
    });
    expect(catalogProblems(bare)).toEqual([
      'VIP internal carries catalog endpoints but has no FQDN in the DNS domain openstack.local: the catalog would publish a bare address',
      "VIP external's FQDN public.example.org lies outside the DNS domain openstack.local",
    ]);
    const noPublic = variant((s) => void delete s.endpoints!.public);
    expect(catalogProblems(noPublic)).toContain('service keystone wants a public endpoint, but the spec names no public VIP for it');
  });

  it("finds two scrape jobs on one node's port", () => {
    expect(portClashes(nodeScrapeListeners(primary))).toEqual([]);
    const clash = variant((s) => void s.monitoring!.jobs.push({ job: 'other', port: 9104, roles: ['control'] }));
    expect(portClashes(nodeScrapeListeners(clash))).toEqual([{ on: 'node1', port: 9104, claimants: ['job mysqld', 'job other'] }]);
  });

  describe('per-service VIP pairs (Charmed D-020)', () => {
    const twin = (change: Parameters<typeof variant>[0]) => variant(change, 'charmed-twin');

    it("finds every service's and Horizon's own pair in the twin, and none in a lab of endpoint VIPs", () => {
      expect(ownVipPairs(loadLab('charmed-twin')).map((p) => `${p.owner} ${p.public} ${p.internal}`)).toEqual([
        'service keystone keystone-public keystone-internal',
        'service glance glance-public glance-internal',
        'service nova nova-public nova-internal',
        'service placement placement-public placement-internal',
        'service neutron neutron-public neutron-internal',
        'service cinder cinder-public cinder-internal',
        'dashboard dashboard-public dashboard-internal',
      ]);
      expect(vipPairProblems(loadLab('charmed-twin'))).toEqual([]);
      expect(vipPairProblems(loadLab('charmed-caracal'))).toEqual([]);
      expect(ownVipPairs(primary)).toEqual([]);
    });

    it('names half a pair, a pair on one network and a VIP two services claim, with what the spec says', () => {
      const half = twin((s) => void delete s.services!.glance!.internalVip);
      expect(vipPairProblems(half)).toEqual([
        'service glance has its own public VIP glance-public (10.112.4.225, network tw-provider) but no internal VIP of its own; expected a pair, one VIP per interface',
      ]);
      const oneSpace = twin((s) => void (s.vips!['nova-internal'] = { address: '10.112.4.240', network: 'tw-provider' }));
      expect(vipPairProblems(oneSpace)).toEqual([
        "service nova's public VIP nova-public (10.112.4.227, network tw-provider) and internal VIP nova-internal (10.112.4.240, network tw-provider) share network tw-provider; expected two spaces",
      ]);
      const shared = twin((s) => void (s.services!.cinder!.internalVip = 'glance-internal'));
      expect(vipPairProblems(shared)).toEqual([
        'VIP glance-internal (10.112.8.225, network tw-metal) is the own VIP of service glance and service cinder; expected each pair its own',
      ]);
    });
  });
});
