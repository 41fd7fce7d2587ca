import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { computeInventories } from '../../helpers/openstack/placement.ts';
import { noNovaCompute } from '../../helpers/lab/defaults.ts';

check('compute.placement-inventory', 'Every compute node is a resource provider in Placement with VCPU, memory and disk inventory', async ({ lab, cloud, attach, notApplicable }) => {
  // Nova registers the compute nodes: without it (or without one) there is nothing in Placement to judge.
  if (!lab.spec.services?.nova) {
    notApplicable(`lab ${lab.name}: the spec has no nova service to register compute nodes in Placement`);
  }
  if (lab.novaComputeNodes.length === 0) notApplicable(`lab ${lab.name}: ${noNovaCompute(lab)}`);
  const seen = await computeInventories(lab, await cloud());
  await attach('resource providers', JSON.stringify(seen, null, 2), 'application/json');
  expect(seen.flatMap((s) => s.problems.map((p) => `${s.node}: ${p}`)), 'compute nodes Placement cannot schedule to').toEqual([]);
});
