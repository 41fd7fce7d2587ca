import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { GUEST_CA_BUNDLE } from '../../../../helpers/openstack/tenant-api.ts';
import { GUEST_BINARIES, GUEST_PACKAGES } from './build.ts';

const recipe = (f: string) => readFileSync(join(import.meta.dirname, f), 'utf8');

it('puts a verifying TLS client in the guest, from a Debian package the recipe installs', () => {
  expect(GUEST_BINARIES).toContain('/usr/bin/openssl');
  expect(GUEST_PACKAGES).toContain('openssl');
});

it('takes the CA certificates from the user data at every boot, into the bundle the checks verify against', () => {
  const init = recipe('init');
  expect(init).toContain('$md/2009-04-04/user-data');
  expect(init).toContain(`ca=${GUEST_CA_BUNDLE}`);
  expect(init).toMatch(/BEGIN CERTIFICATE-----\$\/,\/\^-----END CERTIFICATE/);
});

it("writes the subnet's DNS servers from DHCP into resolv.conf", () => {
  expect(recipe('udhcpc.script')).toMatch(/for d in \$dns; do echo "nameserver \$d"; done\n\s*} >\/etc\/resolv.conf/);
});
