import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { nodeScrapeListeners, portClashes } from '../../helpers/lab/listeners.ts';

check('pre.monitoring-targets', 'every scrape job has a target, and no two jobs share a port on a node', ({ lab, notApplicable }) => {
  const mon = lab.spec.monitoring;
  if (!mon) return notApplicable('the spec has no monitoring section');
  const targets = lab.expectedTargets;
  const empty = mon.jobs.filter((j) => !targets.some((t) => t.job === j.job)).map((j) => `job ${j.job} (roles ${(j.roles ?? ['all']).join(', ')}) resolves to no target`);
  const clashes = portClashes(nodeScrapeListeners(lab)).map((c) => `port ${c.port} on node ${c.on} is claimed by ${c.claimants.join(' and ')}`);
  expect([...empty, ...clashes], 'scrape targets').toEqual([]);
});
