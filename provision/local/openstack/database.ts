/**
 * A service's databases and its user, where the spec keeps the OpenStack databases: MariaDB (mariadb.ts), or the
 * spec's PostgreSQL (postgresql.openstack), made on the primary through the database VIP as the spec's superuser.
 */
import { need } from '../infra/roles.ts';
import { labSecrets } from '../infra/pki.ts';
import { PG_BIN, pgSpec } from '../infra/postgresql.ts';
import type { UpContext } from '../component.ts';
import { inNode, once } from '../exec.ts';
import { openstackContext, openstackPg, openstackSecrets } from './common.ts';
import { ensureMariadbDatabase } from './mariadb.ts';

const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;

/** The role (its password current) and its databases owned by it; the SQL, password included, through stdin. */
export function pgDatabaseSql(user: string, password: string, databases: readonly string[]): string {
  return [
    `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${lit(user)}) THEN CREATE ROLE "${user}" LOGIN; ` +
      'END IF; END $$;',
    `ALTER ROLE "${user}" WITH LOGIN PASSWORD ${lit(password)};`,
    // CREATE DATABASE cannot run inside a DO block (a transaction): psql runs what the SELECT yields.
    ...databases.flatMap((d) => [
      `SELECT 'CREATE DATABASE "${d}" OWNER "${user}"' ` +
        `WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${lit(d)})\\gexec`,
      `ALTER DATABASE "${d}" OWNER TO "${user}";`,
    ]),
    '',
  ].join('\n');
}

function pgDatabase(c: UpContext, user: string, databases: readonly string[]): Promise<string> {
  const pg = need(openstackPg(c.lab), `lab ${c.lab.name}: no PostgreSQL with a VIP for the OpenStack databases`);
  const superuser = pgSpec(c.lab).user ?? 'postgres';
  const password = need(labSecrets(c.paths).postgres, 'no PostgreSQL secrets: the keys were not made').password;
  const sql = pgDatabaseSql(user, openstackSecrets(c.paths).db[user]!, databases);
  const node = openstackContext(c).layout.control;
  return once(c.paths, `database-${user}`, sql, () => inNode(c.lab, node, undefined, [
    `${PG_BIN}/psql`, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', pg.host, '-p', String(pg.port), '-U', superuser,
    '-d', 'postgres',
  ], 60_000, { input: sql, env: { PGPASSWORD: password } }));
}

export function ensureDatabase(c: UpContext, user: string, databases: readonly string[]): Promise<string> {
  return openstackPg(c.lab) ? pgDatabase(c, user, databases) : ensureMariadbDatabase(c, user, databases);
}
