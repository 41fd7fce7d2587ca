import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { attachmentProblems, hostBudget } from '../../helpers/lab/placement.ts';

check('pre.network-attachment', 'each network reaches exactly the nodes the design attaches, as their roles need', ({ lab }) => {
  expect(attachmentProblems(lab), 'network attachment').toEqual([]);
});

check('pre.host-budget', 'the nodes fit the host after its reserve', ({ lab, notApplicable }) => {
  const budget = hostBudget(lab);
  if (!budget) return notApplicable('the spec describes no host');
  const over = budget
    .filter((b) => b.demanded > b.available)
    .map((b) => `${b.resource}: nodes need ${b.demanded} (${b.parts}), the host has ${b.host} minus a reserve of ${b.reserve} = ${b.available}`);
  expect(over, 'resources the host cannot give').toEqual([]);
});
