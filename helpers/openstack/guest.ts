/** What a tenant sees of its guest: the hypervisor it runs on, ping and SSH over its floating IP. */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { NodeSSH } from 'node-ssh';
import { routeTo } from '../net/route.ts';
import type { Cloud } from './cloud.ts';

/** A guest's block devices and their sizes in 1 KiB blocks, from its /proc/partitions. */
export const partitions = (out: string) =>
  new Map(out.split('\n').slice(2).map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 4).map((f) => [f[3]!, Number(f[2])]));

export interface Hypervisor {
  readonly hypervisor_hostname: string;
  readonly hypervisor_type: string;
  readonly state: string;
  readonly status: string;
}

export async function hypervisorOf(cloud: Cloud, hostname: string): Promise<Hypervisor | undefined> {
  const all = (await cloud.get<{ hypervisors: Hypervisor[] }>('compute', '/os-hypervisors/detail')).body.hypervisors;
  return all.find((h) => h.hypervisor_hostname === hostname);
}

/** One echo request, answered within `waitS` seconds or not. */
export const pingOnce = async (address: string, waitS = 2) =>
  (await execa('ping', ['-n', '-c', '1', '-W', String(waitS), address], { reject: false })).exitCode === 0;

/** Whether an address stops answering echo requests within `withinMs`: one is left unanswered for `waitS`. */
export async function untilSilent(address: string, withinMs: number, waitS = 1): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  do {
    if (!(await pingOnce(address, waitS))) return true;
    await sleep(200);
  } while (Date.now() < deadline);
  return false;
}

/** Whether a console log shows an IPv4 address as a whole (10.0.0.1 is not in 10.0.0.12). */
export function showsAddress(log: string, ip: string): boolean {
  return ip !== '' && new RegExp(`(^|[^0-9.])${ip.replace(/\./g, '\\.')}([^0-9.]|$)`, 'm').test(log);
}

export interface PingOutcome {
  readonly reached: boolean;
  /** Seconds until the console showed the guest's own address; undefined when it never did. */
  readonly configuredAfterS: number | undefined;
  /** What the wait was bounded by, for a failure message. */
  readonly bound: string;
}

/**
 * Ping a guest's floating IP until it answers. At most `maxMs`; but once the guest's console shows its fixed
 * address (cloud-init's table, cirros and the embedded lab's image print it once DHCP is done), a booted,
 * configured guest gets only `afterConfiguredMs` more: its silence is then the data path's fault, not a slow boot.
 */
export async function pingOnceConfigured(o: { address: string; fixedIp: string; console: () => Promise<string>; maxMs: number; afterConfiguredMs: number }): Promise<PingOutcome> {
  const t0 = Date.now();
  let deadline = t0 + o.maxMs;
  let configuredAfterS: number | undefined;
  let lastLook = 0;
  do {
    if (await pingOnce(o.address)) return { reached: true, configuredAfterS, bound: '' };
    if (configuredAfterS === undefined && Date.now() - lastLook > 5000) {
      lastLook = Date.now();
      if (showsAddress(await o.console().catch(() => ''), o.fixedIp)) {
        configuredAfterS = (Date.now() - t0) / 1000;
        deadline = Math.min(deadline, Date.now() + o.afterConfiguredMs);
      }
    }
  } while (Date.now() < deadline);
  const bound = configuredAfterS === undefined
    ? `${o.maxMs / 1000} s, its console never showing its address ${o.fixedIp}`
    : `${o.afterConfiguredMs / 1000} s after its console showed its address ${o.fixedIp}`;
  return { reached: false, configuredAfterS, bound };
}

/** This host's way to an address, for a failure's diagnosis: the route and the neighbour entry (MAC and state). */
export async function pathTo(address: string): Promise<string> {
  const [r, neigh] = await Promise.all([routeTo(address), execa('ip', ['-j', 'neigh', 'show', 'to', address], { reject: false })]);
  const n = (JSON.parse(neigh.stdout || '[]') as { dev?: string; lladdr?: string; state?: string[] }[]).map((x) => `${x.lladdr ?? 'no MAC'} on ${x.dev ?? '?'} (${(x.state ?? []).join(' ')})`);
  return `route to ${address}: ${r.dev ? `dev ${r.dev}${r.gateway ? ` via ${r.gateway}` : ''}` : 'none'}; neighbour: ${n.join(', ') || 'no entry'}`;
}

/** OpenSSH's fingerprint of a public key blob: SHA256:<unpadded base64>. */
export function keyFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The host keys a guest printed on its console, as cloud-init does (and the embedded lab's guest image). */
export interface ConsoleHostKeys {
  /** SHA256 fingerprints, from the key lines and from the fingerprint lines. */
  readonly fingerprints: readonly string[];
}

const block = (log: string, what: string) => [...log.matchAll(new RegExp(`-----BEGIN SSH HOST KEY ${what}-----([\\s\\S]*?)-----END SSH HOST KEY ${what}-----`, 'g'))].map((m) => m[1]!);

/** Parse the host key blocks of a console log; no block → no fingerprints (nothing to verify against). */
export function consoleHostKeys(consoleLog: string): ConsoleHostKeys {
  const log = consoleLog.replace(/\r/g, '');
  const fps = new Set<string>();
  for (const b of block(log, 'KEYS')) {
    for (const m of b.matchAll(/^(?:ssh-|ecdsa-)\S+\s+([A-Za-z0-9+/]+={0,2})/gm)) fps.add(keyFingerprint(Buffer.from(m[1]!, 'base64')));
  }
  for (const b of block(log, 'FINGERPRINTS')) for (const m of b.matchAll(/\b(SHA256:[A-Za-z0-9+/]+)/g)) fps.add(m[1]!);
  return { fingerprints: [...fps] };
}

export class HostKeyMismatch extends Error {
  override name = 'HostKeyMismatch';
}

export interface SshOptions {
  readonly user: string;
  readonly port: number;
  /** The guest's host keys from its console log: the key the guest presents must be one of them. */
  readonly hostKeys: ConsoleHostKeys;
  /** Keep trying (dropbear not up yet, key not yet read from the config drive or the metadata service) this long. */
  readonly withinMs?: number;
}

/**
 * An SSH connection to a guest with the key pair Nova gave it (config drive or metadata service), its host key
 * verified against the fingerprints the guest printed on its console: a different key fails at once. Commands run
 * over it one channel each: on an emulated CPU every key exchange costs the guest a second that its checks share.
 */
export class GuestSession {
  private constructor(private readonly ssh: NodeSSH) {}

  static async open(address: string, privateKey: string, options: SshOptions): Promise<GuestSession> {
    const allowed = options.hostKeys.fingerprints;
    if (allowed.length === 0) throw new HostKeyMismatch(`guest at ${address} printed no SSH host key on its console: its host key cannot be verified`);
    const until = Date.now() + (options.withinMs ?? 0);
    let last: Error | undefined;
    do {
      let seen: string | undefined;
      const ssh = new NodeSSH();
      try {
        await ssh.connect({
          host: address,
          port: options.port,
          username: options.user,
          privateKey,
          readyTimeout: 20_000,
          // A kept connection whose path went away (floating IP gone, guest deleted) fails its command, never hangs.
          keepaliveInterval: 5000,
          keepaliveCountMax: 3,
          hostVerifier: (key: Buffer) => {
            seen = keyFingerprint(key);
            return allowed.includes(seen);
          },
        } as Parameters<NodeSSH['connect']>[0]);
        return new GuestSession(ssh);
      } catch (error) {
        ssh.dispose();
        if (seen && !allowed.includes(seen)) throw new HostKeyMismatch(`guest at ${address} presented host key ${seen}, its console log shows ${allowed.join(', ')}`);
        // A key the client cannot read never gets better by waiting.
        if (/privateKey|key format/i.test((error as Error).message)) throw error;
        last = error as Error;
      }
      // The host key reaches the console a moment before the SSH server listens: a refused try costs nothing.
      await new Promise((r) => setTimeout(r, 300));
    } while (Date.now() < until);
    throw last ?? new Error(`SSH to ${address} failed`);
  }

  get alive(): boolean {
    return this.ssh.isConnected();
  }

  /** The command's stdout. */
  async run(command: string): Promise<string> {
    return (await this.ssh.execCommand(command)).stdout.trim();
  }

  close(): void {
    this.ssh.dispose();
  }
}

/** Run one command on the guest over a connection of its own (GuestSession says how the guest is trusted). */
export async function sshRuns(address: string, privateKey: string, command: string, options: SshOptions): Promise<string> {
  const session = await GuestSession.open(address, privateKey, options);
  try {
    return await session.run(command);
  } finally {
    session.close();
  }
}
