/** Removes secrets from anything that leaves the process: attachments, logs, failure messages. */
const MASK = '[REDACTED]';

const PATTERNS: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /((?:X-Auth-Token|X-Subject-Token|X-Service-Token|Authorization)\s*[:=]\s*)(?:Basic |Bearer )?[^\s"',]+/gi,
  // A key of its own or the end of one (admin_token, rabbit_password, --os-password), but not the end of a check's
  // ID (`compute.keystone-token: Keystone …`, `persist.token: layer …`); an unquoted value ends before a quote or
  // markup, so that redacting a JSON or XML file never swallows the quote that closes its string.
  /((?<![A-Za-z0-9.]|[A-Za-z0-9]\.[A-Za-z0-9-]*-)(?:"|')?(?:password|passwd|secret|token|application_credential_secret|auth_token)(?:"|')?\s*[:=]\s*)(?:"[^"]*"|'[^']*'|[^\s,}"'<>&]+)/gi,
  /((?:OS_PASSWORD|OS_TOKEN|OS_APPLICATION_CREDENTIAL_SECRET)=)\S+/g,
  /\bgAAAAA[A-Za-z0-9_-]{20,}/g, // Keystone fernet tokens
  /(:\/\/[^/\s:@]+:)[^@\s/]+(?=@)/g, // credentials in URLs
];

/** Shapes of secret material in an input file, by what to call them; never a value. */
const SHAPES: [string, RegExp][] = [
  ['a private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['credentials in a URL', /:\/\/[^/\s:@]+:[^@\s/]+@/],
  ['a token or password', /(?:X-Auth-Token|X-Subject-Token|Authorization)\s*[:=]\s*\S|(?:^|[\s"'{,])(?:password|passwd|secret|token|auth_token)\s*[:=]\s*\S/i],
  ['a password variable', /\b(?:OS_PASSWORD|OS_TOKEN|OS_APPLICATION_CREDENTIAL_SECRET)=\S/],
  ['a Keystone token', /\bgAAAAA[A-Za-z0-9_-]{20,}/],
];

/** What kind of secret material a text looks like, or undefined: for refusing it in a spec, not for redacting. */
export function secretKind(text: string): string | undefined {
  return SHAPES.find(([, shape]) => shape.test(text))?.[0];
}

const secrets = new Set<string>();

/** Register a secret known at run time (a password from clouds.yaml, a token just issued). */
export function addSecret(value: string | undefined | null): void {
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join(MASK);
  for (const pattern of PATTERNS) {
    out = out.replace(pattern, (_match: string, keep?: string) => (typeof keep === 'string' ? `${keep}${MASK}` : MASK));
  }
  return out;
}

addSecret(process.env.OS_PASSWORD);
addSecret(process.env.OS_TOKEN);
addSecret(process.env.OS_APPLICATION_CREDENTIAL_SECRET);

/**
 * Redact every string inside a value, in place (arrays and plain objects, cycles visited once); returns the value.
 * For what a failed check carries to the reporters: its error's actual, expected and diff, Allure's step messages.
 */
export function redactDeep<T>(value: T, seen: WeakSet<object> = new WeakSet()): T {
  if (typeof value === 'string') return redact(value) as T;
  if (!value || typeof value !== 'object' || seen.has(value)) return value;
  seen.add(value);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const v = record[key];
    if (typeof v === 'string') {
      const clean = redact(v);
      if (clean !== v) record[key] = clean;
    } else if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) {
      redactDeep(v, seen);
    }
  }
  return value;
}

/** A copy of a value with every string redacted (the value itself is left alone: it may be frozen, or the lab's). */
export function redactCopy<T>(value: T, seen: Map<object, unknown> = new Map()): T {
  if (typeof value === 'string') return redact(value) as T;
  if (!value || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  if (seen.has(value)) return seen.get(value) as T;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const v of value) out.push(redactCopy(v, seen));
    return out as T;
  }
  const out: Record<string, unknown> = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>;
  seen.set(value, out);
  for (const [k, v] of Object.entries(value)) out[k] = redactCopy(v, seen);
  return out as T;
}
