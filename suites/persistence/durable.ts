/**
 * What the persistence layer makes before it reboots anything, and how it reads each thing back afterwards. Every
 * reader returns what it saw or throws with what went wrong; the checks decide.
 */
import { createHash } from 'node:crypto';
import { execa } from 'execa';
import { repoRoot } from '../../helpers/lab/load.ts';
import type { Lab } from '../../helpers/lab/model.ts';
import { cinderPool, DEFAULTS, guestSsh } from '../../helpers/lab/defaults.ts';
import { vipFindings, vipHolders } from '../../helpers/net/wiring.ts';
import { inCeph } from '../../helpers/node/deployer.ts';
import { nodeLinks } from '../../helpers/node/net.ts';
import { quote } from '../../helpers/node/quote.ts';
import type { NodeShell } from '../../helpers/node/ssh.ts';
import { consoleHostKeys, sshRuns } from '../../helpers/openstack/guest.ts';
import type { Cloud } from '../../helpers/openstack/cloud.ts';
import type { Tenant } from '../../helpers/openstack/tenant.ts';
import { waitFor } from '../../helpers/openstack/wait.ts';
import { redact } from '../../helpers/gate/redact.ts';

export const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** One power cycle: which nodes, how long until the provider said the lab was back, or why it did not. */
export interface Reboot {
  readonly label: string;
  readonly nodes: readonly string[];
  readonly seconds?: number;
  readonly error?: string;
  readonly output: string;
}

/**
 * Each node in turn, then the whole lab (every node at once, the host's bridges with them). STACKGATE_PERSIST_NODES
 * (node names, comma-separated) reboots only those, one after another, and not the whole lab: a quicker run while
 * developing, and the drills' way to reboot only the node their fault is on.
 */
export function rounds(lab: Lab, only = process.env.STACKGATE_PERSIST_NODES): { label: string; nodes: string[] }[] {
  const chosen = only?.split(',').map((n) => n.trim()).filter(Boolean);
  if (chosen?.length) return chosen.map((n) => ({ label: lab.node(n).name, nodes: [lab.node(n).name] }));
  return [...lab.nodes.map((n) => ({ label: n.name, nodes: [n.name] })), { label: 'the whole lab', nodes: [] }];
}

/**
 * A hard power cycle through the lab's provider (`npm run lab -- reboot … --hard`; the embedded lab's namespaces,
 * or the lima provider's VMs). It returns when the provider finds every service back, or fails after the spec's
 * persistence.recoverySeconds with what did not come back.
 */
export async function hardReboot(lab: Lab, label: string, nodes: readonly string[]): Promise<Reboot> {
  const args = ['tsx', 'provision/cli.ts', 'reboot', ...nodes, '--hard', '--lab', lab.file];
  const r = await execa('npx', args, { cwd: repoRoot, reject: false, all: true, env: { FORCE_COLOR: '0' } });
  const output = redact(r.all ?? '');
  const back = /recovered ([\d.]+) s after/.exec(output);
  if (r.exitCode === 0 && back) return { label, nodes, seconds: Number(back[1]), output };
  // The provider's last words: what did not come back, or why the reboot itself failed.
  const said = output.trim().split('\n').slice(-3).join('\n');
  return { label, nodes, error: said || `exit code ${r.exitCode}`, output };
}

/** Exactly one holder per VIP, a loadbalancer (the network layer's rule). */
export async function vipProblems(lab: Lab, node: (name: string) => NodeShell): Promise<string[]> {
  if (lab.vips.length === 0) return [];
  const seen = await Promise.all(lab.nodes.map(async (n) => ({ node: n, links: await nodeLinks(node(n.name)) })));
  return vipFindings(lab, vipHolders(lab, seen));
}

interface CephStatus {
  health: { status: string; checks?: Record<string, { summary: { message: string } }> };
  pgmap: { num_pgs: number; pgs_by_state?: { state_name: string; count: number }[] };
}

/**
 * Ceph settled after a reboot: HEALTH_OK and every PG active+clean. Waits (OSDs re-peer after their host returns)
 * up to `withinMs`, then says what it saw.
 */
export async function cephProblems(lab: Lab, mon: NodeShell, withinMs: number): Promise<string[]> {
  const read = async () => JSON.parse(await mon.out(inCeph(lab, 'ceph status -f json'))) as CephStatus;
  const settled = (s: CephStatus) => s.health.status === 'HEALTH_OK' && (s.pgmap.pgs_by_state ?? []).every((p) => p.state_name === 'active+clean');
  const wait = waitFor(read, { what: 'Ceph', timeoutMs: withinMs, intervalMs: 3000, done: settled, state: (x) => x.health.status });
  if (await wait.then(() => true, () => false)) return [];
  const s = await read();
  if (settled(s)) return [];
  const checks = Object.entries(s.health.checks ?? {}).map(([code, c]) => `${code}: ${c.summary.message}`);
  const pgs = (s.pgmap.pgs_by_state ?? []).filter((p) => p.state_name !== 'active+clean').map((p) => `${p.count} ${p.state_name}`);
  return [`Ceph is ${s.health.status}${checks.length ? ` (${checks.join('; ')})` : ''}${pgs.length ? `; PGs not active+clean: ${pgs.join(', ')}` : ''}`];
}

/** A RADOS object in the lab's volume pool, named after the run: written before, read back after each reboot. */
export class CephObject {
  readonly pool: string;
  constructor(
    readonly lab: Lab,
    readonly name: string,
    readonly content: string,
  ) {
    const rbd = lab.spec.storage?.cinder?.backends?.find((b) => b.driver === 'ceph');
    this.pool = rbd ? cinderPool(rbd) : DEFAULTS.cinderPool;
  }

  private rados = (args: string) => inCeph(this.lab, `rados -p ${quote(this.pool)} ${args}`);

  async put(mon: NodeShell): Promise<void> {
    await mon.out(`printf %s ${quote(this.content)} | ${this.rados(`put ${quote(this.name)} -`)}`);
  }

  async read(mon: NodeShell): Promise<string> {
    return mon.out(this.rados(`get ${quote(this.name)} -`));
  }

  async remove(mon: NodeShell): Promise<void> {
    await mon.out(this.rados(`rm ${quote(this.name)}`)).catch(() => undefined);
  }

  /** Objects an earlier run of this layer left (it died before removing its own). */
  static async leftovers(lab: Lab, mon: NodeShell, pool: string, own: string): Promise<string[]> {
    const names = (await mon.out(inCeph(lab, `rados -p ${quote(pool)} ls`))).split('\n');
    // Named by a ledger: sg-<run>-[<scope>-]persist-object.
    return names.filter((n) => /^sg-[a-z0-9]+-(?:[a-z0-9-]+-)?persist-object$/.test(n) && n !== own);
  }
}

/** Bytes of a volume's start the guest writes and reads back: enough to cross several RBD objects' boundaries. */
export const WRITTEN_KIB = 8192;
export const readBack = (disk: string) => `head -c ${WRITTEN_KIB * 1024} /dev/${disk} | sha256sum`;

/**
 * Run a command on the guest after a reboot: its host keys are new (an initramfs guest makes them at every boot),
 * so they are read again from the console of this boot.
 */
export async function guestRunsAfterBoot(t: Tenant, serverId: string, command: string, withinMs: number): Promise<string> {
  const fip = await t.associate();
  const { user, port } = guestSsh(t.lab);
  const { value: keys } = await waitFor(async () => consoleHostKeys(await t.consoleLog(serverId, undefined)), {
    what: 'the SSH host key on the console of the rebooted guest',
    timeoutMs: withinMs,
    intervalMs: 3000,
    state: (k) => `${k.fingerprints.length} host key(s)`,
    done: (k) => k.fingerprints.length > 0,
  });
  return sshRuns(fip.floating_ip_address, t.sshKey.privateKeyPem, command, { user, port, hostKeys: keys, withinMs });
}

/** Keystone's answer about a token issued before the reboots: valid (200) or not, and when it expires. */
export async function tokenValid(cloud: Cloud, token: string): Promise<{ status: number; expires?: string }> {
  const r = await cloud.get<{ token?: { expires_at?: string } }>('identity', '/v3/auth/tokens', { headers: { 'x-subject-token': token }, ok: [200, 404, 401] });
  return { status: r.status, expires: r.body.token?.expires_at };
}
