import { expect, it } from 'vitest';
import { tokenProject } from '../lab/defaults.ts';
import { loadLab } from '../lab/load.ts';
import { projectFindings } from './cloud.ts';

it("compute.keystone-token: a token of another project or domain than the spec's fails; a non-empty ID is not enough", () => {
  const want = tokenProject(loadLab('primary'));
  expect(want).toEqual({ name: 'admin', domain: 'Default' });
  expect(projectFindings(want, { id: 'p1', name: 'admin', domain: 'Default' })).toEqual([]);
  expect(projectFindings(want, { id: 'p2', name: 'demo', domain: 'Default' })).toEqual(['the token is scoped to project demo (p2), the spec wants admin']);
  expect(projectFindings(want, { id: 'p3', name: 'admin', domain: 'admin_domain' })).toEqual(['project admin of the token is in domain admin_domain, the spec wants Default']);
  expect(projectFindings(want, undefined)[0]).toMatch(/not scoped to any project/);
  expect(tokenProject(loadLab('charmed-caracal'))).toEqual({ name: 'admin', domain: 'admin_domain' });
});
