import { expect, it } from 'vitest';
import { loadLab } from '../../../helpers/lab/load.ts';
import { drillCatalogue } from './index.ts';
import { tenantApiDrop } from './compute.ts';

const lab = loadLab('embedded');

it("drops only the tenants' side (the floating range) at the identity service's public VIP port, on its load balancer", () => {
  const drop = tenantApiDrop(lab)!;
  expect(drop.service).toBe('keystone');
  expect(drop.nodes.map((n) => n.name)).toEqual(['node1']);
  const range = lab.spec.neutron!.externalNetwork!.floatingRange;
  const vip = lab.vip('external');
  expect(drop.rule.join(' ')).toContain(`-d ${vip.address} --dport ${lab.spec.services!.keystone!.port} -m iprange --src-range ${range.start}-${range.end}`);
  // The host's address on the external network (its gateway) lies outside it: the operator's access stays.
  const host = lab.network(vip.network).gateway!;
  const n = (a: string) => a.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  expect(n(host) >= n(range.start) && n(host) <= n(range.end)).toBe(false);
});

it('is a drill that breaks compute.tenant-api-reach alone, naming the service', () => {
  const d = drillCatalogue(lab).find((x) => x.name === 'compute-api-firewalled-from-tenants')!;
  expect(d.checks).toEqual(['compute.tenant-api-reach']);
  expect(d.object).toBe('keystone');
});
