import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { schemaPath } from './load.ts';
import { schemaValidator } from './validator.ts';

const dirs: string[] = [];
const cacheDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'sg-validator-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const bad = { name: 'x', nodes: { n1: { interfaces: [{ address: '300.1.1.1' }] } }, unknownKey: 1 };

test('a validator read from the cache reports exactly what a freshly compiled one reports', () => {
  const dir = cacheDir();
  const fresh = schemaValidator(schemaPath, dir);
  expect(readdirSync(dir)).toHaveLength(1);
  const cached = schemaValidator(schemaPath, dir);
  expect(fresh(bad).length).toBeGreaterThan(0);
  expect(cached(bad)).toEqual(fresh(bad));
});

test('the custom formats work from the cache', () => {
  const dir = cacheDir();
  schemaValidator(schemaPath, dir);
  const errors = schemaValidator(schemaPath, dir)(bad);
  expect(errors.some((e) => e.keyword === 'format')).toBe(true);
});

test('a cache file that does not evaluate is compiled again', () => {
  const dir = cacheDir();
  schemaValidator(schemaPath, dir);
  const file = join(dir, readdirSync(dir)[0]!);
  writeFileSync(file, 'module.exports = (');
  expect(schemaValidator(schemaPath, dir)(bad).length).toBeGreaterThan(0);
  expect(existsSync(file)).toBe(true);
});
