import { expect, it } from 'vitest';
import { loadLab } from '../lab/load.ts';
import { Lab } from '../lab/model.ts';
import { horizonBase, loginRegion } from './horizon.ts';

it('Horizon is reached over plain HTTP on port 80 where the spec says so (kolla-aio, alpine-lxc), over TLS on 443 elsewhere', () => {
  for (const name of ['kolla-aio', 'alpine-lxc']) {
    const lab = loadLab(name);
    expect(lab.spec.dashboard?.port, name).toBe(80);
    expect(horizonBase(lab), name).toBe(`http://${lab.vip(lab.spec.endpoints?.public ?? 'external').host}`);
  }
  const primary = loadLab('primary');
  expect(horizonBase(primary)).toBe(`https://${primary.vip(primary.spec.endpoints!.public!).host}`);
});

it('a port other than the scheme\'s usual one is written out', () => {
  const lab = loadLab('kolla-aio');
  const moved = new Lab({ ...lab.spec, dashboard: { enabled: true, port: 8080 } }, lab.file);
  expect(horizonBase(moved)).toMatch(/^http:\/\/[^/]+:8080$/);
});

it("finds the login form's region in Horizon's hidden input (one region) and in its select (several)", () => {
  // As Debian 12's Horizon (Zed) renders them.
  expect(loginRegion('<input type="hidden" name="region" value="default" id="id_region">')).toBe('default');
  const select = '<select name="region" class="form-control" id="id_region">\n  <option value="0">RegionOne</option>';
  expect(loginRegion(select)).toBe('0');
  expect(loginRegion('<input type="text" name="username" id="id_username">')).toBeUndefined();
});
