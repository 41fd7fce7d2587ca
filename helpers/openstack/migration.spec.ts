import { describe, expect, test } from 'vitest';
import type { Cloud } from './cloud.ts';
import { latestOf, migrationText, moveServer, MoveError, type MigrationRecord } from './migration.ts';
import type { Server } from './tenant.ts';

const record = (id: number, type: string, status: string): MigrationRecord =>
  ({ id, status, migration_type: type, source_compute: 'fn3', dest_compute: 'fn2', instance_uuid: 'u1', created_at: '2026-12-04T21:30:00.000000' });

/**
 * Nova as a test double: each action request sets the server's task, each GET moves it one state along `script`
 * (the last state stays), and the migration records are the given ones.
 */
function fakeNova(script: Partial<Server>[], migrations: MigrationRecord[]) {
  const actions: { body: unknown; version: string | undefined }[] = [];
  let at = -1;
  let reads = 0;
  const server = (): Server => ({ id: 'u1', name: 'sg-r1-shared-vm-fn3', status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'fn3', ...script[Math.max(0, Math.min(at, script.length - 1))] });
  const cloud = {
    post: async (_type: string, _path: string, body: unknown, o?: { headers?: Record<string, string> }) => {
      actions.push({ body, version: o?.headers?.['x-openstack-nova-api-version'] });
      return { status: 202, body: {} };
    },
    // Nova has no record of the move until it is asked for it; then the record's states, one per read (the last stays).
    get: async () => ({ status: 200, body: { migrations: actions.length ? [migrations[Math.min(reads++, migrations.length - 1)]!] : [] } }),
  } as unknown as Cloud;
  const getServer = async () => {
    at += 1;
    return server();
  };
  return { cloud, actions, getServer };
}


describe('moving a server between compute nodes', () => {
  test("the newest record of the move's kind that was not there before it", () => {
    const records = [record(3, 'live-migration', 'error'), record(7, 'live-migration', 'completed'), record(8, 'migration', 'confirmed')];
    expect(latestOf(records, 'live', new Set([3]))?.id).toBe(7);
    expect(latestOf(records, 'cold', new Set([3]))?.id).toBe(8);
    expect(latestOf(records, 'live', new Set([3, 7]))).toBeUndefined();
    expect(migrationText(records[1])).toBe('migration 7 (live-migration fn3 → fn2): completed');
    expect(migrationText(undefined)).toBe('no migration record');
  });

  test('live: asks for block_migration auto on the target host, and returns once ACTIVE there', async () => {
    const nova = fakeNova(
      [{ status: 'MIGRATING', 'OS-EXT-STS:task_state': 'migrating' }, { status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'fn2' }],
      // ACTIVE on the target while the record still says so for a moment.
      [record(7, 'live-migration', 'post-migrating'), record(7, 'live-migration', 'completed')],
    );
    const moved = await moveServer(nova.cloud, { id: 'u1', name: 'vm', status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'fn3' }, { to: 'fn2', kind: 'live', timeoutMs: 20_000, what: 'live migration of server vm on fn3 to fn2', getServer: nova.getServer });
    expect(nova.actions).toEqual([{ body: { 'os-migrateLive': { host: 'fn2', block_migration: 'auto' } }, version: '2.30' }]);
    expect(moved.server['OS-EXT-SRV-ATTR:host']).toBe('fn2');
    expect(moved.migration?.status).toBe('completed');
    expect(moved.transitions.map((t) => t.state)).toEqual(['MIGRATING/migrating on fn3', 'ACTIVE/- on fn2']);
  });

  test('live: a server Nova left where it was fails with the source, the target and the migration record', async () => {
    const nova = fakeNova([{ status: 'MIGRATING', 'OS-EXT-STS:task_state': 'migrating' }, { status: 'ACTIVE' }], [record(9, 'live-migration', 'error')]);
    const error = await moveServer(nova.cloud, { id: 'u1', name: 'vm', status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'fn3' }, { to: 'fn2', kind: 'live', timeoutMs: 20_000, what: 'live migration of server vm on fn3 to fn2', getServer: nova.getServer })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MoveError);
    expect((error as Error).message).toBe('live migration of server vm on fn3 to fn2: it ended with the server ACTIVE/- on fn3, not on fn2 (migration 9 (live-migration fn3 → fn2): error; now ACTIVE/- on fn3)');
  });

  test('cold: migrate to the host, wait for VERIFY_RESIZE, confirm, and return once ACTIVE there', async () => {
    const nova = fakeNova(
      [{ status: 'RESIZE', 'OS-EXT-STS:task_state': 'resize_migrating' }, { status: 'VERIFY_RESIZE', 'OS-EXT-SRV-ATTR:host': 'fn2' }, { status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'fn2' }],
      [record(8, 'migration', 'confirmed')],
    );
    const moved = await moveServer(nova.cloud, { id: 'u1', name: 'vm', status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'fn3' }, { to: 'fn2', kind: 'cold', timeoutMs: 20_000, what: 'cold migration of server vm', getServer: nova.getServer });
    expect(nova.actions).toEqual([{ body: { migrate: { host: 'fn2' } }, version: '2.56' }, { body: { confirmResize: null }, version: undefined }]);
    expect(moved.migration?.status).toBe('confirmed');
    expect(moved.kind).toBe('cold');
  });
});
