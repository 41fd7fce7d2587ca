/** Removes secrets from anything that leaves the process: attachments, logs, failure messages. */
const MASK = '[REDACTED]';

const PATTERNS: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /((?:X-Auth-Token|X-Subject-Token|X-Service-Token|Authorization)\s*[:=]\s*)(?:Basic |Bearer )?[^\s"',]+/gi,
  /((?:"|')?(?:password|passwd|secret|token|application_credential_secret|auth_token)(?:"|')?\s*[:=]\s*)(?:"[^"]*"|'[^']*'|[^\s,}]+)/gi,
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
