import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

it('takes an SSH key of every type a client may register (ECDSA is what Tempest registers), and no other text', () => {
  const line = recipe('init').split('\n').find((l) => l.startsWith('keytypes='));
  const pattern = line?.slice("keytypes='".length, -1) ?? '';
  const dir = mkdtempSync(join(tmpdir(), 'sg-keys-'));
  try {
    const types: [string, string][] = [['rsa', ''], ['ed25519', ''], ['ecdsa', '256'], ['ecdsa', '384'], ['ecdsa', '521']];
    for (const [type, bits] of types) {
      const file = join(dir, `${type}${bits}`);
      execFileSync('ssh-keygen', ['-q', '-N', '', '-t', type, ...(bits ? ['-b', bits] : []), '-f', file]);
      expect(execFileSync('grep', ['-cE', pattern, `${file}.pub`], { encoding: 'utf8' }).trim(), `${type}${bits}`).toBe('1');
    }
    const html = join(dir, 'not-a-key');
    writeFileSync(html, '<html>404 Not Found</html>\n');
    expect(() => execFileSync('grep', ['-qE', pattern, html])).toThrow();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
