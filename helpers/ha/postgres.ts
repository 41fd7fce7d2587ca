/**
 * PostgreSQL replication as the spec's `postgresql` describes it, read with psql on the lab's nodes over SSH: who is
 * in recovery, what the primary's pg_stat_replication says of each standby, and whether a write reaches them all.
 * Every login is TCP with the spec's role, its password from the secrets file through psql's stdin, never argv.
 */
import type { Lab, LabNode } from '../lab/model.ts';
import { servicePassword } from '../lab/secrets.ts';
import type { PostgresqlSpec } from '../lab/spec.ts';
import { shellLine } from '../node/quote.ts';
import type { NodeShell } from '../node/ssh.ts';

export interface Pg {
  readonly spec: PostgresqlSpec;
  readonly primary: LabNode;
  readonly standbys: readonly LabNode[];
  readonly synchronous: readonly string[];
  /** How many of them confirm a commit: postgresql.quorum (ANY n, sync_state quorum), else all (FIRST n, sync). */
  readonly quorum?: number;
  readonly port: number;
  readonly user: string;
  readonly maxLagSeconds: number;
}

export function pgOf(lab: Lab): Pg | undefined {
  const spec = lab.spec.postgresql;
  if (!spec) return undefined;
  return {
    spec,
    primary: lab.node(spec.primary),
    standbys: spec.standbys.map((n) => lab.node(n)),
    synchronous: spec.synchronous ?? spec.standbys,
    ...(spec.quorum === undefined ? {} : { quorum: spec.quorum }),
    port: spec.port ?? 5432,
    user: spec.user ?? 'postgres',
    maxLagSeconds: spec.maxReplayLagSeconds ?? 5,
  };
}

export function pgPassword(lab: Lab, pg: Pg): string {
  return servicePassword(lab, {
    what: `PostgreSQL login (role ${pg.user})`,
    env: 'STACKGATE_POSTGRES_PASSWORD',
    key: pg.spec.passwordKey,
    keyField: 'postgresql.passwordKey',
  }).value;
}

/** The command that runs one SQL statement at host:port, the password read from stdin into the environment. */
export function psqlCommand(host: string, pg: Pg, sql: string): string {
  const argv = ['psql', '-X', '-At', '-F', '|', '-v', 'ON_ERROR_STOP=1', '-h', host, '-p', String(pg.port),
    '-U', pg.user, '-d', 'postgres', '-c', sql];
  // A commit waits for the synchronous standbys; with one gone it would wait forever, and statement_timeout does
  // not end that wait. SIGINT makes psql cancel it (the row is then committed on the primary only, and PostgreSQL
  // warns so: sql() reports it); KILL 5 s later if psql itself hangs.
  const seconds = Math.max(10, pg.maxLagSeconds * 2);
  return `IFS= read -r PGPASSWORD && export PGPASSWORD && timeout -s INT -k 5 ${seconds} ${shellLine(argv)}`;
}

/** Rows of one statement, or an error that names where it ran and what psql said. */
export async function sql(
  shell: NodeShell, host: string, pg: Pg, password: string, statement: string,
): Promise<string[][]> {
  const r = await shell.run(psqlCommand(host, pg, statement), `${password}\n`);
  if (/canceling wait for synchronous replication/.test(r.stderr)) {
    const by = pg.quorum === undefined ? 'the' : `${pg.quorum} of the`;
    throw new Error(`a commit through ${host}:${pg.port} was not confirmed by ${by} synchronous standbys ` +
      `${pg.synchronous.join(', ')} (postgresql.synchronous) within the bound: ` +
      r.stderr.trim().split('\n').slice(-2).join(' '));
  }
  const said = (r.stderr || r.stdout).trim();
  if (r.code !== 0) throw new Error(`psql to ${host}:${pg.port} from ${r.node} failed: ${said}`);
  return r.stdout.split('\n').filter((l) => l.length > 0).map((l) => l.split('|'));
}

export interface ReplicationRow {
  readonly name: string;
  readonly state: string;
  readonly syncState: string;
  readonly replayLagSeconds: number;
}

export const REPLICATION_SQL = 'SELECT application_name, state, sync_state, ' +
  'COALESCE(EXTRACT(EPOCH FROM replay_lag), 0) FROM pg_stat_replication ORDER BY application_name';

export function parseReplication(rows: readonly string[][]): ReplicationRow[] {
  return rows.map(([name = '', state = '', syncState = '', lag = '0']) =>
    ({ name, state, syncState, replayLagSeconds: Number(lag) }));
}

/**
 * What the primary's view of its standbys lacks: each standby streaming, the synchronous ones `sync` (or `quorum`
 * where the spec gives one), replay lag within the bound.
 */
export function replicationFindings(pg: Pg, rows: readonly ReplicationRow[]): string[] {
  const out: string[] = [];
  const seen = rows.map((r) => `${r.name} ${r.state}/${r.syncState}`).join(', ') || 'no standby connected';
  for (const s of pg.standbys) {
    const row = rows.find((r) => r.name === s.name);
    const where = `standby ${s.name} in pg_stat_replication on primary ${pg.primary.name}`;
    if (!row) {
      out.push(`${where}: absent (seen: ${seen})`);
      continue;
    }
    if (row.state !== 'streaming') out.push(`${where}: state ${row.state}, expected streaming`);
    const syncState = pg.quorum === undefined ? 'sync' : 'quorum';
    if (pg.synchronous.includes(s.name) && row.syncState !== syncState) {
      const why = pg.quorum === undefined ? 'postgresql.synchronous' : `postgresql.synchronous, quorum ${pg.quorum}`;
      out.push(`${where}: sync_state ${row.syncState}, expected ${syncState} (${why})`);
    }
    if (row.replayLagSeconds > pg.maxLagSeconds) {
      out.push(`${where}: replay lag ${row.replayLagSeconds.toFixed(3)} s, bound ${pg.maxLagSeconds} s`);
    }
  }
  return out;
}

/** Exactly one node out of recovery, and it is the spec's primary. */
export function recoveryFindings(pg: Pg, inRecovery: ReadonlyMap<string, string>): string[] {
  const primaries = [...inRecovery].filter(([, v]) => v === 'f').map(([n]) => n);
  const word = (v: string) => (v === 'f' ? 'primary' : v === 't' ? 'in recovery' : v);
  const said = [...inRecovery].map(([n, v]) => `${n} ${word(v)}`).join(', ');
  if (primaries.length === 1 && primaries[0] === pg.primary.name) return [];
  return [`nodes not in recovery: ${primaries.join(', ') || 'none'}; expected exactly ${pg.primary.name} (${said})`];
}

/** Each node's pg_is_in_recovery(): t, f, or what went wrong reaching it. */
export async function recoveryStates(
  lab: Lab, pg: Pg, password: string, shell: (n: string) => NodeShell,
): Promise<Map<string, string>> {
  const nodes = [pg.primary, ...pg.standbys];
  const states = await Promise.all(nodes.map(async (n) => {
    const host = n.apiAddress ?? n.managementAddress ?? n.name;
    try {
      const rows = await sql(shell(pg.primary.name), host, pg, password, 'SELECT pg_is_in_recovery()');
      return rows[0]?.[0] ?? 'no answer';
    } catch (error) {
      return `unreachable (${(error as Error).message})`;
    }
  }));
  return new Map(nodes.map((n, i) => [n.name, states[i]!]));
}

/** A table name of this run (letters, digits, underscore): sg_<run>_<what>. */
export const runTable = (run: string, what: string) => `sg_${run}_${what}`.replace(/[^a-z0-9_]/g, '_');

/** Poll each standby for the marker row until every one has it or the bound passes; the standbys that never did. */
export async function standbysLacking(
  pg: Pg, password: string, shell: NodeShell, table: string, marker: string, boundMs: number,
): Promise<string[]> {
  const deadline = Date.now() + boundMs;
  let lacking: string[] = [];
  for (;;) {
    lacking = [];
    for (const s of pg.standbys) {
      const host = s.apiAddress ?? s.name;
      const got = await sql(shell, host, pg, password, `SELECT v FROM ${table} WHERE v = '${marker}'`).then(
        (rows) => (rows.length === 1 ? '' : `${rows.length} rows`),
        (error: Error) => error.message,
      );
      if (got) lacking.push(`standby ${s.name} (${host}): the row written through the VIP is not readable (${got})`);
    }
    if (lacking.length === 0 || Date.now() > deadline) return lacking;
    await new Promise((r) => setTimeout(r, 500));
  }
}
