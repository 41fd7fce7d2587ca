import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { GUEST_CA_BUNDLE } from '../../../../helpers/openstack/tenant-api.ts';
import { GUEST_BINARIES, GUEST_PACKAGES, hasPvhEntry } from './build.ts';

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

it("takes root's key from a config drive's meta_data.json first (as cloud-init's ConfigDrive), in busybox's own tools", () => {
  const init = recipe('init');
  expect(init.indexOf('blkid -L config-2')).toBeLessThan(init.indexOf('meta-data/public-keys/0/openssh-key'));
  const lines = init.split('\n');
  const from = lines.findIndex((l) => l.includes("tr ',{}'"));
  const to = lines.findIndex((l, i) => i >= from && l.includes('>/tmp/key'));
  const keytypes = lines.find((l) => l.startsWith('keytypes='))!;
  const dir = mkdtempSync(join(tmpdir(), 'sg-cfg-'));
  try {
    const ed = join(dir, 'ed');
    execFileSync('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-C', 'stackgate', '-f', ed]);
    const key = readFileSync(`${ed}.pub`, 'utf8').trim();
    // Nova's meta_data.json: the key in public_keys and again in keys[].data, with the newline the key pair carries.
    const meta = { uuid: 'u', meta: { note: 'a, b' }, public_keys: { k: `${key}\n` }, keys: [{ name: 'k', type: 'ssh', data: `${key}\n` }] };
    writeFileSync(join(dir, 'meta_data.json'), JSON.stringify(meta));
    const pipeline = lines.slice(from, to + 1).join('\n')
      .replace('"$cfg/openstack/latest/meta_data.json"', `"${dir}/meta_data.json"`)
      .replace(/ >\/tmp\/key && key=.*$/, '');
    const out = execFileSync('/bin/busybox', ['sh', '-c', `${keytypes}\n${pipeline}`], { encoding: 'utf8' });
    expect(out).toBe(`${key}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An ELF64 little-endian file with one PT_NOTE segment holding the given notes (name, type). */
function elfWithNotes(notes: [string, number][]): Buffer {
  const body = Buffer.concat(notes.map(([name, type]) => {
    const n = Buffer.from(`${name}\0`);
    const head = Buffer.alloc(12);
    head.writeUInt32LE(n.length, 0);
    head.writeUInt32LE(8, 4);
    head.writeUInt32LE(type, 8);
    return Buffer.concat([head, n, Buffer.alloc((4 - (n.length % 4)) % 4), Buffer.alloc(8)]);
  }));
  const elf = Buffer.alloc(64 + 56);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2;
  elf[5] = 1;
  elf.writeBigUInt64LE(64n, 0x20);
  elf.writeUInt16LE(56, 0x36);
  elf.writeUInt16LE(1, 0x38);
  elf.writeUInt32LE(4, 64);
  elf.writeBigUInt64LE(120n, 64 + 8);
  elf.writeBigUInt64LE(BigInt(body.length), 64 + 32);
  return Buffer.concat([elf, body]);
}

it('boots a kernel directly only where it has a PVH entry: a Xen note of type 18', () => {
  expect(hasPvhEntry(elfWithNotes([['GNU', 3], ['Xen', 18]]))).toBe(true);
  expect(hasPvhEntry(elfWithNotes([['Xen', 17], ['Linux', 18]]))).toBe(false);
  expect(hasPvhEntry(Buffer.from('MZ not an ELF file at all, a bzImage perhaps'))).toBe(false);
});
