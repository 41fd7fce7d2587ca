import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { run, tryRun } from './sh.ts';

export class HostError extends Error {
  override name = 'HostError';
}

/** The local provider needs root (namespaces, bridges, apt) and a Debian-family host (apt, Debian's packages). */
export function checkHost(osRelease = '/etc/os-release'): { id: string; version: string } {
  if (process.getuid?.() !== 0) {
    throw new HostError('the local provider must run as root: it creates network namespaces and bridges and installs packages with apt (try: sudo npm run lab -- up)');
  }
  const text = existsSync(osRelease) ? readFileSync(osRelease, 'utf8') : '';
  const field = (k: string) => text.match(new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm'))?.[1] ?? '';
  const id = field('ID');
  const like = field('ID_LIKE');
  if (!['debian', 'ubuntu'].includes(id) && !/\b(debian|ubuntu)\b/.test(like)) {
    throw new HostError(`the local provider runs on Debian or Ubuntu only (it installs the lab's services from their packages with apt); this host is "${field('PRETTY_NAME') || id || 'unknown'}"`);
  }
  return { id, version: field('VERSION_ID') };
}

/** Debian packages the infrastructure part of the embedded lab needs (by the binary they provide). */
export const PACKAGES = [
  'iproute2',
  'util-linux',
  'openssl',
  'bind9',
  'bind9-dnsutils',
  'haproxy',
  'keepalived',
  'openssh-server',
  'openssh-client',
  'prometheus',
  'prometheus-node-exporter',
  'prometheus-bind-exporter',
  'prometheus-blackbox-exporter',
  // htpasswd: the bcrypt hash of Prometheus' basic-auth password for its --web.config.file.
  'apache2-utils',
  'supervisor',
  'curl',
  // ping: the network layer proves the tunnel mesh from inside the nodes (net.tunnel-mesh).
  'iputils-ping',
] as const;

export async function missingPackages(packages: readonly string[] = PACKAGES): Promise<string[]> {
  const { out } = await tryRun('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\\n', ...packages]);
  const installed = new Set(
    out
      .split('\n')
      .map((l) => l.trim().split(' '))
      .filter(([, status]) => status === 'installed')
      .map(([name]) => name),
  );
  return packages.filter((p) => !installed.has(p));
}

const POLICY = '/usr/sbin/policy-rc.d';

/** apt-get's progress as a person reads it: packages n of N, downloading, unpacking or setting up. */
export class AptProgress {
  private total = 0;
  private readonly seen = { download: 0, unpack: 0, setup: 0 };

  /** Feed one line of apt-get's output; returns the new state line when this line moved it. */
  feed(line: string): string | undefined {
    const summary = /(\d+) upgraded, (\d+) newly installed/.exec(line);
    if (summary) this.total = Number(summary[1]) + Number(summary[2]);
    else if (/^Get:\d+ /.test(line)) this.seen.download++;
    else if (/^Unpacking /.test(line)) this.seen.unpack++;
    else if (/^Setting up /.test(line)) this.seen.setup++;
    else return undefined;
    return this.state();
  }

  state(): string {
    const of = (n: number) => `${n} of ${this.total || '?'}`;
    if (this.seen.setup) return `setting up packages: ${of(this.seen.setup)}`;
    if (this.seen.unpack) return `unpacking packages: ${of(this.seen.unpack)}`;
    if (this.seen.download) return `downloading packages: ${of(this.seen.download)}`;
    return this.total ? `${this.total} packages to install` : 'resolving dependencies';
  }
}

async function aptInstall(missing: readonly string[], onProgress: (state: string) => void): Promise<{ code: number; out: string }> {
  const env = { DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_MODE: 'l' };
  const args = ['install', '-y', '-q', '--no-install-recommends', '-o', 'Dpkg::Options::=--force-confold', ...missing];
  const sub = execa('apt-get', args, { env, all: true, reject: false });
  const progress = new AptProgress();
  const tail: string[] = [];
  for await (const line of sub.iterable({ from: 'all' })) {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    const state = progress.feed(line);
    if (state) onProgress(state);
  }
  const r = await sub;
  return { code: r.exitCode ?? -1, out: tail.join('\n') };
}

/**
 * apt-get install what is missing, non-interactively, with a policy-rc.d that stops maintainer scripts from
 * starting the daemons on the host (the lab starts them itself, inside the nodes).
 */
export async function installPackages(packages: readonly string[], onProgress: (state: string) => void = () => {}): Promise<string> {
  const missing = await missingPackages(packages);
  if (missing.length === 0) return `all ${packages.length} present`;
  let ours = false;
  if (!existsSync(POLICY)) {
    writeFileSync(POLICY, '#!/bin/sh\n# stackgate: no daemon starts from apt during a lab install\nexit 101\n', { mode: 0o755 });
    ours = true;
  }
  try {
    let r = await aptInstall(missing, onProgress);
    if (r.code !== 0) {
      onProgress('updating the package lists (apt-get update)');
      await run('apt-get', ['update', '-q'], { env: { DEBIAN_FRONTEND: 'noninteractive' } });
      r = await aptInstall(missing, onProgress);
      if (r.code !== 0) throw new HostError(`apt-get install ${missing.join(' ')} failed:\n${r.out.split('\n').slice(-20).join('\n')}`);
    }
  } finally {
    if (ours) rmSync(POLICY, { force: true });
  }
  return `installed ${missing.length} of ${packages.length}: ${missing.join(' ')}`;
}
