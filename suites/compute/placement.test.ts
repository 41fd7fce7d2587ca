import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { computeInventories } from '../../helpers/openstack/placement.ts';

check('compute.placement-inventory', 'Every compute node is a resource provider in Placement with VCPU, memory and disk inventory', async ({ lab, cloud, attach }) => {
  const seen = await computeInventories(lab, await cloud());
  await attach('resource providers', JSON.stringify(seen, null, 2), 'application/json');
  expect(seen.flatMap((s) => s.problems.map((p) => `${s.node}: ${p}`)), 'compute nodes Placement cannot schedule to').toEqual([]);
});
