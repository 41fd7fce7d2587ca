import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { redact } from '../gate/redact.ts';
import { loadLab } from '../lab/load.ts';
import { CredentialsError, loadCredentials } from './credentials.ts';

const lab = loadLab('primary');

describe('credentials', () => {
  it('reads a clouds.yaml cloud and registers its password for redaction', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-clouds-'));
    const file = join(dir, 'clouds.yaml');
    writeFileSync(file, 'clouds:\n  lab:\n    auth: { auth_url: "https://public.openstack.local:5000", username: admin, password: "Zq8-unique-pw", project_name: admin }\n    cacert: /tmp/ca.crt\n');
    const c = loadCredentials(lab, { OS_CLOUD: 'lab', OS_CLIENT_CONFIG_FILE: file } as NodeJS.ProcessEnv);
    expect(c.username).toBe('admin');
    expect(c.cacert).toBe('/tmp/ca.crt');
    expect(redact('sent Zq8-unique-pw')).toBe('sent [REDACTED]');
  });
  it('gives one clear error when credentials are missing or partial', () => {
    expect(() => loadCredentials(lab, { OS_AUTH_URL: 'https://x:5000' } as NodeJS.ProcessEnv)).toThrow(/OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME are not/);
    expect(() => loadCredentials(lab, { OS_CLOUD: 'nope', OS_CLIENT_CONFIG_FILE: '/nonexistent' } as NodeJS.ProcessEnv)).toThrow(CredentialsError);
  });
});
