/** RabbitMQ on the messaging node (Kolla: the control nodes) and the one user every OpenStack service logs in as. */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addSecret } from '../../../helpers/gate/redact.ts';
import { daemon, type Component, type UpContext } from '../component.ts';
import { head } from '../config.ts';
import { inNode, once } from '../exec.ts';
import { rabbitmqFiles } from '../infra/rabbitmq.ts';
import { openstackContext, openstackMessaging, openstackSecrets, type OpenstackContext } from './common.ts';

/**
 * RabbitMQ definitions that create (or update) a user with full permissions on vhost /, its password as RabbitMQ
 * stores it (rabbit_password_hashing_sha256: a 4-byte salt, then SHA-256 of salt and password, base64).
 */
export function rabbitUserDefinitions(user: string, password: string, salt: Buffer = randomBytes(4)): string {
  const hash = Buffer.concat([salt, createHash('sha256').update(Buffer.concat([salt, Buffer.from(password, 'utf8')])).digest()]);
  return JSON.stringify({
    users: [{ name: user, password_hash: hash.toString('base64'), hashing_algorithm: 'rabbit_password_hashing_sha256', tags: [] }],
    permissions: [{ user, vhost: '/', configure: '.*', write: '.*', read: '.*' }],
  });
}

function renderRabbitmq(c: OpenstackContext) {
  const { lab, paths } = c;
  const mq = c.layout.messaging;
  const rdir = paths.node(mq.name, 'rabbitmq');
  const rabbitEnv = {
    HOME: rdir,
    RABBITMQ_NODENAME: 'rabbit@localhost',
    RABBITMQ_NODE_IP_ADDRESS: mq.apiAddress!,
    RABBITMQ_NODE_PORT: '5672',
    ...rabbitmqFiles(rdir, `${paths.run}/${mq.name}-rabbitmq.pid`),
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  const conf = [
    `# ${head(lab, mq, 'RabbitMQ').slice(2)}`,
    `listeners.tcp.1 = ${mq.apiAddress}:5672`,
    'loopback_users = none',
    `prometheus.tcp.ip = ${mq.apiAddress}`,
    'prometheus.tcp.port = 15692',
    'log.console = true',
    'log.file = false',
    '',
  ].join('\n');
  // RabbitMQ starts epmd itself (on 127.0.0.1 of the node); it daemonises out of supervisor's tree.
  return daemon(mq, 'rabbitmq', {
    argv: ['/usr/bin/env', ...Object.entries(rabbitEnv).map(([k, v]) => `${k}=${v}`), '/usr/lib/rabbitmq/bin/rabbitmq-server'],
    user: 'rabbitmq',
    files: [
      { path: `${rdir}/rabbitmq.conf`, content: conf, owner: 'rabbitmq' },
      { path: `${rdir}/enabled_plugins`, content: '[rabbitmq_prometheus].\n', owner: 'rabbitmq' },
    ],
    dirs: [{ path: rdir, owner: 'rabbitmq' }, { path: `${rdir}/mnesia`, owner: 'rabbitmq' }, { path: `${rdir}/log`, owner: 'rabbitmq' }],
    health: [{ kind: 'tcp', host: mq.apiAddress!, port: 5672 }],
  });
}

async function openstackUser(c: UpContext): Promise<string> {
  const { lab, paths } = c;
  const mq = openstackContext(c).layout.messaging;
  const rdir = paths.node(mq.name, 'rabbitmq');
  const cookie = readFileSync(`${rdir}/.erlang.cookie`, 'utf8');
  const password = openstackSecrets(paths).rabbitPassword;
  return once(paths, 'rabbit-user', password + cookie, async () => {
    addSecret(cookie.trim());
    // Neither the cookie nor the password on a command line (ps shows it to every user): rabbitmqctl reads the
    // cookie from $HOME/.erlang.cookie (the server's HOME), the user comes as a definitions file.
    const rmq = (args: string[]) =>
      inNode(lab, mq, undefined, ['/usr/lib/rabbitmq/bin/rabbitmqctl', '-n', 'rabbit@localhost', ...args], 60_000, { env: { HOME: rdir } });
    await rmq(['await_startup']);
    // RabbitMQ 3.10 (Debian 12) reads definitions from a file only: one only root can read, gone right after.
    const defs = join(rdir, `.definitions-${randomBytes(6).toString('hex')}.json`);
    writeFileSync(defs, rabbitUserDefinitions('openstack', password), { mode: 0o600 });
    try {
      await rmq(['import_definitions', '--format', 'json', defs]);
    } finally {
      rmSync(defs, { force: true });
    }
  });
}

export const rabbitmq: Component = {
  name: 'rabbitmq',
  // A spec with a RabbitMQ cluster (`rabbitmq`) has the openstack user in that cluster's definitions instead.
  needed: (lab) => openstackMessaging(lab) && !lab.spec.rabbitmq,
  packages: () => ['rabbitmq-server'],
  render: (ctx) => [renderRabbitmq(openstackContext(ctx))],
  configure: async (c) => void (await c.step('the openstack user', () => openstackUser(c))),
  keeps: (ctx) => [ctx.paths.node(openstackContext(ctx).layout.messaging.name, 'rabbitmq')],
};
