import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';

check('tls.catalog-https', 'Every endpoint of the Keystone catalog, public and internal, is https', async ({ cloud, attach }) => {
  const c = await cloud();
  const endpoints = c.catalog.flatMap((s) => s.endpoints.map((e) => ({ service: `${s.name} (${s.type})`, ...e })));
  await attach('catalog', endpoints.map((e) => `${e.service} ${e.interface} ${e.url}`).join('\n'));
  expect(endpoints.length, 'the catalog has no endpoints').toBeGreaterThan(0);
  expect(endpoints.filter((e) => !e.url.startsWith('https://')).map((e) => `${e.service} ${e.interface} ${e.url}`), 'catalog endpoints not on https').toEqual([]);
});
