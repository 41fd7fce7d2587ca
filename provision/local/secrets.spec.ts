import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addSecret } from '../../helpers/gate/redact.ts';
import { rabbitUserDefinitions } from './openstack/rabbitmq.ts';
import { writeIfChanged } from './config.ts';
import { run } from './sh.ts';

const dir = mkdtempSync(join(tmpdir(), 'sg-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const mode = (f: string) => statSync(f).mode & 0o777;

describe('secrets of the local provider', () => {
  it('a secret file gets its mode on every write, changed or not', () => {
    const f = join(dir, 'passwords.json');
    writeFileSync(f, 'old', { mode: 0o644 });
    expect(writeIfChanged(f, 'new', 0o600)).toBe(true);
    expect(mode(f)).toBe(0o600);
    chmodSync(f, 0o644);
    expect(writeIfChanged(f, 'new', 0o600)).toBe(false);
    expect(mode(f)).toBe(0o600);
  });

  it("RabbitMQ's user comes as definitions with the password hashed as RabbitMQ hashes it, never in clear", () => {
    // The example of RabbitMQ's passwords guide: password test12, salt 0x908DC60A.
    const defs = rabbitUserDefinitions('openstack', 'test12', Buffer.from('908DC60A', 'hex'));
    expect(JSON.parse(defs).users[0]).toMatchObject({ name: 'openstack', password_hash: 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR', hashing_algorithm: 'rabbit_password_hashing_sha256' });
    expect(defs).not.toContain('test12');
  });

  it("a failed command's error shows no registered secret, from its command line or its output", async () => {
    addSecret('cookie-Vq83nPz');
    const error = await run('/bin/sh', ['-c', 'echo "auth with $1 refused" >&2; exit 3', 'x', 'cookie-Vq83nPz']).catch((e: Error) => e);
    expect(String(error)).toContain('failed (exit 3)');
    expect(String(error)).not.toContain('cookie-Vq83nPz');
  });
});
