import { basename } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadLab } from '../../../helpers/lab/load.ts';
import { Lab } from '../../../helpers/lab/model.ts';
import { renderForTest } from '../testing.ts';
import { drillCatalogue } from './index.ts';
import { tenantDnsChanged } from './ovn.ts';

const lab = loadLab('embedded');
const ml2 = (l: Lab) => renderForTest(l).all.find((d) => d.service === 'neutron-server')!.files.find((f) => basename(f.path) === 'ml2_conf.ini')!;

describe('net-tenant-dns-changed (rendered file only; the live lab is not touched)', () => {
  const drill = tenantDnsChanged(lab)!;

  test("moves [ovn] dns_servers of the rendered ml2_conf.ini to an address of the lab that is no DNS server", () => {
    const { file, edit } = drill.target(lab);
    const good = ml2(lab);
    expect(basename(file)).toBe(basename(good.path));
    const wrong = lab.nodes.find((n) => !n.roles.includes('dns'))!.apiAddress!;
    expect(edit(good.content)).toBe(good.content.replace(`dns_servers = ${lab.spec.neutron!.tenantDnsServers!.join(',')}`, `dns_servers = ${wrong}`));
    expect(lab.spec.neutron!.tenantDnsServers).not.toContain(wrong);
    expect(drill.object).toBe(wrong);
  });

  test('breaks the DHCP options check and, where guests run, the guest checks; is in the catalogue', () => {
    expect(drill.checks).toEqual(['net.tenant-dns', 'compute.guest-dns', 'compute.tenant-api-reach']);
    expect(drill.decisions).toEqual(['DNS-05', 'VIP-02']);
    expect(drillCatalogue(lab).map((d) => d.name)).toContain('net-tenant-dns-changed');
  });

  test('is left out where the spec gives no tenant DNS servers', () => {
    const none = new Lab({ ...lab.spec, neutron: { ...lab.spec.neutron!, tenantDnsServers: undefined } }, lab.file);
    expect(tenantDnsChanged(none)).toBeUndefined();
  });
});
