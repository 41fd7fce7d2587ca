/**
 * Moving a server to another compute node as an admin: live migration (Nova 2.30, `block_migration: 'auto'`, so that
 * Nova picks shared storage where the disk is in RBD and a block migration where it is local), or cold migration
 * (2.56 `migrate` to a host, then `confirmResize`) where the spec says live migration is impossible. The waits return
 * data with every state the server went through; a server that does not end up on the target throws an error that
 * says where it stayed and what Nova's migration record says. Only the checks assert.
 */
import type { Cloud } from './cloud.ts';
import type { Server } from './tenant.ts';
import { waitFor, WaitError, type Transition } from './wait.ts';

export type MoveKind = 'live' | 'cold';

/** Nova's record of a migration (os-migrations, 2.23: with its type). */
export interface MigrationRecord {
  readonly id: number;
  readonly status: string;
  readonly migration_type?: string;
  readonly source_compute: string | null;
  readonly dest_compute: string | null;
  readonly instance_uuid: string;
  readonly created_at: string;
  readonly updated_at?: string | null;
}

/** Nova's migration_type of each kind of move, and the status its record ends in when the move worked. */
export const MIGRATION_TYPE: Record<MoveKind, string> = { live: 'live-migration', cold: 'migration' };
export const DONE_STATUS: Record<MoveKind, string> = { live: 'completed', cold: 'confirmed' };

const NOVA_2_23 = { 'x-openstack-nova-api-version': '2.23' };

/** A server's migration records, newest first. */
export async function migrationsOf(cloud: Cloud, serverId: string): Promise<MigrationRecord[]> {
  const path = `/os-migrations?instance_uuid=${encodeURIComponent(serverId)}`;
  const r = await cloud.get<{ migrations: MigrationRecord[] }>('compute', path, { headers: NOVA_2_23 });
  return newestFirst(r.body.migrations.filter((m) => m.instance_uuid === serverId));
}

export const newestFirst = (records: readonly MigrationRecord[]) => [...records].sort((a, b) => b.id - a.id);

/**
 * The newest record of this kind of move that was not there before it (`known`: the IDs seen before the request, so
 * that no clock of this machine and the cloud's is compared); undefined when Nova made none.
 */
export function latestOf(records: readonly MigrationRecord[], kind: MoveKind, known: ReadonlySet<number>): MigrationRecord | undefined {
  const ofKind = (m: MigrationRecord) => (m.migration_type ?? MIGRATION_TYPE[kind]) === MIGRATION_TYPE[kind];
  return newestFirst(records).find((m) => ofKind(m) && !known.has(m.id));
}

/** The statuses a migration record ends in (Nova's Migration.status), the good and the bad ones. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set([
  'completed', 'confirmed', 'done', 'error', 'failed', 'cancelled', 'reverted',
]);

/** One line for a message: "migration 12 (live-migration fn3 → fn2): error". */
export const migrationText = (m: MigrationRecord | undefined) =>
  m
    ? `migration ${m.id} (${m.migration_type ?? '?'} ${m.source_compute ?? '?'} → ${m.dest_compute ?? '?'}): ${m.status}`
    : 'no migration record';

const hostOf = (s: Server) => s['OS-EXT-SRV-ATTR:host'] ?? '?';
const stateOf = (s: Server) => `${s.status}/${s['OS-EXT-STS:task_state'] ?? '-'} on ${hostOf(s)}`;

export interface Moved {
  readonly kind: MoveKind;
  /** The server once Nova was done with it. */
  readonly server: Server;
  readonly migration: MigrationRecord | undefined;
  readonly transitions: readonly Transition[];
  readonly seconds: number;
}

/** Where a move ended when it did not end on the target (the error of moveServer). */
export class MoveError extends Error {
  override name = 'MoveError';
  constructor(
    message: string,
    readonly transitions: readonly Transition[],
    readonly migration: MigrationRecord | undefined,
  ) {
    super(message);
  }
}

export interface MoveOptions {
  /** Nova's host name of the node to move to. */
  readonly to: string;
  readonly kind: MoveKind;
  readonly timeoutMs: number;
  /** For messages: "server sg-ab12cd-shared-vm-fn3 on fn3". */
  readonly what: string;
  readonly getServer: (id: string) => Promise<Server>;
}

/**
 * Move the server to `to` and wait until Nova is done: ACTIVE without a task on the target (live), or VERIFY_RESIZE,
 * confirmed, and ACTIVE there (cold). Throws a MoveError naming where the server stayed and the migration record.
 */
export async function moveServer(cloud: Cloud, server: Server, o: MoveOptions): Promise<Moved> {
  const t0 = Date.now();
  const from = hostOf(server);
  const known = new Set((await migrationsOf(cloud, server.id)).map((m) => m.id));
  const record = async () => latestOf(await migrationsOf(cloud, server.id), o.kind, known);
  const transitions: Transition[] = [];
  const idle = (s: Server) => !s['OS-EXT-STS:task_state'];
  const wait = async (phase: string, done: (s: Server) => boolean | string) => {
    const offset = (Date.now() - t0) / 1000;
    const boundMs = Math.max(1000, o.timeoutMs - (Date.now() - t0));
    try {
      const what = `${o.what} (${phase})`;
      const r = await waitFor(() => o.getServer(server.id), { what, timeoutMs: boundMs, intervalMs: 1000, state: stateOf, done });
      transitions.push(...r.transitions.map((t) => ({ state: t.state, at: t.at + offset })));
      return r.value;
    } catch (error) {
      if (error instanceof WaitError) {
        transitions.push(...error.transitions.map((t) => ({ state: t.state, at: t.at + offset })));
      }
      throw error;
    }
  };
  const fail = async (message: string): Promise<never> => {
    const migration = await record().catch(() => undefined);
    const seen = await o.getServer(server.id).catch(() => undefined);
    const now = seen ? `; now ${stateOf(seen)}${seen.fault ? `, fault: ${seen.fault.message}` : ''}` : '';
    throw new MoveError(`${message}, not on ${o.to} (${migrationText(migration)}${now})`, transitions, migration);
  };
  const erred = (s: Server) => (s.status === 'ERROR' ? 'went to ERROR' : false);
  const active = (s: Server) => (s.status === 'ACTIVE' && idle(s) ? true : erred(s));
  const action = (body: unknown, version?: string) =>
    cloud.post('compute', `/servers/${server.id}/action`, body, { headers: version ? { 'x-openstack-nova-api-version': version } : {} });
  try {
    if (o.kind === 'live') {
      const body = { 'os-migrateLive': { host: o.to, block_migration: 'auto' } };
      await action(body, '2.30');
      const end = await wait(`live migration ${from} → ${o.to}`, active);
      if (hostOf(end) !== o.to) return await fail(`${o.what}: it ended with the server ${stateOf(end)}`);
    } else {
      await action({ migrate: { host: o.to } }, '2.56');
      const resized = await wait(`cold migration ${from} → ${o.to}`, (s) =>
        s.status === 'VERIFY_RESIZE' ? true : s.status === 'ACTIVE' && idle(s) ? 'ended ACTIVE without VERIFY_RESIZE' : erred(s));
      await action({ confirmResize: null });
      const end = await wait('confirmResize', active);
      const was = `VERIFY_RESIZE on ${hostOf(resized)}`;
      if (hostOf(end) !== o.to) return await fail(`${o.what}: it ended with the server ${stateOf(end)} (${was})`);
    }
  } catch (error) {
    if (error instanceof MoveError) throw error;
    return fail((error as Error).message);
  }
  const end = await o.getServer(server.id);
  // Nova marks the server ACTIVE on the target a moment before it closes the record
  // (post_live_migration_at_destination, then 'completed'): a minute at most for its last word.
  const migration = await waitFor(record, {
    what: `the migration record of ${o.what}`,
    timeoutMs: 60_000,
    intervalMs: 1000,
    state: (m) => m?.status ?? 'none',
    done: (m) => !!m && FINAL_STATUSES.has(m.status),
  }).then((r) => r.value, () => record());
  return { kind: o.kind, server: end, migration, transitions, seconds: (Date.now() - t0) / 1000 };
}
