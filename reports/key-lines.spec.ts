import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { privateKeyLines } from './key-lines.ts';

const pemBody = (pem: string) => pem.split('\n').filter((l) => l && !l.startsWith('-----'));

describe('privateKeyLines', () => {
  it("an EC key: the private scalar's lines count, the last line (the public point) does not", () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const lines = privateKeyLines(pem);
    const body = pemBody(pem);
    expect(lines).toEqual(body.slice(0, 2));
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    expect(spki.includes(Buffer.from(body.at(-1)!, 'base64'))).toBe(true);
  });

  it('an RSA key: the lines of the private numbers count, the lines inside the public modulus do not', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const lines = privateKeyLines(pem);
    const inModulus = pemBody(pem).filter((l) => spki.includes(Buffer.from(l, 'base64')));
    expect(inModulus.length).toBeGreaterThan(2);
    expect(lines.length).toBe(pemBody(pem).filter((l) => l.length >= 40).length - inModulus.length);
    for (const l of inModulus) expect(lines).not.toContain(l);
  });

  it('an OpenSSH ed25519 key: the fixed header and the public key are not secret, the private part is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-keylines-'));
    try {
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
      const pem = readFileSync(join(dir, 'k'), 'utf8');
      const pub = readFileSync(join(dir, 'k.pub'), 'utf8').split(' ')[1]!;
      const lines = privateKeyLines(pem);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines).not.toContain(pemBody(pem)[0]);
      for (const l of lines) expect(pub).not.toContain(l);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a key file that bundles its certificate: no line of the certificate counts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-keylines-'));
    try {
      await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x', '-days', '1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')]);
      const cert = readFileSync(join(dir, 'c.pem'), 'utf8');
      new X509Certificate(cert);
      const lines = privateKeyLines(`${cert}${readFileSync(join(dir, 'k.pem'), 'utf8')}`);
      expect(lines.length).toBe(2);
      for (const l of lines) expect(cert).not.toContain(l);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
