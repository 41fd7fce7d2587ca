import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { redactFiles } from './redacting-reporters.ts';

it('redacts a JSON file string by string: a quoted secret inside a message goes, and the file stays JSON', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'sg-redact-')), 'result.json');
  const result = { name: 'compute.keystone-token: Keystone issues a token', message: 'said: password: "abc def"' };
  writeFileSync(file, JSON.stringify(result));
  redactFiles(file);
  const text = readFileSync(file, 'utf8');
  expect(text).not.toContain('abc def');
  expect(JSON.parse(text)).toEqual({ ...result, message: 'said: password: [REDACTED]' });
});
