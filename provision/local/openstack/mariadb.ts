/** MariaDB on the database node (Kolla: the control nodes), each service's database and user, and its exporter. */
import { existsSync, rmSync } from 'node:fs';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { daemon, type Component, type LabContext, type UpContext } from '../component.ts';
import { head } from '../config.ts';
import { forgetOnce, once } from '../exec.ts';
import type { LabPaths } from '../paths.ts';
import { run } from '../sh.ts';
import { openstackContext, openstackEnabled, openstackPg, openstackSecrets, type OpenstackContext } from './common.ts';

const mariadbDue = (lab: Lab) => openstackEnabled(lab) && !openstackPg(lab);

export function mariadbDir(paths: LabPaths, node: LabNode) {
  return paths.node(node.name, 'mariadb');
}
export const mariadbSocket = (paths: LabPaths, node: LabNode) => `${mariadbDir(paths, node)}/mysqld.sock`;

function renderMariadb(c: OpenstackContext) {
  const db = c.layout.database;
  const mdir = mariadbDir(c.paths, db);
  return daemon(db, 'mariadb', {
    argv: [
      '/usr/sbin/mariadbd', '--no-defaults', '--user=mysql', `--datadir=${mdir}/data`, `--socket=${mariadbSocket(c.paths, db)}`,
      `--pid-file=${mdir}/mysqld.pid`, `--bind-address=${db.apiAddress}`, '--port=3306', '--skip-name-resolve',
      '--max-connections=1000', '--innodb-buffer-pool-size=128M', '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_general_ci', '--log-error=', `--tmpdir=${mdir}/tmp`,
    ],
    dirs: [{ path: mdir, owner: 'mysql' }, { path: `${mdir}/tmp`, owner: 'mysql' }],
    health: [{ kind: 'tcp', host: db.apiAddress!, port: 3306 }],
  });
}

async function dataDir({ lab, paths }: LabContext): Promise<string> {
  const ddir = `${mariadbDir(paths, openstackContext({ lab, paths }).layout.database)}/data`;
  if (existsSync(`${ddir}/mysql`)) return 'present';
  await run('mariadb-install-db', [
    '--no-defaults', '--user=mysql', `--datadir=${ddir}`, '--auth-root-authentication-method=socket', '--skip-test-db',
  ], { timeout: 120_000 });
  // A new database means every one-time step is due again.
  forgetOnce(paths);
  rmSync(`${paths.root}/complete`, { force: true });
  return 'created';
}

/** A service's databases and its user with all privileges on them (the password from stdin, never argv). */
export function ensureMariadbDatabase(c: UpContext, user: string, databases: readonly string[]): Promise<string> {
  const s = openstackSecrets(c.paths);
  const sql = [
    ...databases.map((d) => `CREATE DATABASE IF NOT EXISTS ${d};`),
    `CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY '${s.db[user]}';`,
    `ALTER USER '${user}'@'%' IDENTIFIED BY '${s.db[user]}';`,
    ...databases.map((d) => `GRANT ALL PRIVILEGES ON ${d}.* TO '${user}'@'%';`),
    'FLUSH PRIVILEGES;',
  ].join('\n');
  return mysql(c, `database-${user}`, sql);
}

function mysql(c: UpContext, step: string, sql: string): Promise<string> {
  const socket = mariadbSocket(c.paths, openstackContext(c).layout.database);
  return once(c.paths, step, sql, () => run('mariadb', [`--socket=${socket}`, '-u', 'root'], { input: sql }));
}

export const mariadb: Component = {
  name: 'mariadb',
  needed: mariadbDue,
  packages: () => ['mariadb-server', 'python3-pymysql'],
  render: (ctx) => [renderMariadb(openstackContext(ctx))],
  bootstrap: async (c) => void (await c.step('data directory', () => dataDir(c))),
  keeps: ({ lab, paths }) => [mariadbDir(paths, openstackContext({ lab, paths }).layout.database)],
};

const mysqldJob = (lab: Lab) => lab.spec.monitoring?.jobs.find((j) => j.job === 'mysqld');

/** The spec's mysqld job: Debian's prometheus-mysqld-exporter beside MariaDB, as a read-only user (Kolla's grants). */
export const mysqldExporter: Component = {
  name: 'mysqld-exporter',
  after: ['mariadb'],
  needed: (lab) => mariadbDue(lab) && !!mysqldJob(lab),
  packages: () => ['prometheus-mysqld-exporter'],
  render: (ctx) => {
    const c = openstackContext(ctx);
    const db = c.layout.database;
    const cnf = `${mariadbDir(c.paths, db)}-exporter.cnf`;
    const port = mysqldJob(c.lab)!.port;
    const content = `# ${head(c.lab, db, 'mysqld exporter').slice(2)}\n[client]\nuser = exporter\n` +
      `password = ${c.secrets.db.exporter}\nhost = ${db.apiAddress}\nport = 3306\n`;
    return [
      daemon(db, 'mysqld-exporter', {
        argv: ['/usr/bin/prometheus-mysqld-exporter', `--config.my-cnf=${cnf}`, `--web.listen-address=${db.apiAddress}:${port}`],
        user: 'prometheus',
        files: [{ path: cnf, content, owner: 'prometheus', mode: 0o600 }],
        health: [{ kind: 'tcp', host: db.apiAddress!, port }],
      }),
    ];
  },
  bootstrap: async (c) => {
    const pw = openstackSecrets(c.paths).db.exporter;
    const sql = [
      `CREATE USER IF NOT EXISTS 'exporter'@'%' IDENTIFIED BY '${pw}' WITH MAX_USER_CONNECTIONS 3;`,
      `ALTER USER 'exporter'@'%' IDENTIFIED BY '${pw}';`,
      "GRANT PROCESS, REPLICATION CLIENT, SELECT, SLAVE MONITOR ON *.* TO 'exporter'@'%';",
      'FLUSH PRIVILEGES;',
    ].join('\n');
    await c.step('exporter user', () => mysql(c, 'database-exporter', sql));
  },
};
