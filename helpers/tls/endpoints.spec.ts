import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadLab, repoRoot } from '../lab/load.ts';
import type { Lab } from '../lab/model.ts';
import { labVariant } from '../lab/variant.ts';
import type { LabSpec } from '../lab/spec.ts';
import { endpointLabel, tlsEndpoints, vipTerminatesTls } from './endpoints.ts';
import { expectedTlsEndpoints } from './survey.ts';

const variant = (name: string, change: (spec: LabSpec) => void): Lab => labVariant(change, name);

describe('tlsEndpoints', () => {
  it('lists every distinct catalog host:port once per VIP, plus Prometheus and Horizon, on the embedded lab', () => {
    const lab = loadLab('embedded');
    const endpoints = tlsEndpoints(lab);
    expect(endpoints).toHaveLength(15);
    expect(endpoints.filter((e) => e.serves.includes('horizon')).map((e) => e.id).sort()).toEqual(['internal.openstack.local:443', 'public.openstack.local:443']);
    expect(endpoints.find((e) => e.id === 'public.openstack.local:5000')).toEqual({
      id: 'public.openstack.local:5000',
      host: 'public.openstack.local',
      port: 5000,
      address: '10.0.2.250',
      vip: 'external',
      tls: true,
      serves: ['keystone public'],
      notExpected: undefined,
    });
    expect(endpointLabel(endpoints.find((e) => e.id === 'internal.openstack.local:9091')!)).toBe('internal.openstack.local:9091 (prometheus)');
    expect(endpoints.every((e) => e.tls)).toBe(true);
  });

  it('adds Horizon on each endpoint VIP and Grafana on its VIP where the primary lab has them', () => {
    const endpoints = tlsEndpoints(loadLab('primary'));
    expect(endpoints.filter((e) => e.serves.includes('horizon')).map((e) => e.id).sort()).toEqual(['internal.openstack.local:443', 'public.openstack.local:443']);
    expect(endpoints.find((e) => e.serves.includes('grafana'))).toMatchObject({ id: 'internal.openstack.local:3000', tls: true, notExpected: undefined });
  });

  it('leaves out what the lab lacks and what the spec serves without TLS', () => {
    const lab = variant('primary', (s) => {
      s.capabilities = { lacks: { grafana: 'not packaged' } };
      s.tls!.internal = false;
    });
    const { endpoints, left } = expectedTlsEndpoints(lab);
    expect(endpoints.every((e) => e.vip === 'external')).toBe(true);
    expect(left).toContain('internal.openstack.local:3000 (grafana): lab primary lacks grafana: not packaged');
    expect(left).toContain('internal.openstack.local:5000 (keystone internal): the spec demands no TLS there (tls.internal false, tls.external true)');
    expect(vipTerminatesTls(lab, 'internal')).toBe(false);
  });

  it('follows another spec: other names, addresses, ports and TLS sides', () => {
    const lab = loadLab(join(repoRoot, 'provision/local/testdata/other/lab.yaml'));
    const { endpoints, left } = expectedTlsEndpoints(lab);
    expect(endpoints.map((e) => `${e.id}@${e.address}`)).toEqual(['cloud.example.test:5000@172.31.20.100']);
    expect(left).toEqual([
      'api.example.test:5000 (keystone internal): the spec demands no TLS there (tls.internal false, tls.external true)',
      'api.example.test:9090 (prometheus): the spec demands no TLS there (tls.internal false, tls.external true)',
    ]);
  });

  it('uses the VIP address as host when the VIP has no FQDN', () => {
    const lab = variant('embedded', (s) => void delete s.vips!.internal!.fqdn);
    expect(tlsEndpoints(lab).find((e) => e.vip === 'internal')).toMatchObject({ host: '192.168.105.250', address: '192.168.105.250' });
  });

  it("charmed-twin: every VIP of every service's pair and Horizon's is a TLS endpoint of its own, under its own name", () => {
    const twin = loadLab('charmed-twin');
    const endpoints = tlsEndpoints(twin);
    expect(endpoints.map((e) => e.vip).sort()).toEqual(twin.vips.map((v) => v.name).sort());
    expect(endpoints.filter((e) => !e.tls)).toEqual([]);
    expect(endpoints.find((e) => e.vip === 'nova-internal')).toMatchObject({ id: 'nova-internal.twin.dc0.vr0.cloud.neumatrix.local:8774', address: '10.112.8.227', serves: ['nova internal'] });
    expect(endpointLabel(endpoints.find((e) => e.vip === 'dashboard-public')!)).toBe('dashboard.twin.dc0.vr0.cloud.neumatrix.local:443 (horizon)');
  });
});
