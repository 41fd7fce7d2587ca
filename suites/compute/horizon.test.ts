import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { horizonLogin } from '../../helpers/openstack/horizon.ts';
import { loadCredentials } from '../../helpers/openstack/credentials.ts';

check('compute.horizon-login', 'Horizon serves its login on the external VIP at the scheme and port the spec gives, and the admin login reaches the project overview', async ({ lab, notApplicable, attach }) => {
  if (!lab.spec.dashboard?.enabled) notApplicable(`lab ${lab.name}: the spec has no dashboard (dashboard.enabled is not true)`);
  const credentials = loadCredentials(lab);
  const r = await horizonLogin(lab, credentials);
  await attach('login', r.steps.join('\n'));
  expect(r.loginPage, `Horizon at ${r.base}: the login page`).toBe(200);
  const as = `${r.user} (${credentials.source.replace(/^clouds\.yaml \S+ /, '')})`;
  expect(r.landedOn, `Horizon at ${r.base}: after logging in as ${as}`).toMatch(/\/project\//);
});
