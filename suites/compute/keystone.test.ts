import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { tokenProject } from '../../helpers/lab/defaults.ts';
import { Cloud, projectFindings } from '../../helpers/openstack/cloud.ts';
import { loadCredentials } from '../../helpers/openstack/credentials.ts';
import { catalogFindings, tokenProbes } from '../../helpers/openstack/catalog.ts';

check('compute.keystone-token', "Keystone issues a token for the user's own credentials, scoped to the project the spec names", async ({ lab, attach }) => {
  const credentials = loadCredentials(lab);
  const cloud = await Cloud.connect(lab, credentials);
  try {
    const p = cloud.project;
    await attach('token', `from ${credentials.source}: user ${cloud.userId}, project ${p ? `${p.name} (${p.id}) in domain ${p.domain}` : 'none'}, expires ${cloud.expiresAt}\n${cloud.trailText()}`);
    expect(projectFindings(tokenProject(lab), p), `the token for ${credentials.source} (which asks for project ${credentials.projectName} in ${credentials.projectDomainName})`).toEqual([]);
    expect(cloud.catalog.map((s) => s.type), `the token for ${credentials.source} carries no catalog`).not.toEqual([]);
  } finally {
    await cloud.close();
  }
});

check('compute.catalog-services', 'The catalog lists every service the spec expects, public and internal, in its region, at its VIP and port', async ({ lab, cloud, attach }) => {
  const c = await cloud();
  await attach('catalog', JSON.stringify(c.catalog, null, 2), 'application/json');
  expect(catalogFindings(lab, c.catalog), 'catalog entries that differ from the spec').toEqual([]);
});

check('compute.token-accepted', 'Every service accepts the token through every interface of the catalog', async ({ lab, cloud, attach }) => {
  const c = await cloud();
  const probes = await tokenProbes(lab, c);
  await attach('probes', probes.map((p) => `${p.type} ${p.interface} ${p.url} → ${p.seen}`).join('\n'));
  expect(probes.filter((p) => !p.accepted).map((p) => `${p.type} ${p.interface} ${p.url}: ${p.seen}`), 'refused by').toEqual([]);
});
