/**
 * A RabbitMQ cluster as the spec's `rabbitmq` places it (seed 004: a rabbitmq cluster on the controllers). The nodes
 * are network namespaces that share the host's hostname, so each Erlang node is named by its address (longnames:
 * rabbit@<address>), with epmd and the distribution port on that address. The first member forms the cluster; the
 * others find it by classic peer discovery (only it is listed, so a fresh member joins it and never forms a cluster
 * of its own) and keep retrying until it answers. The cookie comes from the lab secrets in a 0600 file in the server's
 * HOME, never on a command line. The monitoring user and the spec's policy are definitions loaded at boot.
 */
import { createHash } from 'node:crypto';
import { clusterFindings, clusterViews, erlangNode, PROBE_QUEUE_PREFIX, rabbitOf } from '../../../helpers/ha/rabbitmq.ts';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import type { RabbitmqSpec } from '../../../helpers/lab/spec.ts';
import { daemon, type Component, type Daemon } from '../component.ts';
import type { LabPaths } from '../paths.ts';
import { labSecrets, type Secrets } from './pki.ts';
import { need } from './roles.ts';
import { openstackMessaging, openstackSecrets } from '../openstack/common.ts';

export const rabbitSpec = (lab: Lab): RabbitmqSpec => need(lab.spec.rabbitmq, `lab ${lab.name}: no rabbitmq in spec`);
export const rabbitDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'rabbitmq');
const address = (node: LabNode) => need(node.apiAddress, `RabbitMQ node ${node.name} has no API address`);
const members = (lab: Lab) => rabbitSpec(lab).nodes.map((n) => lab.node(n));

/**
 * The monitoring user (tags monitoring and policymaker: policymaker is what lets the API list policies; it has
 * rights on stackgate's probe queues only) and the spec's policy. The password as RabbitMQ stores it: a 4-byte
 * salt, then SHA-256 of salt and password; the salt is derived from the password so that a render is repeatable.
 */
export function renderDefinitions(lab: Lab, secrets: Secrets, openstackPassword?: string): string {
  const r = rabbitSpec(lab);
  const user = r.user ?? 'monitoring';
  const hashOf = (value: string) => {
    const password = Buffer.from(value, 'utf8');
    const salt = createHash('sha256').update('stackgate-salt').update(password).digest().subarray(0, 4);
    return Buffer.concat([salt, createHash('sha256').update(Buffer.concat([salt, password])).digest()]).toString('base64');
  };
  const hashing = 'rabbit_password_hashing_sha256';
  // The user every OpenStack service logs in as (transport_url), where the cloud talks over this cluster.
  const openstack = openstackPassword === undefined ? undefined : 'openstack';
  const p = r.policy;
  const probe = `^${PROBE_QUEUE_PREFIX.replace(/\./g, '\\.')}.*`;
  return `${JSON.stringify({
    users: [
      { name: user, password_hash: hashOf(secrets.rabbitmq?.monitoring ?? 'unset'), hashing_algorithm: hashing,
        tags: ['monitoring', 'policymaker'] },
      ...(openstack ? [{ name: openstack, password_hash: hashOf(openstackPassword!), hashing_algorithm: hashing, tags: [] }] : []),
    ],
    vhosts: [{ name: '/' }],
    permissions: [
      // Its own probe queues only (ha.rabbitmq-messages), and the default exchange to publish to them.
      { user, vhost: '/', configure: probe, write: `^(${probe.slice(1)}|amq\\.default)$`, read: probe },
      ...(openstack ? [{ user: openstack, vhost: '/', configure: '.*', write: '.*', read: '.*' }] : []),
    ],
    policies: [{ vhost: '/', name: p.name, pattern: p.pattern, 'apply-to': p.applyTo ?? 'queues',
      priority: p.priority ?? 0, definition: p.definition }],
  }, null, 2)}\n`;
}

export function renderRabbitmqConf(lab: Lab, paths: LabPaths, node: LabNode): string {
  const r = rabbitSpec(lab);
  const [first] = members(lab);
  const lines = [
    `# Rendered by stackgate (local provider) for ${lab.name}/${node.name}; do not edit.`,
    `listeners.tcp.1 = ${address(node)}:${r.port ?? 5672}`,
    `management.tcp.ip = ${address(node)}`,
    `management.tcp.port = ${r.managementPort ?? 15672}`,
    `cluster_name = ${lab.name}`,
    // Three members: the side with fewer pauses rather than going on alone (no split brain).
    'cluster_partition_handling = pause_minority',
    `load_definitions = ${rabbitDir(paths, node)}/definitions.json`,
    'log.console = true',
    'log.file = false',
  ];
  if (first && node.name !== first.name) {
    lines.push(
      'cluster_formation.peer_discovery_backend = classic_config',
      `cluster_formation.classic_config.nodes.1 = ${erlangNode(first)}`,
      // The first member may still be booting: retry for two minutes before giving up on it.
      'cluster_formation.discovery_retry_limit = 120',
      'cluster_formation.discovery_retry_interval = 1000',
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Where a RabbitMQ server of the lab keeps its data, pid, config and plugins: all under its own directory, nothing
 * from /etc/rabbitmq (no rabbitmq-env.conf), logs on stdout for the supervisor.
 */
export const rabbitmqFiles = (dir: string, pidFile: string) => ({
  RABBITMQ_MNESIA_BASE: `${dir}/mnesia`,
  RABBITMQ_LOG_BASE: `${dir}/log`,
  RABBITMQ_PID_FILE: pidFile,
  RABBITMQ_CONFIG_FILE: `${dir}/rabbitmq.conf`,
  RABBITMQ_ENABLED_PLUGINS_FILE: `${dir}/enabled_plugins`,
  RABBITMQ_CONF_ENV_FILE: '/dev/null',
  RABBITMQ_LOGS: '-',
});

function renderNode(lab: Lab, paths: LabPaths, node: LabNode, secrets: Secrets, openstackPassword?: string): Daemon {
  const r = rabbitSpec(lab);
  const dir = rabbitDir(paths, node);
  const addr = address(node);
  const env = {
    HOME: dir,
    RABBITMQ_NODENAME: erlangNode(node),
    RABBITMQ_USE_LONGNAME: 'true',
    RABBITMQ_NODE_IP_ADDRESS: addr,
    RABBITMQ_NODE_PORT: String(r.port ?? 5672),
    RABBITMQ_DIST_PORT: String(r.distPort ?? 25672),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: `-kernel inet_dist_use_interface {${addr.split('.').join(',')}}`,
    ...rabbitmqFiles(dir, `${paths.run}/${node.name}-rabbitmq.pid`),
    ERL_EPMD_ADDRESS: `127.0.0.1,${addr}`,
  };
  return daemon(node, 'rabbitmq', {
    argv: ['/usr/bin/env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), '/usr/lib/rabbitmq/bin/rabbitmq-server'],
    user: 'rabbitmq',
    files: [
      { path: `${dir}/rabbitmq.conf`, content: renderRabbitmqConf(lab, paths, node), owner: 'rabbitmq' },
      { path: `${dir}/enabled_plugins`, content: '[rabbitmq_management].\n', owner: 'rabbitmq' },
      { path: `${dir}/definitions.json`, content: renderDefinitions(lab, secrets, openstackPassword), owner: 'rabbitmq', mode: 0o600 },
      { path: `${dir}/.erlang.cookie`, content: secrets.rabbitmq?.cookie ?? 'unset', owner: 'rabbitmq', mode: 0o600 },
    ],
    dirs: [
      { path: dir, owner: 'rabbitmq', mode: 0o700 }, { path: `${dir}/mnesia`, owner: 'rabbitmq' },
      { path: `${dir}/log`, owner: 'rabbitmq' },
    ],
    health: [{ kind: 'tcp', host: addr, port: r.port ?? 5672 }],
  });
}

/** All members start together: a member restarted on its old data waits for the others, whichever stopped last. */
export const rabbitmqCluster: Component = {
  name: 'rabbitmq-cluster',
  after: ['pki'],
  needed: (lab) => !!lab.spec.rabbitmq,
  packages: () => ['rabbitmq-server'],
  render: ({ lab, paths }) => {
    const openstack = openstackMessaging(lab) ? openstackSecrets(paths).rabbitPassword : undefined;
    return members(lab).map((n) => renderNode(lab, paths, n, labSecrets(paths), openstack));
  },
  ready: ({ lab, paths }) => [{
    what: `RabbitMQ ${rabbitSpec(lab).nodes.join(', ')} one cluster with policy ${rabbitSpec(lab).policy.name}`,
    probe: async () => {
      const r = rabbitOf(lab)!;
      const password = labSecrets(paths).rabbitmq?.monitoring ?? 'unset';
      const findings = clusterFindings(r, await clusterViews(lab, r, password));
      return findings.length === 0 || findings.join('; ');
    },
  }],
  keeps: ({ lab, paths }) => members(lab).map((n) => rabbitDir(paths, n)),
};
