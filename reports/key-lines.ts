/**
 * The lines of a PEM private key that carry private material, to look for in reports. A key's PEM also encodes
 * public parts (an EC key's last line is its public point, an OpenSSH key starts with a fixed header and its public
 * key); such a line can appear verbatim in a certificate or known_hosts whenever the byte alignment happens to
 * agree, and must not count as a leak.
 */
import { createPublicKey } from 'node:crypto';

const BLOCK = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----([\s\S]*?)-----END [A-Z ]*PRIVATE KEY-----/g;

/** An OpenSSH private key's bytes up to the end of its public key, and that public key blob. */
function opensshPublic(body: Buffer): Buffer[] {
  let at = 'openssh-key-v1\0'.length;
  const skip = () => {
    const n = body.readUInt32BE(at);
    const start = at + 4;
    at = start + n;
    return body.subarray(start, at);
  };
  skip(); // cipher name
  skip(); // kdf name
  skip(); // kdf options
  at += 4; // number of keys
  const blob = skip();
  return [body.subarray(0, at), blob];
}

function publicParts(kind: string, pem: string, body: Buffer): Buffer[] {
  try {
    if (kind.trim() === 'OPENSSH') return opensshPublic(body);
    return [createPublicKey(pem).export({ type: 'spki', format: 'der' })];
  } catch {
    return []; // an unreadable key: every line counts
  }
}

/** The base64 lines (40 characters or more) of every private key in `text` that are not public material. */
export function privateKeyLines(text: string): string[] {
  const out: string[] = [];
  for (const [pem, kind = '', inner = ''] of text.matchAll(BLOCK)) {
    const lines = inner.split('\n').map((l) => l.trim()).filter((l) => /^[A-Za-z0-9+/=]+$/.test(l));
    const publics = publicParts(kind, pem, Buffer.from(lines.join(''), 'base64'));
    for (const line of lines) {
      if (line.length < 40) continue;
      const bytes = Buffer.from(line, 'base64');
      if (!publics.some((p) => p.includes(bytes))) out.push(line);
    }
  }
  return out;
}
