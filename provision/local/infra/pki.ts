/**
 * The lab's keys: its secrets (VRRP, Prometheus), the lab CA and VIP certificates (laid out like `kolla-ansible
 * certificates`) and SSH keys, made once under the state dir.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { addSecret } from '../../../helpers/gate/redact.ts';
import type { Lab, Vip } from '../../../helpers/lab/model.ts';
import type { Component, LabContext } from '../component.ts';
import { writeIfChanged } from '../config.ts';
import type { LabPaths } from '../paths.ts';
import { run } from '../sh.ts';

export interface Secrets {
  /** keepalived's VRRP auth_pass (at most 8 characters). */
  readonly vrrpPass: string;
  /** Prometheus' basic-auth password (Kolla: prometheus_password) and its bcrypt hash for --web.config.file. */
  readonly prometheus?: { readonly password: string; readonly bcrypt: string };
  /** PostgreSQL: the superuser's password (TCP logins) and the replication role's. */
  readonly postgres?: { readonly password: string; readonly replication: string };
  /** The Erlang cookie the RabbitMQ cluster shares, and the password of its monitoring user. */
  readonly rabbitmq?: { readonly cookie: string; readonly monitoring: string };
}

/** Prometheus' basic auth when the spec asks for it: user, password and bcrypt hash from the lab secrets. */
export function prometheusAuth(lab: Lab, secrets: Secrets): { user: string; password: string; bcrypt: string } | undefined {
  const user = lab.spec.monitoring?.prometheus.basicAuthUser;
  if (!user) return undefined;
  if (!secrets.prometheus) throw new Error(`lab ${lab.name}: monitoring.prometheus.basicAuthUser is ${user}, but the lab secrets hold no Prometheus password`);
  return { user, ...secrets.prometheus };
}


/**
 * Which VIPs terminate TLS: a VIP publishing a public interface when tls.external, an internal one when tls.internal
 * (the endpoint VIPs, and each VIP of a service's or Horizon's own pair).
 */
export function vipTls(lab: Lab, vip: Vip): boolean {
  return lab.vipTls(vip.name);
}

/** The certificate file of a VIP, named as `kolla-ansible certificates` names them. */
export function vipCertFile(lab: Lab, paths: LabPaths, vip: Vip): string {
  const ep = lab.spec.endpoints ?? {};
  const base = ep.public === vip.name ? 'haproxy.pem' : ep.internal === vip.name ? 'haproxy-internal.pem' : `haproxy-${vip.name}.pem`;
  return `${paths.certificates}/${base}`;
}


const DAY = 86_400_000;

function certUsable(certFile: string, caFile: string, sans: string[], minDays: number): boolean {
  if (!existsSync(certFile) || !existsSync(caFile)) return false;
  try {
    const pem = readFileSync(certFile, 'utf8');
    const cert = new X509Certificate(pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 25));
    const ca = new X509Certificate(readFileSync(caFile));
    const san = cert.subjectAltName ?? '';
    return cert.verify(ca.publicKey) && Date.parse(cert.validTo) - Date.now() > minDays * DAY && sans.every((s) => san.includes(s));
  } catch {
    return false;
  }
}

/** The SANs kolla-ansible puts on a VIP certificate: the FQDN and the VIP address. */
export function vipSans(vip: Vip): string[] {
  return [...(vip.fqdn ? [`DNS:${vip.fqdn}`] : []), `IP Address:${vip.address}`];
}

export async function ensureCertificates(lab: Lab, paths: LabPaths): Promise<string> {
  const rootDir = join(paths.certificates, 'private/root');
  mkdirSync(rootDir, { recursive: true, mode: 0o700 });
  chmodSync(join(paths.certificates, 'private'), 0o700);
  mkdirSync(dirname(paths.caCert), { recursive: true });
  // Only private/ is closed: the CA certificate is public and services running as other users (the blackbox
  // exporter, clients) must read it.
  chmodSync(paths.certificates, 0o755);
  chmodSync(dirname(paths.caCert), 0o755);
  const made: string[] = [];
  const rootCrt = join(rootDir, 'root.crt');
  const caValid = (() => {
    if (!existsSync(rootCrt) || !existsSync(paths.caKey)) return false;
    const ca = new X509Certificate(readFileSync(rootCrt));
    return ca.ca && Date.parse(ca.validTo) - Date.now() > 365 * DAY;
  })();
  if (!caValid) {
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:3072', '-nodes', '-sha256', '-days', '3650',
      '-keyout', paths.caKey, '-out', rootCrt, '-subj', `/CN=stackgate ${lab.name} lab CA`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    chmodSync(paths.caKey, 0o600);
    made.push('root CA');
  }
  writeIfChanged(paths.caCert, readFileSync(rootCrt, 'utf8'));
  chmodSync(paths.caCert, 0o644);
  for (const vip of lab.vips) {
    if (!vipTls(lab, vip)) continue;
    const pem = vipCertFile(lab, paths, vip);
    const sans = vipSans(vip);
    if (!caValid || !certUsable(pem, paths.caCert, sans, lab.tls.minDaysValid + 1)) {
      const dir = join(paths.certificates, 'private', vip.name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const key = join(dir, `${vip.name}.key`);
      const csr = join(dir, `${vip.name}.csr`);
      const crt = join(dir, `${vip.name}.crt`);
      const ext = join(dir, `${vip.name}.ext`);
      writeFileSync(
        ext,
        `subjectAltName=${sans.map((s) => s.replace('IP Address:', 'IP:')).join(',')}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`,
      );
      await run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${vip.host}`]);
      await run('openssl', [
        'x509', '-req', '-sha256', '-days', '825', '-in', csr, '-CA', rootCrt, '-CAkey', paths.caKey,
        '-set_serial', `0x${randomBytes(12).toString('hex')}`, '-out', crt, '-extfile', ext,
      ]);
      writeFileSync(pem, readFileSync(crt, 'utf8') + readFileSync(key, 'utf8'), { mode: 0o600 });
      chmodSync(key, 0o600);
      made.push(`${vip.name} (${sans.join(', ')})`);
    }
  }
  return made.length ? `issued ${made.join('; ')}` : 'valid';
}

/** The lab's SSH key (the one checks log in with) and one host key per node. */
export async function ensureSshKeys(lab: Lab, paths: LabPaths): Promise<{ summary: string; hostKeys: Record<string, string> }> {
  mkdirSync(join(paths.ssh, 'hostkeys'), { recursive: true, mode: 0o700 });
  chmodSync(paths.ssh, 0o700);
  const made: string[] = [];
  if (!existsSync(paths.sshKey)) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `stackgate-${lab.name}`, '-f', paths.sshKey]);
    made.push('lab key');
  }
  writeIfChanged(paths.authorizedKeys, readFileSync(`${paths.sshKey}.pub`, 'utf8'), 0o600);
  const hostKeys: Record<string, string> = {};
  for (const node of lab.nodes) {
    const key = paths.hostKey(node.name);
    if (!existsSync(key)) {
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${node.hostname}`, '-f', key]);
      made.push(`${node.name} host key`);
    }
    hostKeys[node.name] = readFileSync(`${key}.pub`, 'utf8');
  }
  return { summary: made.length ? `generated ${made.join(', ')}` : 'present', hostKeys };
}

/** The bcrypt hash Prometheus' web config wants, from htpasswd (apache2-utils); the password goes through stdin. */
async function bcrypt(user: string, password: string): Promise<string> {
  const line = (await run('htpasswd', ['-niB', '-C', '10', user], { input: password })).trim();
  const hash = line.slice(line.indexOf(':') + 1);
  if (!/^\$2[aby]\$\d\d\$/.test(hash)) throw new Error(`htpasswd -niB printed no bcrypt hash for ${user}`);
  return hash;
}

/** The stored lab secrets, read only (status); undefined when the lab never came up. */
export function readSecrets(paths: LabPaths): Secrets | undefined {
  return existsSync(paths.passwords) ? (JSON.parse(readFileSync(paths.passwords, 'utf8')) as Secrets) : undefined;
}

/** The lab secrets for rendering: the stored ones, or placeholders where the lab never came up (status). */
export function labSecrets(paths: LabPaths): Secrets {
  return { vrrpPass: 'unset', prometheus: { password: 'unset', bcrypt: 'unset' }, ...readSecrets(paths) };
}

/** Kolla's names for the lab secrets, as `kolla-genpwd` writes them into passwords.yml: what checks read. */
export function kollaPasswords(secrets: Secrets): string {
  const entries: [string, string][] = [['keepalived_password', secrets.vrrpPass]];
  if (secrets.prometheus) entries.push(['prometheus_password', secrets.prometheus.password]);
  if (secrets.postgres) {
    entries.push(['postgres_password', secrets.postgres.password], ['postgres_replication_password', secrets.postgres.replication]);
  }
  if (secrets.rabbitmq) {
    entries.push(['rabbitmq_cluster_cookie', secrets.rabbitmq.cookie], ['rabbitmq_monitoring_password', secrets.rabbitmq.monitoring]);
  }
  return `---\n${entries.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n')}\n`;
}

/**
 * Lab secrets that are generated once and kept (0600) in the state dir (passwords.json); what a lab of an older
 * stackgate lacks is added. passwords.yml beside it carries them under Kolla's names for the checks
 * (credentials.secretsFile); it is rewritten from passwords.json, so `lab up` repairs a drifted copy.
 */
export async function ensureSecrets(lab: Lab, paths: LabPaths): Promise<Secrets> {
  const stored = readSecrets(paths);
  let secrets: Secrets = stored ?? { vrrpPass: randomBytes(6).toString('base64url').slice(0, 8) };
  const user = lab.spec.monitoring?.prometheus.basicAuthUser;
  if (user && !secrets.prometheus) {
    const password = randomBytes(24).toString('base64url');
    secrets = { ...secrets, prometheus: { password, bcrypt: await bcrypt(user, password) } };
  }
  if (lab.spec.postgresql && !secrets.postgres) {
    const make = () => randomBytes(24).toString('base64url');
    secrets = { ...secrets, postgres: { password: make(), replication: make() } };
  }
  if (lab.spec.rabbitmq && !secrets.rabbitmq) {
    // Letters and digits only: the cookie is an Erlang atom in the cookie file.
    const make = () => randomBytes(30).toString('hex').toUpperCase().slice(0, 40);
    secrets = { ...secrets, rabbitmq: { cookie: make(), monitoring: randomBytes(24).toString('base64url') } };
  }
  writeIfChanged(paths.passwords, `${JSON.stringify(secrets, null, 2)}\n`, 0o600);
  writeIfChanged(paths.kollaPasswords, kollaPasswords(secrets), 0o600);
  // Known to redact() from here on: a command line or an error that quotes one shows [REDACTED].
  for (const v of [secrets.vrrpPass, secrets.prometheus?.password, secrets.postgres?.password, secrets.postgres?.replication,
    secrets.rabbitmq?.cookie, secrets.rabbitmq?.monitoring]) {
    addSecret(v);
  }
  return secrets;
}

export const pki: Component = {
  name: 'pki',
  needed: () => true,
  packages: () => ['openssl', 'openssh-client', 'apache2-utils'],
  keys: async ({ lab, paths }: LabContext) => {
    await ensureSecrets(lab, paths);
    const keys = await ensureSshKeys(lab, paths);
    return `secrets; SSH keys ${keys.summary}; certificates ${await ensureCertificates(lab, paths)}`;
  },
  keeps: ({ paths }) => [paths.certificates, paths.ssh, paths.passwords, paths.kollaPasswords],
};
