import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { consoleHostKeys, HostKeyMismatch, keyFingerprint, showsAddress, sshRuns } from './guest.ts';
import { sshKeyPair } from './tenant.ts';

const blobOf = (line: string) => Buffer.from(line.split(' ')[1]!, 'base64');

describe('host keys from a console log', () => {
  const host = sshKeyPair('root@guest').publicKey;
  const other = sshKeyPair('root@other').publicKey;
  const log = [
    '[    2.1] random: crng init done',
    'stackgate-guest: address 172.16.1.97/24',
    '-----BEGIN SSH HOST KEY FINGERPRINTS-----',
    `256 ${keyFingerprint(blobOf(host))} root@guest (ED25519)`,
    '-----END SSH HOST KEY FINGERPRINTS-----',
    '-----BEGIN SSH HOST KEY KEYS-----',
    host,
    '-----END SSH HOST KEY KEYS-----',
  ].join('\r\n');

  it('takes the fingerprints from the key and fingerprint blocks (cloud-init markers)', () => {
    expect(consoleHostKeys(log).fingerprints).toEqual([keyFingerprint(blobOf(host))]);
  });

  it("ignores keys outside the blocks, and finds none in a log without them", () => {
    expect(consoleHostKeys(`${other}\nno markers here`).fingerprints).toEqual([]);
    expect(consoleHostKeys(log).fingerprints).not.toContain(keyFingerprint(blobOf(other)));
  });

  it("fingerprints like OpenSSH: SHA256 of the key blob, unpadded base64", () => {
    expect(keyFingerprint(Buffer.from('abc'))).toBe('SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0');
  });

  it('refuses to connect without host keys to verify against', async () => {
    await expect(sshRuns('192.0.2.1', sshKeyPair('x').privateKeyPem, 'true', { user: 'root', port: 22, hostKeys: { fingerprints: [] } })).rejects.toBeInstanceOf(HostKeyMismatch);
  });

  it('makes an ed25519 key pair whose private key is OpenSSH format and matches the public key', () => {
    const k = sshKeyPair('t');
    expect(k.privateKeyPem).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    const raw = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), blobOf(k.publicKey).subarray(-32)]), format: 'der', type: 'spki' });
    expect(raw.asymmetricKeyType).toBe('ed25519');
    const body = Buffer.from(k.privateKeyPem.split('\n').slice(1, -2).join(''), 'base64');
    expect(body.subarray(0, 15).toString()).toBe('openssh-key-v1\0');
    expect(body.includes(blobOf(k.publicKey))).toBe(true);
  });
});

it('a console shows a guest address only as a whole address', () => {
  const log = 'stackgate-guest: address 192.168.10.12/24\nci-info: | eth0 | True | 10.0.0.5 | 255.255.255.0 |';
  expect(showsAddress(log, '192.168.10.12')).toBe(true);
  expect(showsAddress(log, '10.0.0.5')).toBe(true);
  expect(showsAddress(log, '192.168.10.1')).toBe(false);
  expect(showsAddress(log, '92.168.10.12')).toBe(false);
  expect(showsAddress(log, '')).toBe(false);
});
