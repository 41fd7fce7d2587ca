import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../lab/load.ts';
import { addSecret, redact } from './redact.ts';

describe('redact', () => {
  it('removes registered secrets wherever they appear', () => {
    addSecret('s3cr3t-Passw0rd');
    expect(redact('login with s3cr3t-Passw0rd failed')).toBe('login with [REDACTED] failed');
  });
  it('removes passwords, tokens and private keys by shape', () => {
    const text = [
      'password: hunter22',
      '{"password": "abc def"}',
      'X-Auth-Token: gAAAAABkxyz0123456789abcdefghij',
      'OS_PASSWORD=topsecret',
      'https://admin:pw123@internal.openstack.local:5000/v3',
      '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----',
    ].join('\n');
    const more = ['admin_token = t0ken1', 'rabbit_password: r4bbit', '--os-password=cl1pw', 'metadata_proxy_shared_secret = m3ta'];
    const out = redact([text, ...more].join('\n'));
    for (const leaked of ['hunter22', 'abc def', 'gAAAAABkxyz', 'topsecret', 'pw123', 'AAAA\n', 't0ken1', 'r4bbit', 'cl1pw', 'm3ta']) {
      expect(out).not.toContain(leaked);
    }
    expect(out).toContain('password: [REDACTED]');
    expect(out).toContain('https://admin:[REDACTED]@internal.openstack.local');
  });
  it('leaves names that merely end in a key alone, and never swallows the quote that closes a JSON or XML string', () => {
    const name = "compute.keystone-token: Keystone issues a token for the user's own credentials";
    expect(redact(name)).toBe(name);
    const json = JSON.stringify({ historyId: 'compute.keystone-token:f7c211df', message: 'token:abc123 refused' });
    expect(JSON.parse(redact(json))).toEqual({ historyId: 'compute.keystone-token:f7c211df', message: 'token:[REDACTED] refused' });
    expect(redact('<failure message="password=hunter22">')).toBe('<failure message="password=[REDACTED]">');
  });
  it('leaves the name and title of every check of every layer as they are', () => {
    const dir = join(repoRoot, 'suites');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts'));
    const titles = files.flatMap((f) =>
      [...readFileSync(join(dir, f), 'utf8').matchAll(/check\(\s*'([^']+)',\s*(["'])(.*?)\2/g)].map((m) => `${m[1]}: ${m[3]}`));
    expect(titles.length).toBeGreaterThan(50);
    expect(titles.filter((t) => redact(t) !== t)).toEqual([]);
  });
  it('keeps certificates, which are public', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    expect(redact(pem)).toBe(pem);
  });
});
