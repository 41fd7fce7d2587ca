/**
 * Fault drills for the tls layer: each rewrites a certificate or HAProxy's config on the loadbalancer of the embedded
 * lab and restarts HAProxy through supervisor. The original files are backed up first (in a 0700 directory beside
 * the lab's private keys) and restored on revert; both are idempotent and safe after a crash. `lab up` is a last
 * resort only: it rewrites haproxy.cfg and restarts HAProxy, and re-issues a VIP certificate that no longer verifies,
 * covers its names or lasts tls.minDaysValid — but it does not restart HAProxy for a certificate alone.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { basename, join } from 'node:path';
import { loadLab } from '../../../helpers/lab/load.ts';
import type { Lab, Vip } from '../../../helpers/lab/model.ts';
import { labPaths, type LabPaths } from '../paths.ts';
import { haproxyRoutes, type Frontend } from '../infra/loadbalancer.ts';
import { vipCertFile, vipSans, vipTls } from '../infra/pki.ts';
import { loadbalancerNodes } from '../infra/roles.ts';
import { run, sleep } from '../sh.ts';
import type { Drill } from './drill.ts';

interface Target {
  readonly paths: LabPaths;
  readonly vip: Vip;
  readonly certFile: string;
  readonly haproxyCfg: string;
  readonly program: string;
  readonly frontends: readonly Frontend[];
}

/** What the drills touch: the public endpoint VIP's certificate and the config of the HAProxy that serves it. */
function target(lab: Lab): Target {
  const paths = labPaths(lab.name);
  const publicVip = lab.spec.endpoints?.public;
  const vip = lab.vips.find((v) => v.name === publicVip && vipTls(lab, v)) ?? lab.vips.find((v) => vipTls(lab, v));
  if (!vip) throw new Error(`lab ${lab.name}: no VIP terminates TLS, so there is nothing for the tls drills to break`);
  const lb = loadbalancerNodes(lab)[0];
  if (!lb) throw new Error(`lab ${lab.name}: no loadbalancer node`);
  const frontends = haproxyRoutes(lab).frontends.filter((f) => f.vip.name === vip.name && f.tls);
  if (frontends.length < 2) throw new Error(`lab ${lab.name}: the tls drills need two TLS frontends on VIP ${vip.name}`);
  return { paths, vip, certFile: vipCertFile(lab, paths, vip), haproxyCfg: paths.node(lb.name, 'haproxy', 'haproxy.cfg'), program: `${lb.name}-haproxy`, frontends };
}

const drillDir = (t: Target, name: string) => join(t.paths.certificates, 'private', 'drills', name);

function copyAtomic(from: string, to: string): void {
  copyFileSync(from, `${to}.tmp`);
  chmodSync(`${to}.tmp`, statSync(from).mode & 0o777);
  renameSync(`${to}.tmp`, to);
}

function writeAtomic(path: string, content: string): void {
  const mode = existsSync(path) ? statSync(path).mode & 0o777 : 0o600;
  writeFileSync(`${path}.tmp`, content, { mode });
  chmodSync(`${path}.tmp`, mode);
  renameSync(`${path}.tmp`, path);
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, host, () => done(true));
  });
}

/** Check the config, restart HAProxy under supervisor and wait until every TLS frontend of the VIP listens again. */
async function restartHaproxy(t: Target): Promise<void> {
  await run('haproxy', ['-c', '-q', '-f', t.haproxyCfg]);
  await run('supervisorctl', ['-c', t.paths.supervisorConf, 'restart', t.program]);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const open = await Promise.all(t.frontends.map((f) => tcpOpen(f.vip.address, f.port)));
    if (open.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`${t.program}: frontends of VIP ${t.vip.name} not listening 15 s after the restart`);
    await sleep(100);
  }
}

/**
 * Back up `files` (once), let `fault` rewrite them, restart HAProxy. Injecting twice does nothing; a crash midway
 * leaves the backups, which revert restores.
 */
async function inject(t: Target, name: string, files: readonly string[], fault: (dir: string) => Promise<void>): Promise<void> {
  const dir = drillDir(t, name);
  if (existsSync(join(dir, 'injected'))) return;
  mkdirSync(join(dir, 'backup'), { recursive: true, mode: 0o700 });
  chmodSync(join(t.paths.certificates, 'private', 'drills'), 0o700);
  for (const f of files) {
    const b = join(dir, 'backup', basename(f));
    if (!existsSync(b)) copyAtomic(f, b);
  }
  try {
    await fault(dir);
    await restartHaproxy(t);
  } catch (error) {
    await revert(t, name, files);
    throw error;
  }
  writeFileSync(join(dir, 'injected'), `${new Date().toISOString()}\n`);
}

/** Restore the backed-up files and restart HAProxy; does nothing when the drill is not in place. */
async function revert(t: Target, name: string, files: readonly string[]): Promise<void> {
  const dir = drillDir(t, name);
  if (!existsSync(dir)) return;
  for (const f of files) {
    const b = join(dir, 'backup', basename(f));
    if (existsSync(b)) copyAtomic(b, f);
  }
  await restartHaproxy(t);
  rmSync(dir, { recursive: true, force: true });
}

/** A key and a certificate for the VIP with these SANs, signed by `ca`, as HAProxy's PEM (certificate, then key). */
async function issue(dir: string, t: Target, ca: { crt: string; key: string }, sans: readonly string[], days: number): Promise<string> {
  const key = join(dir, 'leaf.key');
  const csr = join(dir, 'leaf.csr');
  const crt = join(dir, 'leaf.crt');
  const ext = join(dir, 'leaf.ext');
  writeFileSync(ext, `subjectAltName=${sans.map((s) => s.replace('IP Address:', 'IP:')).join(',')}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${t.vip.host}`]);
  chmodSync(key, 0o600);
  await run('openssl', ['x509', '-req', '-sha256', '-days', String(days), '-in', csr, '-CA', ca.crt, '-CAkey', ca.key, '-set_serial', `0x${Date.now().toString(16)}`, '-out', crt, '-extfile', ext]);
  return readFileSync(crt, 'utf8') + readFileSync(key, 'utf8');
}

const labCaOf = (t: Target) => ({ crt: t.paths.caCert, key: t.paths.caKey });

/** The lines of one frontend's section in haproxy.cfg (up to the blank line that ends it), and where it sits. */
function frontendBlock(cfg: string, f: Frontend): { lines: string[]; start: number; end: number; bind: number } {
  const lines = cfg.split('\n');
  const start = lines.indexOf(`frontend ${f.name}`);
  const end = start < 0 ? -1 : lines.findIndex((l, n) => n > start && l.trim() === '');
  const bind = lines.findIndex((l, n) => n > start && (end < 0 || n < end) && l.trim().startsWith(`bind ${f.vip.address}:${f.port} `));
  if (start < 0 || bind < 0) throw new Error(`haproxy.cfg has no "bind ${f.vip.address}:${f.port}" in frontend ${f.name}`);
  return { lines, start, end: end < 0 ? lines.length : end, bind };
}

interface DrillDef {
  readonly name: string;
  readonly description: string;
  readonly decisions: readonly string[];
  readonly checks: readonly string[];
  readonly object: (t: Target) => string;
  readonly files: (t: Target) => readonly string[];
  readonly fault: (lab: Lab, t: Target, dir: string) => Promise<void>;
}

const DEFS: readonly DrillDef[] = [
  {
    name: 'tls-foreign-ca',
    description: "the public VIP serves a certificate with the right names, signed by a CA that is not the lab's",
    decisions: ['TLS-02'],
    checks: ['tls.chain-lab-ca'],
    object: (t) => t.vip.host,
    files: (t) => [t.certFile],
    fault: async (_lab, t, dir) => {
      const ca = { crt: join(dir, 'foreign-ca.crt'), key: join(dir, 'foreign-ca.key') };
      await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30', '-keyout', ca.key, '-out', ca.crt, '-subj', '/CN=stackgate drill foreign CA',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
      chmodSync(ca.key, 0o600);
      writeAtomic(t.certFile, await issue(dir, t, ca, vipSans(t.vip), 825));
    },
  },
  {
    name: 'tls-expiring',
    description: 'the public VIP serves a lab-CA certificate that expires inside tls.minDaysValid',
    decisions: ['TLS-02'],
    checks: ['tls.validity-days'],
    object: (t) => t.vip.host,
    files: (t) => [t.certFile],
    fault: async (lab, t, dir) => {
      const days = lab.tls.minDaysValid - 5;
      if (days < 1) throw new Error(`tls.minDaysValid ${lab.tls.minDaysValid} leaves no room for a certificate that is valid yet too short-lived`);
      writeAtomic(t.certFile, await issue(dir, t, labCaOf(t), vipSans(t.vip), days));
    },
  },
  {
    name: 'tls-san-lacks-host',
    description: "the public VIP serves a lab-CA certificate whose SAN lacks the VIP's host name (and address)",
    decisions: ['TLS-02'],
    checks: ['tls.san-covers-host'],
    object: (t) => t.vip.host,
    files: (t) => [t.certFile],
    fault: async (_lab, t, dir) => writeAtomic(t.certFile, await issue(dir, t, labCaOf(t), ['DNS:stackgate-drill.invalid'], 825)),
  },
  {
    name: 'tls-old-protocols',
    description: "HAProxy's ssl-min-ver lowered to TLSv1.0 (at OpenSSL security level 0) on one frontend of the public VIP",
    decisions: ['TLS-03'],
    checks: ['tls.old-protocols-refused'],
    object: (t) => `${t.vip.host}:${t.frontends[0]!.port}`,
    files: (t) => [t.haproxyCfg],
    fault: async (_lab, t) => {
      const { lines, bind } = frontendBlock(readFileSync(t.haproxyCfg, 'utf8'), t.frontends[0]!);
      lines[bind] = `${lines[bind]!.replace(/ ssl-min-ver \S+/, '')} ssl-min-ver TLSv1.0 ciphers DEFAULT:@SECLEVEL=0`;
      writeAtomic(t.haproxyCfg, lines.join('\n'));
    },
  },
  {
    name: 'tls-plain-http-on-tls-port',
    description: 'one TLS port of the public VIP also serves plain HTTP (HAProxy routes a cleartext request past TLS)',
    decisions: ['TLS-01'],
    checks: ['tls.plain-http-refused'],
    object: (t) => `${t.vip.host}:${t.frontends[1]!.port}`,
    files: (t) => [t.haproxyCfg],
    fault: async (lab, t) => {
      const f = t.frontends[1]!;
      const sock = `${lab.name}-sg-drill`;
      // The frontend becomes a TCP switch: a TLS hello goes to the original TLS bind, a cleartext request to a plain one.
      const { lines, start, end, bind } = frontendBlock(readFileSync(t.haproxyCfg, 'utf8'), f);
      const original = lines.slice(start + 1, end).filter((_, n) => n !== bind - start - 1);
      const tlsBind = lines[bind]!.replace(`${f.vip.address}:${f.port}`, `abns@${sock}-tls accept-proxy`);
      const block = [
        `frontend ${f.name}`,
        '  mode tcp',
        `  bind ${f.vip.address}:${f.port}`,
        '  tcp-request inspect-delay 2s',
        '  tcp-request content accept if { req.ssl_hello_type 1 }',
        '  tcp-request content accept if HTTP',
        '  use_backend sg_drill_plain if HTTP',
        '  default_backend sg_drill_tls',
        '',
        'backend sg_drill_tls',
        '  mode tcp',
        `  server tls abns@${sock}-tls send-proxy-v2`,
        '',
        'backend sg_drill_plain',
        '  mode tcp',
        `  server plain abns@${sock}-plain send-proxy-v2`,
        '',
        'frontend sg_drill_tls_in',
        tlsBind,
        ...original,
        '',
        'frontend sg_drill_plain_in',
        `  bind abns@${sock}-plain accept-proxy`,
        ...original.map((l) => l.replace('X-Forwarded-Proto https', 'X-Forwarded-Proto http')),
      ];
      writeAtomic(t.haproxyCfg, [...lines.slice(0, start), ...block, ...lines.slice(end)].join('\n'));
    },
  },
  {
    name: 'tls-plain-http-on-port-80',
    description: 'port 80 of the public VIP serves a page in plain HTTP instead of redirecting to https',
    decisions: ['TLS-01'],
    checks: ['tls.plain-http-refused'],
    object: (t) => `${t.vip.host}:80`,
    files: (t) => [t.haproxyCfg],
    fault: async (_lab, t) => {
      const cfg = readFileSync(t.haproxyCfg, 'utf8');
      writeAtomic(
        t.haproxyCfg,
        `${cfg}
frontend sg_drill_http80
  bind ${t.vip.address}:80
  http-request return status 200 content-type text/plain string "stackgate drill: plain HTTP on port 80"
`,
      );
    },
  },
];

/** The tls drills for a lab run by the local provider. */
export function tlsDrillsFor(lab: Lab): Drill[] {
  return DEFS.map((d) => {
    const t = () => target(lab);
    return {
      name: d.name,
      description: d.description,
      decisions: d.decisions,
      checks: d.checks,
      get object() {
        return d.object(t());
      },
      inject: async (l: Lab) => {
        const tt = target(l);
        await inject(tt, d.name, d.files(tt), (dir) => d.fault(l, tt, dir));
      },
      revert: async (l: Lab) => {
        const tt = target(l);
        await revert(tt, d.name, d.files(tt));
      },
    };
  });
}

/** The tls drills of the embedded lab. */
export const tlsDrills: Drill[] = tlsDrillsFor(loadLab('embedded'));
