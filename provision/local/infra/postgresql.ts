/**
 * PostgreSQL streaming replication as the spec's `postgresql` places it (seed 004: synchronous master-slave-slave):
 * the primary (initdb), each standby a pg_basebackup of it that streams its WAL, the primary waiting on commit for the
 * spec's synchronous standbys (synchronous_standby_names FIRST n, or ANY quorum). The database VIP is HAProxy's (loadbalancer.ts).
 */
import { existsSync } from 'node:fs';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import type { PostgresqlSpec } from '../../../helpers/lab/spec.ts';
import { daemon, type Component, type Daemon, type LabContext, type UpContext } from '../component.ts';
import { inNode, once } from '../exec.ts';
import type { LabPaths } from '../paths.ts';
import { run } from '../sh.ts';
import { labSecrets, type Secrets } from './pki.ts';
import { need } from './roles.ts';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const REPLICATION_ROLE = 'replicator';

export const pgSpec = (lab: Lab): PostgresqlSpec => need(lab.spec.postgresql, `lab ${lab.name}: no postgresql in spec`);
export const pgPort = (lab: Lab) => pgSpec(lab).port ?? 5432;
export const pgDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'postgresql');
export const pgSocketDir = (paths: LabPaths, node: LabNode) => `${pgDir(paths, node)}/run`;
const dataDir = (paths: LabPaths, node: LabNode) => `${pgDir(paths, node)}/data`;
const address = (node: LabNode) => need(node.apiAddress, `PostgreSQL node ${node.name} has no API address`);

export function pgPrimary(lab: Lab): LabNode {
  return lab.node(pgSpec(lab).primary);
}

export function pgStandbys(lab: Lab): LabNode[] {
  return pgSpec(lab).standbys.map((n) => lab.node(n));
}

/** The standbys the primary waits for: the spec's list, or every standby. */
export function pgSynchronous(lab: Lab): string[] {
  const pg = pgSpec(lab);
  return pg.synchronous ?? pg.standbys;
}

/** A value in single quotes for postgresql.conf. */
const q = (value: string) => `'${value.replace(/'/g, "''")}'`;

/**
 * FIRST n (every one confirms) or ANY quorum (that many of them do): standby names are application_name, which may
 * hold hyphens, so each is double-quoted.
 */
export function synchronousStandbyNames(names: readonly string[], quorum?: number): string {
  if (names.length === 0) return '';
  const list = names.map((n) => `"${n}"`).join(', ');
  return quorum === undefined ? `FIRST ${names.length} (${list})` : `ANY ${quorum} (${list})`;
}

export function renderPostgresqlConf(lab: Lab, paths: LabPaths, node: LabNode): string {
  const primary = pgPrimary(lab);
  const dir = pgDir(paths, node);
  const lines = [
    `# Rendered by stackgate (local provider) for ${lab.name}/${node.name}; do not edit.`,
    `listen_addresses = ${q(address(node))}`,
    `port = ${pgPort(lab)}`,
    `unix_socket_directories = ${q(pgSocketDir(paths, node))}`,
    `hba_file = ${q(`${dir}/pg_hba.conf`)}`,
    `ident_file = ${q(`${dir}/pg_ident.conf`)}`,
    // Every OpenStack service's pool on each controller: 50 ran out ("remaining connection slots are reserved").
    `max_connections = ${pgSpec(lab).openstack ? 300 : 50}`,
    'shared_buffers = 32MB',
    'wal_level = replica',
    'max_wal_senders = 10',
    'max_replication_slots = 10',
    "wal_keep_size = '128MB'",
    'hot_standby = on',
    'hot_standby_feedback = on',
    'synchronous_commit = on',
    `synchronous_standby_names = ${q(node.name === primary.name ? synchronousStandbyNames(pgSynchronous(lab), pgSpec(lab).quorum) : '')}`,
    "password_encryption = 'scram-sha-256'",
    "log_destination = 'stderr'",
    'logging_collector = off',
    "log_line_prefix = '%m [%p] %u@%d '",
  ];
  if (node.name !== primary.name) {
    // The password is in the passfile (0600), never in the conninfo that pg_stat_wal_receiver shows.
    const conninfo = `host=${address(primary)} port=${pgPort(lab)} user=${REPLICATION_ROLE} ` +
      `application_name=${node.name} passfile=${dir}/pgpass`;
    lines.push(`primary_conninfo = ${q(conninfo)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Peer logins on the socket; scram from the standbys (replication) and from the lab's networks (the check's role). */
export function renderPgHba(lab: Lab, node: LabNode): string {
  const pg = pgSpec(lab);
  const user = pg.user ?? 'postgres';
  const vipNet = pg.vip ? lab.vip(pg.vip).network : undefined;
  const cidrs = lab.networks.filter((n) => n.name === vipNet || n.purpose.includes('api')).map((n) => n.cidr.text);
  return [
    `# Rendered by stackgate (local provider) for ${lab.name}/${node.name}; do not edit.`,
    'local all all peer',
    ...pgStandbys(lab).map((s) => `host replication ${REPLICATION_ROLE} ${address(s)}/32 scram-sha-256`),
    ...cidrs.map((c) => `host all ${user} ${c} scram-sha-256`),
    // The OpenStack services, each in its own database only (its role and database share the service's name).
    ...(pg.openstack ? cidrs.map((c) => `host sameuser all ${c} scram-sha-256`) : []),
    // Nova's role owns two databases more (its API and cell0 databases: nova.ts), and only those.
    ...(pg.openstack && lab.spec.services?.nova ? cidrs.map((c) => `host nova_api,nova_cell0 nova ${c} scram-sha-256`) : []),
    '',
  ].join('\n');
}

function renderNode(lab: Lab, paths: LabPaths, node: LabNode, secrets: Secrets): Daemon {
  const dir = pgDir(paths, node);
  const standby = node.name !== pgPrimary(lab).name;
  const pass = secrets.postgres?.replication ?? 'unset';
  const pgpass = `${address(pgPrimary(lab))}:${pgPort(lab)}:*:${REPLICATION_ROLE}:${pass}\n`;
  return daemon(node, 'postgresql', {
    argv: [`${PG_BIN}/postgres`, '-D', dataDir(paths, node), '-c', `config_file=${dir}/postgresql.conf`],
    user: 'postgres',
    files: [
      { path: `${dir}/postgresql.conf`, content: renderPostgresqlConf(lab, paths, node), owner: 'postgres' },
      { path: `${dir}/pg_hba.conf`, content: renderPgHba(lab, node), owner: 'postgres' },
      { path: `${dir}/pg_ident.conf`, content: '', owner: 'postgres' },
      ...(standby ? [{ path: `${dir}/pgpass`, content: pgpass, owner: 'postgres', mode: 0o600 }] : []),
    ],
    dirs: [{ path: dir, owner: 'postgres', mode: 0o700 }, { path: pgSocketDir(paths, node), owner: 'postgres' }],
    health: [{ kind: 'tcp', host: address(node), port: pgPort(lab) }],
    stopSignal: 'INT',
  });
}

/** SQL on a node's socket as the postgres superuser (peer login); the SQL, passwords included, goes through stdin. */
export function psql(lab: Lab, paths: LabPaths, node: LabNode, sql: string): Promise<string> {
  return inNode(lab, node, 'postgres', [
    `${PG_BIN}/psql`, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', pgSocketDir(paths, node),
    '-p', String(pgPort(lab)), '-d', 'postgres',
  ], 60_000, { input: sql });
}

async function initPrimary({ lab, paths }: LabContext): Promise<string> {
  const node = pgPrimary(lab);
  if (existsSync(`${dataDir(paths, node)}/PG_VERSION`)) return 'present';
  await run('setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', `${PG_BIN}/initdb`, '-D',
    dataDir(paths, node), '-U', 'postgres', '--auth-local=peer', '--auth-host=scram-sha-256', '-E', 'UTF8'],
  { timeout: 120_000 });
  return 'created';
}

/** The roles, with their passwords (stdin). Committed locally: no standby streams yet to confirm a commit. */
function roles(c: UpContext): Promise<string> {
  const s = need(labSecrets(c.paths).postgres, 'no PostgreSQL secrets: the keys were not made');
  const user = pgSpec(c.lab).user ?? 'postgres';
  const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const ensure = (role: string, attrs: string) => `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ` +
    `${lit(role)}) THEN CREATE ROLE "${role}" ${attrs}; END IF; END $$;`;
  const sql = [
    'SET synchronous_commit = local;',
    ensure(REPLICATION_ROLE, 'WITH REPLICATION LOGIN'),
    `ALTER ROLE "${REPLICATION_ROLE}" WITH REPLICATION LOGIN PASSWORD ${lit(s.replication)};`,
    ensure(user, 'WITH LOGIN SUPERUSER'),
    `ALTER ROLE "${user}" WITH LOGIN PASSWORD ${lit(s.password)};`,
    '',
  ].join('\n');
  const primary = pgPrimary(c.lab);
  return once(c.paths, `postgresql-roles-${primary.name}`, sql, () => psql(c.lab, c.paths, primary, sql));
}

/** A standby is the primary's base backup (streamed WAL included) with standby.signal; made once, then it streams. */
async function baseBackup({ lab, paths }: LabContext, node: LabNode): Promise<string> {
  const data = dataDir(paths, node);
  if (existsSync(`${data}/PG_VERSION`)) return 'present';
  await inNode(lab, node, 'postgres', [
    `${PG_BIN}/pg_basebackup`, '-h', address(pgPrimary(lab)), '-p', String(pgPort(lab)), '-U', REPLICATION_ROLE,
    '-D', data, '-X', 'stream', '-c', 'fast', '-w',
  ], 300_000, { env: { PGPASSFILE: `${pgDir(paths, node)}/pgpass` } });
  await inNode(lab, node, 'postgres', ['touch', `${data}/standby.signal`]);
  return 'copied';
}

export const postgresql: Component = {
  name: 'postgresql',
  after: ['pki'],
  needed: (lab) => !!lab.spec.postgresql,
  packages: () => ['postgresql-15', 'postgresql-client-15'],
  render: ({ lab, paths }) => [renderNode(lab, paths, pgPrimary(lab), labSecrets(paths))],
  bootstrap: async (c) => void (await c.step('data directory', () => initPrimary(c))),
  configure: async (c) => void (await c.step('roles', () => roles(c))),
  keeps: ({ lab, paths }) => [pgDir(paths, pgPrimary(lab))],
};

export const postgresqlStandby: Component = {
  name: 'postgresql-standby',
  after: ['postgresql'],
  needed: (lab) => (lab.spec.postgresql?.standbys.length ?? 0) > 0,
  packages: () => ['postgresql-15'],
  render: ({ lab, paths }) => pgStandbys(lab).map((n) => renderNode(lab, paths, n, labSecrets(paths))),
  bootstrap: async (c) => {
    for (const n of pgStandbys(c.lab)) await c.step(`${n.name} base backup`, () => baseBackup(c, n));
  },
  ready: ({ lab, paths }) => [{
    what: `PostgreSQL standbys ${pgStandbys(lab).map((n) => n.name).join(', ')} streaming from ${pgPrimary(lab).name}`,
    probe: async () => {
      const rows = await psql(lab, paths, pgPrimary(lab), 'SELECT application_name, state FROM pg_stat_replication;\n')
        .catch((e: Error) => e.message);
      const streaming = new Set(rows.split('\n').filter((r) => r.endsWith('|streaming')).map((r) => r.split('|')[0]));
      const missing = pgStandbys(lab).filter((n) => !streaming.has(n.name)).map((n) => n.name);
      const seen = rows.trim() || 'empty';
      return missing.length === 0 || `not streaming: ${missing.join(', ')} (pg_stat_replication: ${seen})`;
    },
  }],
  keeps: ({ lab, paths }) => pgStandbys(lab).map((n) => pgDir(paths, n)),
};
