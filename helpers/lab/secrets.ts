/**
 * Service passwords a check needs (Prometheus' basic auth, Grafana's admin), never from the spec itself: from an
 * environment variable, or from the map the spec's credentials.secretsFile names (YAML or JSON, e.g. Kolla's
 * /etc/kolla/passwords.yml) under the key the spec names. Every password read is registered for redaction.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { addSecret } from '../gate/redact.ts';
import type { Lab } from './model.ts';

export class SecretError extends Error {
  override name = 'SecretError';
}

export interface ServiceSecret {
  /** What needs it, for messages: e.g. "Prometheus basic auth (user admin)". */
  readonly what: string;
  /** The environment variable that wins over the file. */
  readonly env: string;
  /** The key in credentials.secretsFile, and where in the spec it is named. */
  readonly key: string | undefined;
  readonly keyField: string;
}

export interface Password {
  readonly value: string;
  /** Where it came from (a variable or a file and key), never the value. */
  readonly source: string;
}

/** The password, or one clear error naming every place looked at. */
export function servicePassword(lab: Lab, s: ServiceSecret, env: NodeJS.ProcessEnv = process.env): Password {
  const fromEnv = env[s.env];
  if (fromEnv) {
    addSecret(fromEnv);
    return { value: fromEnv, source: `$${s.env}` };
  }
  const named = lab.spec.credentials?.secretsFile;
  const none = `lab ${lab.name}: ${s.what} needs a password, and`;
  if (!named || !s.key) {
    const missing = [!named && 'credentials.secretsFile', !s.key && s.keyField].filter(Boolean).join(' and ');
    throw new SecretError(`${none} $${s.env} is not set and the spec names no ${missing} to read it from`);
  }
  const file = lab.path(named);
  let map: unknown;
  try {
    map = parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SecretError(`${none} $${s.env} is not set and the secrets file ${file} (credentials.secretsFile) cannot be read: ${(error as Error).message}`);
  }
  const value = map && typeof map === 'object' ? (map as Record<string, unknown>)[s.key] : undefined;
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new SecretError(`${none} $${s.env} is not set and the secrets file ${file} has no key ${s.key} (${s.keyField})`);
  }
  addSecret(String(value));
  return { value: String(value), source: `${file} key ${s.key}` };
}
