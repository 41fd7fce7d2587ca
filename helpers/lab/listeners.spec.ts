import { describe, expect, it } from 'vitest';
import { catalogProblems, nodeScrapeListeners, portClashes, vipListeners } from './listeners.ts';
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
});
