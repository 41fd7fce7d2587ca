import { expect } from 'vitest';
import { check, type CheckContext } from '../../helpers/gate/check.ts';
import { currentRun } from '../../helpers/gate/ledger.ts';
import {
  clientExpectations, clientFindings, clientNodes, clientSettingsScript, parseClientSettings, type ClientSetting,
} from '../../helpers/ha/clients.ts';
import { awaitDelivery, logCommand, loggingOf, ranges, senderFile } from '../../helpers/ha/logging.ts';
import { asRoot } from '../../helpers/node/deployer.ts';
import {
  parseReplication, pgOf, pgPassword, recoveryFindings, recoveryStates, replicationFindings, REPLICATION_SQL,
  runTable, sql, standbysLacking, type Pg,
} from '../../helpers/ha/postgres.ts';
import {
  clusterStates, neutronOnCluster, northdFindings, northdOnMembers, ovnClusterOf, raftFindings, switchFindings,
  switchOnMembers, type SwitchSeen,
} from '../../helpers/ha/ovn.ts';
import {
  apiBackends, backendFindings, haproxyNodes, inTransition, parseProbe, statProbe,
} from '../../helpers/ha/haproxy.ts';
import { askVersion, memcachedFindings, memcachedNodes } from '../../helpers/ha/memcached.ts';
import { novaControlNodes, novaServiceFindings, type NovaService } from '../../helpers/ha/nova.ts';
import { clusterFindings, clusterViews, messageProbe, rabbitOf, rabbitPassword } from '../../helpers/ha/rabbitmq.ts';

/** The spec's PostgreSQL replication; a lab without one (or without standbys) is not judged here. */
function replication({ lab, notApplicable }: CheckContext): Pg {
  const pg = pgOf(lab);
  if (!pg) return notApplicable('the spec has no postgresql section');
  if (pg.standbys.length === 0) return notApplicable(`spec postgresql.standbys is empty (primary ${pg.primary.name} alone)`);
  return pg;
}

check('ha.pg-replication', "one PostgreSQL primary, every spec standby streaming (the synchronous ones sync) within the lag bound", async (ctx) => {
  const pg = replication(ctx);
  const password = pgPassword(ctx.lab, pg);
  const primary = ctx.node(pg.primary.name);
  const recovery = await recoveryStates(ctx.lab, pg, password, ctx.node);
  const rows = parseReplication(await sql(primary, pg.primary.apiAddress!, pg, password, REPLICATION_SQL));
  await ctx.attach('pg_stat_replication on the primary', JSON.stringify({ recovery: [...recovery], rows }, null, 2), 'application/json');
  expect([...recoveryFindings(pg, recovery), ...replicationFindings(pg, rows)], 'PostgreSQL replication').toEqual([]);
});

check('ha.pg-write-visible', 'a row written through the database VIP is readable on every standby', async (ctx) => {
  const pg = replication(ctx);
  if (!pg.spec.vip) return ctx.notApplicable('spec postgresql names no vip');
  const password = pgPassword(ctx.lab, pg);
  const vip = ctx.lab.vip(pg.spec.vip).address;
  const shell = ctx.node(pg.primary.name);
  const table = runTable(currentRun().run, 'ha');
  const marker = `sg-${currentRun().run}-${Date.now().toString(36)}`;
  try {
    await sql(shell, vip, pg, password, `CREATE TABLE IF NOT EXISTS ${table} (v text)`);
    await sql(shell, vip, pg, password, `INSERT INTO ${table} VALUES ('${marker}')`);
    const lacking = await standbysLacking(pg, password, shell, table, marker, pg.maxLagSeconds * 1000);
    expect(lacking, `row ${marker} of ${table} written through VIP ${pg.spec.vip} ${vip}`).toEqual([]);
  } finally {
    // Committed on the primary even when the standbys do not confirm it: that failure is the one reported above.
    await sql(shell, vip, pg, password, `DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  }
});

check('ha.log-delivery', 'numbered messages logged on a forwarding node all reach the first log collector', async (ctx) => {
  const log = loggingOf(ctx.lab);
  if (!log) return ctx.notApplicable('the spec has no logging section');
  if (!log.sender) return ctx.notApplicable(`every node with an address is a collector (${log.spec.collectors.join(', ')})`);
  const collector = log.collectors[0]!;
  const tag = `sg-${currentRun().run}-${Date.now().toString(36)}`;
  const count = 20;
  await ctx.node(log.sender.name).out(logCommand(log, tag, count));
  const file = senderFile(log, collector, log.sender);
  const got = await awaitDelivery(ctx.node(collector.name), file, tag, count, log.boundMs);
  await ctx.attach('delivery', `${got.seen.length} of ${count} in ${file} on ${collector.name} after ${got.ms} ms`);
  expect(ranges(got.missing), `messages of ${tag} from ${log.sender.name} missing at collector ${collector.name} ${file} ` +
    `after ${log.boundMs / 1000} s`).toBe('');
});

check('ha.rabbitmq-cluster', 'every spec RabbitMQ member running in one cluster, no partition, the queue policy on each', async (ctx) => {
  const r = rabbitOf(ctx.lab);
  if (!r) return ctx.notApplicable('the spec has no rabbitmq section');
  const views = await clusterViews(ctx.lab, r, rabbitPassword(ctx.lab, r));
  await ctx.attach('management API of each member', JSON.stringify(views, null, 2), 'application/json');
  expect(clusterFindings(r, views), `RabbitMQ cluster ${r.spec.nodes.join(', ')} (policy ${r.spec.policy.name})`).toEqual([]);
});

check('ha.rabbitmq-messages', 'a queue the policy matches is mirrored on every other running member, and a message ' +
  'published through one member is read through each other', async (ctx) => {
  const r = rabbitOf(ctx.lab);
  if (!r) return ctx.notApplicable('the spec has no rabbitmq section');
  if (r.nodes.length < 2) return ctx.notApplicable(`spec rabbitmq.nodes has one member (${r.spec.nodes[0]}): nothing to cross`);
  const probe = await messageProbe(ctx.lab, r, rabbitPassword(ctx.lab, r), `${currentRun().run}-${Date.now().toString(36)}`);
  await ctx.attach('probe queue', probe.seen.join('\n'));
  expect(probe.findings, `queue ${probe.queue} through ${probe.via ?? 'no member'} (policy ${r.spec.policy.name})`).toEqual([]);
});

check('ha.ovn-raft', "OVN's NB and SB each a RAFT cluster of every spec member, connected, with one leader", async (ctx) => {
  const c = ovnClusterOf(ctx.lab);
  if (!c) return ctx.notApplicable('the spec has no ovnCluster section');
  const states = await clusterStates(ctx.node(c.nodes[0]!.name), c);
  await ctx.attach('_Server of each member', JSON.stringify(states, null, 2), 'application/json');
  expect(raftFindings(c, states), `OVN RAFT clusters of ${c.spec.nodes.join(', ')}`).toEqual([]);
});

check('ha.neutron-nb', "a network made through Neutron is a logical switch in every OVN RAFT member's copy of the NB", async (ctx) => {
  const c = ovnClusterOf(ctx.lab);
  if (!c) return ctx.notApplicable('the spec has no ovnCluster section');
  if (!neutronOnCluster(ctx.lab)) return ctx.notApplicable('the spec runs no Neutron (no service of type network) to write the NB');
  const { network } = await (await ctx.tenant()).defaultsNetwork('nb-net');
  const shell = ctx.node(c.nodes[0]!.name);
  // Neutron writes the switch after its own commit, and a follower's copy trails the leader's: a few seconds at most.
  let seen: SwitchSeen[] = [];
  for (const end = Date.now() + 20_000; ;) {
    seen = await switchOnMembers(shell, c, network.id);
    if (seen.every((s) => s.seen === 'present') || Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  await ctx.attach('logical switch on each member', JSON.stringify({ network, seen }, null, 2), 'application/json');
  expect(switchFindings(network.id, seen), `network ${network.name} (${network.id}) in OVN's NB`).toEqual([]);
});

check('ha.ovn-northd', 'ovn-northd on every OVN RAFT member, exactly one active and the others standing by', async (ctx) => {
  const c = ovnClusterOf(ctx.lab);
  if (!c) return ctx.notApplicable('the spec has no ovnCluster section');
  if (!neutronOnCluster(ctx.lab)) return ctx.notApplicable('the spec runs no Neutron, whose NB northd translates');
  const seen = await northdOnMembers(ctx.lab, (n) => ctx.node(n), c);
  await ctx.attach('ovn-northd status of each member', JSON.stringify(seen, null, 2), 'application/json');
  expect(northdFindings(seen), `ovn-northd on ${c.spec.nodes.join(', ')}`).toEqual([]);
});

check('ha.cluster-clients', "every OpenStack service on every node names each cluster's members, and the database " +
  'VIP, in its configuration', async (ctx) => {
  const expected = clientExpectations(ctx.lab);
  if (expected.length === 0) {
    return ctx.notApplicable('the spec has no cluster of two or more members and no database VIP for OpenStack');
  }
  // Kolla's files and other users' processes are root's to read.
  const command = asRoot(ctx.lab, clientSettingsScript(ctx.lab));
  const nodes = clientNodes(ctx.lab);
  const seen = await Promise.all(nodes.map(async (n) => {
    const r = await ctx.node(n.name).run(command).catch((error: Error) => error);
    if (r instanceof Error) return { node: n.name, settings: [] as ClientSetting[], error: r.message.split('\n')[0] };
    return { node: n.name, settings: parseClientSettings(r.stdout) };
  }));
  await ctx.attach('settings of each node (hosts only)', JSON.stringify(seen, null, 2), 'application/json');
  const findings = seen.flatMap((s) => ('error' in s ? [`${s.node}: not read (${s.error})`] : []));
  // A control node with no service configuration found would make this check pass on nothing.
  for (const s of seen.filter((x) => !('error' in x) && x.settings.length === 0)) {
    if (ctx.lab.node(s.node).roles.includes('control')) {
      findings.push(`${s.node}: no OpenStack service's configuration found (the --config-file and uwsgi ini of its ` +
        'processes, /etc/kolla)');
    }
  }
  findings.push(...seen.flatMap((s) => clientFindings(s.node, s.settings, expected)));
  expect(findings, `the clients of ${expected.map((e) => e.what).filter((w, i, a) => a.indexOf(w) === i).join(', ')}`)
    .toEqual([]);
});

check('ha.api-backends', "on every loadbalancer, HAProxy's own stats show each control node's server UP in every API backend", async (ctx) => {
  const lbs = haproxyNodes(ctx.lab);
  if (lbs.length === 0) return ctx.notApplicable('the spec has no HAProxy (no VIP, or no node with role loadbalancer)');
  const backends = apiBackends(ctx.lab);
  if (backends.length === 0) return ctx.notApplicable('the spec puts no API behind HAProxy (spec.services is empty)');
  const probe = statProbe(ctx.lab);
  const read = () => Promise.all(lbs.map(async (n) => {
    try {
      return parseProbe(n.name, await ctx.node(n.name).out(probe));
    } catch (error) {
      const why = (error as Error).message.split('\n')[0];
      return { node: n.name, sockets: [], rows: [], error: `HAProxy's stats not read: ${why}` };
    }
  }));
  // One slow answer to a health check (a loaded machine) shows as UP 4/5 until the next checks settle it: read again
  // for a while, so a server is judged by the state HAProxy settles on; one still between states is reported so.
  let stats = await read();
  for (const end = Date.now() + 15_000; inTransition(stats) && Date.now() < end;) {
    await new Promise((r) => setTimeout(r, 2_000));
    stats = await read();
  }
  await ctx.attach('show stat of each loadbalancer', JSON.stringify(stats, null, 2), 'application/json');
  const services = backends.map((b) => b.service).join(', ');
  const where = lbs.map((n) => n.name).join(', ');
  expect(backendFindings(backends, stats), `HAProxy backends of ${services} on ${where}`).toEqual([]);
});

check('ha.memcached', "memcached answers on every control node's API address, as each service's memcache_servers lists it", async (ctx) => {
  const nodes = memcachedNodes(ctx.lab);
  if (nodes.length === 0) {
    return ctx.notApplicable('the spec has no Keystone, or no control node with an API address, to cache for');
  }
  const seen = await Promise.all(nodes.map((n) => askVersion(n)));
  await ctx.attach('version of each memcached', JSON.stringify(seen, null, 2), 'application/json');
  expect(memcachedFindings(seen), `memcached on ${nodes.map((n) => n.name).join(', ')}`).toEqual([]);
});

check('ha.nova-services', "Nova's conductor and scheduler on every control node report up, as Nova's own service list shows", async (ctx) => {
  const nodes = novaControlNodes(ctx.lab);
  if (nodes.length === 0) return ctx.notApplicable('the spec has no nova service, or no control node with an API address');
  const cloud = await ctx.cloud();
  const services = (await cloud.get<{ services: NovaService[] }>('compute', '/os-services')).body.services;
  await ctx.attach("Nova's services", JSON.stringify(services, null, 2), 'application/json');
  expect(novaServiceFindings(nodes, services), `Nova's control services on ${nodes.map((n) => n.name).join(', ')}`).toEqual([]);
});
