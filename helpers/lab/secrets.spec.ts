import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { redact } from '../gate/redact.ts';
import { Lab } from './model.ts';
import { servicePassword } from './secrets.ts';
import type { LabSpec } from './spec.ts';

const dir = mkdtempSync(join(tmpdir(), 'sg-secrets-'));
writeFileSync(join(dir, 'passwords.yml'), 'prometheus_password: s3cret-from-file\nother: x\n');
const lab = (credentials: LabSpec['credentials']) =>
  new Lab({ name: 't', title: 't', design: 'd', release: 'r', provider: 'none', deployer: { kind: 'kolla' }, networks: {}, nodes: {}, credentials } as LabSpec, join(dir, 'lab.yaml'));
const secret = { what: 'Prometheus basic auth', env: 'SG_TEST_PW', key: 'prometheus_password', keyField: 'monitoring.prometheus.passwordKey' };

describe('service passwords', () => {
  test('the environment wins over the secrets file', () => {
    expect(servicePassword(lab({ secretsFile: 'passwords.yml' }), secret, { SG_TEST_PW: 'from-env-1' })).toEqual({ value: 'from-env-1', source: '$SG_TEST_PW' });
  });

  test('the key the spec names, from the file the spec names, registered for redaction', () => {
    const p = servicePassword(lab({ secretsFile: 'passwords.yml' }), secret, {});
    expect(p.value).toBe('s3cret-from-file');
    expect(redact('password is s3cret-from-file')).not.toContain('s3cret-from-file');
  });

  test('one clear error when there is no password', () => {
    expect(() => servicePassword(lab({}), secret, {})).toThrow(/Prometheus basic auth needs a password, and \$SG_TEST_PW is not set and the spec names no credentials.secretsFile/);
    expect(() => servicePassword(lab({ secretsFile: 'passwords.yml' }), { ...secret, key: 'nope' }, {})).toThrow(/has no key nope \(monitoring.prometheus.passwordKey\)/);
    expect(() => servicePassword(lab({ secretsFile: 'missing.yml' }), secret, {})).toThrow(/cannot be read/);
  });
});
