import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { isCidr, isIPv4 } from '../net/ip.ts';

const require = createRequire(import.meta.url);
const FORMATS = { ipv4: isIPv4, cidr: isCidr };
const OPTIONS = { allErrors: true, strict: true, useDefaults: false } as const;
/** Changes to the generated code (linearErrors) that a cached validator must have. */
const REWRITES = 1;

type Validate = (data: unknown) => ErrorObject[];

/**
 * A JSON-schema validator for a schema file. Compiling the lab schema costs a fifth of a second in every Vitest
 * process that loads a lab (main, global setup, each worker); the code Ajv generates is kept in `cacheDir` under
 * the hash of the schema, Ajv's version and these options, and later processes only evaluate it.
 */
export function schemaValidator(schemaFile: string, cacheDir: string): Validate {
  const schemaText = readFileSync(schemaFile, 'utf8');
  const ajvVersion = (require('ajv/package.json') as { version: string }).version;
  const key = createHash('sha256').update(JSON.stringify([schemaText, ajvVersion, OPTIONS, Object.keys(FORMATS), REWRITES])).digest('hex').slice(0, 24);
  const cached = join(cacheDir, `${key}.cjs`);
  let validate: ValidateFunction | undefined;
  try {
    validate = evaluate(readFileSync(cached, 'utf8'));
  } catch {
    // Not cached yet, or a cache file that does not evaluate: compile and write it (again).
    const code = generate(schemaText);
    validate = evaluate(code);
    try {
      mkdirSync(cacheDir, { recursive: true });
      // Rename into place: a parallel process never reads half a file.
      const partial = `${cached}.${process.pid}`;
      writeFileSync(partial, code);
      renameSync(partial, cached);
    } catch {
      // A read-only checkout validates as well, only slower next time.
    }
  }
  const v = validate;
  return (data) => (v(data) ? [] : [...(v.errors ?? [])]);
}

function evaluate(code: string): ValidateFunction {
  const module = { exports: {} as { default?: ValidateFunction } };
  // The generated code names the formats as `formats` and Ajv's runtime helpers through `require`.
  new Function('require', 'module', 'exports', 'formats', code)(require, module, module.exports, FORMATS);
  const validate = module.exports.default;
  if (typeof validate !== 'function') throw new Error('the cached validator exports no function');
  return validate;
}

function generate(schemaText: string): string {
  // Loaded only on a cache miss: Ajv's compiler is most of the cost this module avoids.
  const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const { _ } = require('ajv') as typeof import('ajv');
  const standaloneCode = (require('ajv/dist/standalone/index.js') as typeof import('ajv/dist/standalone/index.js')).default;
  const ajv = new Ajv2020({ ...OPTIONS, code: { source: true, formats: _`formats` } });
  for (const [name, check] of Object.entries(FORMATS)) ajv.addFormat(name, check);
  return linearErrors(standaloneCode(ajv, ajv.compile(JSON.parse(schemaText))));
}

/**
 * Ajv gathers the errors of a `$ref`'d schema with `vErrors.concat(…)`, copying every error found so far once per
 * reference: a spec with 40,000 bad nodes took seconds per thousand. Appending in place keeps it linear.
 */
export function linearErrors(code: string): string {
  return code.replace(
    /vErrors = vErrors === null \? (\w+)\.errors : vErrors\.concat\(\1\.errors\);/g,
    'if (vErrors === null) vErrors = $1.errors.slice(); else for (const e of $1.errors) vErrors.push(e);',
  );
}
