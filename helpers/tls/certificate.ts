/** Facts about X.509 certificates, as failure messages and attachments need them. Pure: no I/O. */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

const DAY = 86_400_000;

export interface CertFacts {
  readonly subject: string;
  readonly issuer: string;
  readonly sans: string;
  readonly validFrom: Date;
  readonly validTo: Date;
  readonly fingerprint: string;
}

const oneLine = (dn: string) => dn.split('\n').filter(Boolean).join(', ');

export function certFacts(cert: X509Certificate): CertFacts {
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    sans: cert.subjectAltName ?? 'none',
    validFrom: new Date(cert.validFrom),
    validTo: new Date(cert.validTo),
    fingerprint: cert.fingerprint256,
  };
}

/** Whole days from `now` until the certificate expires (negative once it has). */
export function daysLeft(cert: X509Certificate, now: Date): number {
  return Math.floor((Date.parse(cert.validTo) - now.getTime()) / DAY);
}

/** Whether the certificate's subjectAltName (never the subject CN) covers the host name or IP address a client uses. */
export function sanCovers(cert: X509Certificate, host: string): boolean {
  return isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host, { subject: 'never' }) !== undefined;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** "subject CN=…, issuer CN=…, SANs DNS:…, IP Address:…, valid 2025-01-01 → 2027-04-06 (500 days left)" */
export function describeCert(cert: X509Certificate, now: Date): string {
  const f = certFacts(cert);
  const left = daysLeft(cert, now);
  return `subject ${f.subject}, issuer ${f.issuer}, SANs ${f.sans}, valid ${day(f.validFrom)} → ${day(f.validTo)} (${left >= 0 ? `${left} days left` : `expired ${-left} days ago`})`;
}

/** The PEM text of a chain, leaf first, each with a comment naming it. Certificates only, never a key. */
export function chainPem(chain: readonly X509Certificate[]): string {
  return chain.map((c, i) => `# ${i === 0 ? 'leaf' : `chain[${i}]`}: ${oneLine(c.subject)} (issuer ${oneLine(c.issuer)})\n${c.toString()}`).join('');
}

/** Findings about several endpoints, one line per distinct problem: "a:1, a:2: problem". */
export function groupFindings(findings: readonly { subject: string; problem: string }[]): string[] {
  const by = new Map<string, string[]>();
  for (const f of findings) by.set(f.problem, [...(by.get(f.problem) ?? []), f.subject]);
  return [...by].map(([problem, subjects]) => `${subjects.join(', ')}: ${problem}`);
}
