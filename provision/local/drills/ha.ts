/**
 * Fault drills of a lab with redundant infrastructure (ha-infra): a PostgreSQL standby or the primary stopped, a BIND
 * secondary stopped, the first log collector stopped, a RabbitMQ member or an OVN RAFT member stopped (each stops one
 * supervised program of the node the spec names last, or first for the collector; revert starts it again and waits
 * until it serves), a static route deleted, Keystone stopped on one controller behind HAProxy, Nova's metadata API on
 * the first, and a whole controller lost (every program of one that leads nothing): the APIs still answer through the
 * VIP, and where the lab has guests a server still boots and answers.
 * A lab without the feature has none.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dnsServers, labZones } from '../../../helpers/dns/servers.ts';
import { serialMismatches, zoneSerial } from '../../../helpers/dns/zone.ts';
import { apiBackends, haproxyNodes } from '../../../helpers/ha/haproxy.ts';
import { askVersion, memcachedFindings, memcachedNodes } from '../../../helpers/ha/memcached.ts';
import { novaControlNodes, novaServiceFindings, type NovaService } from '../../../helpers/ha/nova.ts';
import { loggingOf, missingNumbers, ranges, senderFile } from '../../../helpers/ha/logging.ts';
import { clientExpectations, clientNodes } from '../../../helpers/ha/clients.ts';
import { neutronOnCluster, ovnClusterOf } from '../../../helpers/ha/ovn.ts';
import { pgOf } from '../../../helpers/ha/postgres.ts';
import { clusterFindings, clusterViews, managementApi, rabbitOf, type Rabbit } from '../../../helpers/ha/rabbitmq.ts';
import { send } from '../../../helpers/prometheus/http.ts';
import type { Lab } from '../../../helpers/lab/model.ts';
import { inNode } from '../exec.ts';
import { awaitReady } from '../index.ts';
import { nodeAddresses } from '../infra/roles.ts';
import { ovnRaft } from '../infra/ovn-raft.ts';
import { labSecrets } from '../infra/pki.ts';
import { apiBackendFindings } from '../infra/loadbalancer.ts';
import { installRoute, removeRoute } from '../infra/routes.ts';
import { psql, pgPrimary } from '../infra/postgresql.ts';
import { layout, metadataViaVip } from '../openstack/common.ts';
import { neutronDir } from '../openstack/neutron.ts';
import { novaDir } from '../openstack/nova.ts';
import { ovsRun } from '../openstack/ovn.ts';
import { labPaths } from '../paths.ts';
import { run, sleep, tryRun } from '../sh.ts';
import { programStatus } from '../supervisor.ts';
import { alive, editDrill, supervisorctl, withCloud, type Drill } from './drill.ts';
import { layerOf } from '../../../helpers/gate/layers.ts';

const state = async (lab: Lab, program: string) =>
  (await programStatus(labPaths(lab.name))).find((p) => p.program === program)?.state;

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const t0 = Date.now();
  while (!(await probe().catch(() => false))) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not after ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

/** What Nova reports of the control services of `nodes` (ha.nova-services' findings), asked through the VIP. */
const novaFindings = (lab: Lab, nodes = novaControlNodes(lab)) => withCloud(lab, async (c) =>
  novaServiceFindings(nodes, (await c.get<{ services: NovaService[] }>('compute', '/os-services')).body.services));

/**
 * Nova marks a service down only when its last report is older than service_down_time (60 s): a drill that stops one
 * waits until Nova says so, or the check run right after would still see it up.
 */
const novaSeesDown = (lab: Lab, node: string, binaries: readonly string[], timeoutMs = 120_000) =>
  until(`Nova reporting ${binaries.join(' and ')} of ${node} down`, timeoutMs, async () => {
    const f = await novaFindings(lab, novaControlNodes(lab).filter((n) => n.name === node));
    return binaries.every((b) => f.some((x) => x.includes(` ${b} `)));
  });

/** Stop a program (checked stopped); revert starts it when it is not running and waits for `serving`. */
function stopped(
  program: (lab: Lab) => string,
  serving: (lab: Lab) => Promise<boolean>,
  beforeStart: (lab: Lab) => void = () => undefined,
): Pick<Drill, 'inject' | 'revert'> {
  return {
    async inject(lab) {
      await supervisorctl(lab, 'stop', program(lab));
      const now = await state(lab, program(lab));
      if (now !== 'STOPPED') throw new Error(`${program(lab)} is ${now ?? 'unknown'} after stop`);
    },
    async revert(lab) {
      if ((await state(lab, program(lab))) !== 'RUNNING') {
        beforeStart(lab);
        await supervisorctl(lab, 'start', program(lab));
      }
      await until(`${program(lab)} serving again`, 60_000, () => serving(lab));
    },
  };
}

/**
 * Whether the primary's commits wait forever without this standby: it is synchronous and the others left are fewer
 * than the spec's quorum (every synchronous standby where none is given, FIRST n).
 */
function commitsStopWithout(lab: Lab, standby: string): boolean {
  const pg = pgOf(lab);
  if (!pg?.synchronous.includes(standby)) return false;
  return pg.synchronous.length - 1 < (pg.quorum ?? pg.synchronous.length);
}

function pgStandbyStopped(lab: Lab): Drill[] {
  const pg = lab.spec.postgresql;
  const standby = pg?.standbys.at(-1);
  if (!pg || !standby) return [];
  return [{
    name: 'ha-pg-standby-stopped',
    description: `PostgreSQL on standby ${standby} is stopped: the primary sees one standby fewer, ` +
      (commitsStopWithout(lab, standby) ? 'and a commit waits for it' : 'and a commit does not reach it'),
    decisions: ['HA-04'],
    checks: ['ha.pg-replication', 'ha.pg-write-visible'],
    object: standby,
    ...stopped(() => `${standby}-postgresql`, async (l) => {
      const query = 'SELECT application_name, state FROM pg_stat_replication;\n';
      const rows = await psql(l, labPaths(l.name), pgPrimary(l), query);
      return rows.split('\n').includes(`${standby}|streaming`);
    }),
  }];
}

/** A controller's loss, as far as the database goes: nothing promotes a standby (seed 004 names no failover tool). */
function pgPrimaryStopped(lab: Lab): Drill[] {
  const pg = lab.spec.postgresql;
  if (!pg || pg.standbys.length === 0) return [];
  return [{
    name: 'ha-pg-primary-stopped',
    description: `PostgreSQL on the primary ${pg.primary} is stopped: no node takes writes, the VIP leads nowhere`,
    decisions: ['HA-04'],
    checks: ['ha.pg-replication', 'ha.pg-write-visible'],
    object: pg.primary,
    ...stopped(() => `${pg.primary}-postgresql`, async (l) => {
      const query = 'SELECT application_name, state FROM pg_stat_replication;\n';
      const rows = (await psql(l, labPaths(l.name), pgPrimary(l), query)).split('\n');
      return pg.standbys.every((s) => rows.includes(`${s}|streaming`));
    }),
  }];
}

/** Every dns check that asks each server; dns.catalog-names where the lab has a catalog. */
const dnsEveryServer = (lab: Lab) => [
  'dns.authoritative-soa', 'dns.forward-records', 'dns.reverse-records', 'dns.recursion-policy',
  'dns.secondary-serials', 'dns.secondary-propagation', ...(lab.expectedCatalog.length > 0 ? ['dns.catalog-names'] : []),
];

/** The checks of the APIs through the VIP, which must stay green while one controller's API is gone. */
const API_THROUGH_VIP = ['compute.keystone-token', 'compute.catalog-services', 'compute.token-accepted'];
/** A booted guest answers on its floating IP and reads its metadata (where the lab's guests have a data path). */
const GUEST_DATA_PATH = ['compute.guest-reachable', 'compute.metadata-service'];

/** Whether a lab has several control nodes behind its HAProxy, whose API backends a drill can thin out. */
const apisBehindHaproxy = (lab: Lab) =>
  haproxyNodes(lab).length > 0 && apiBackends(lab).some((b) => b.servers.length > 1) && !!lab.spec.services?.keystone;

function bindSecondaryStopped(lab: Lab): Drill[] {
  const secondary = lab.spec.dns?.servers.filter((s) => s.role === 'secondary').at(-1)?.node;
  if (!secondary) return [];
  return [{
    name: 'ha-dns-secondary-stopped',
    description: `BIND on secondary ${secondary} is stopped: it serves no zone and takes no change from the primary`,
    decisions: ['HA-02', 'HA-03', 'HA-10'],
    checks: dnsEveryServer(lab),
    object: secondary,
    // Serving is not enough: what the primary took while it was down (dns.secondary-propagation's record, added and
    // removed) raised the primary's serial, and a secondary restarted on its old copy stays behind until its SOA
    // refresh (up to an hour: seen live, 100 s and counting) or the next NOTIFY. Started without a copy, it transfers.
    ...stopped(() => `${secondary}-bind`, async (l) => {
      const serials = await Promise.all(dnsServers(l).flatMap((s) => labZones(l).map((z) => zoneSerial(s, z))));
      return serialMismatches(serials).length === 0;
    }, (l) => {
      const cache = `${labPaths(l.name).node(secondary, 'bind')}/cache`;
      for (const f of readdirSync(cache)) if (f.endsWith('.sec')) rmSync(`${cache}/${f}`);
    }),
  }];
}

/**
 * The first collector stopped: ha.log-delivery fails naming it. After the run, with the collector still down, the
 * drill proves the failover itself: numbered messages of the sender all reach the next collector in the spec's order.
 */
function logCollectorStopped(lab: Lab): Drill[] {
  const log = loggingOf(lab);
  const [first, next] = log?.collectors ?? [];
  if (!log || !first || !log.sender) return [];
  const sender = log.sender;
  return [{
    name: 'ha-log-collector-stopped',
    description: `rsyslog on the first log collector ${first.name} is stopped: ` +
      `${sender.name}'s messages no longer reach it` +
      (next && log.spec.failover !== false ? ` (they go to ${next.name})` : ''),
    decisions: ['HA-05'],
    checks: ['ha.log-delivery'],
    object: first.name,
    ...stopped(() => `${first.name}-rsyslog`, async (l) => (await state(l, `${first.name}-rsyslog`)) === 'RUNNING'),
    async after(l) {
      if (!next || log.spec.failover === false) return [];
      const tag = `sg-drill-${Date.now().toString(36)}`;
      const count = 20;
      const to = log.spec.localPort ? ['-d', '-n', '127.0.0.1', '-P', String(log.spec.localPort)] : [];
      for (let i = 1; i <= count; i++) {
        await inNode(l, sender, undefined, ['logger', ...to, '-t', tag, '--', `${tag} message ${i} of ${count}`]);
      }
      const file = senderFile(log, next, sender);
      let missing: number[] = [];
      const t0 = Date.now();
      do {
        await sleep(500);
        const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
        const seen = [...text.matchAll(new RegExp(`${tag} message (\\d+) of`, 'g'))].map((m) => Number(m[1]));
        missing = missingNumbers(seen, count);
      } while (missing.length > 0 && Date.now() - t0 < log.boundMs);
      return missing.length === 0 ? [] : [
        `failover: messages ${ranges(missing)} of ${count} from ${sender.name} ` +
        `not at the next collector ${next.name} ` +
        `(${file}) within ${log.boundMs / 1000} s while ${first.name} was stopped`,
      ];
    },
  }];
}

/** The last member of the RabbitMQ cluster stopped: the others see it not running; started again, it rejoins. */
function rabbitNodeStopped(lab: Lab): Drill[] {
  const r = rabbitOf(lab);
  const member = r?.spec.nodes.at(-1);
  if (!r || !member || r.nodes.length < 2) return [];
  return [{
    name: 'ha-rabbit-node-stopped',
    description: `RabbitMQ on cluster member ${member} is stopped: the other members see it not running`,
    decisions: ['HA-07'],
    checks: ['ha.rabbitmq-cluster'],
    // The members left still carry a message from one to the other, on a queue mirrored between them.
    passes: ['ha.rabbitmq-messages'],
    object: member,
    ...stopped(() => `${member}-rabbitmq`, async (l) => rabbitHealthy(l, r)),
  }];
}

const monitoringPassword = (lab: Lab) => labSecrets(labPaths(lab.name)).rabbitmq?.monitoring ?? 'unset';
const rabbitHealthy = async (lab: Lab, r: Rabbit) =>
  clusterFindings(r, await clusterViews(lab, r, monitoringPassword(lab))).length === 0;

/**
 * The spec's queue policy cleared (as `rabbitmqctl clear_policy` does, through the management API): the cluster
 * check finds it absent on every member, and a new queue is mirrored nowhere. Revert sets it again as the spec has it.
 */
function rabbitPolicyCleared(lab: Lab): Drill[] {
  const r = rabbitOf(lab);
  if (!r || r.nodes.length < 2) return [];
  const p = r.spec.policy;
  const path = `/api/policies/%2F/${encodeURIComponent(p.name)}`;
  const call = async (l: Lab, method: string, json?: unknown) => {
    const node = r.nodes[0]!;
    const auth = { user: r.user, password: monitoringPassword(l) };
    const reply = await send(l, managementApi(l, r, node), method, path, { auth, ...(json === undefined ? {} : { json }) });
    if (![200, 201, 204].includes(reply.status)) throw new Error(`${method} ${path} on ${node.name}: ${reply.status} ${reply.body}`);
  };
  return [{
    name: 'ha-rabbit-policy-cleared',
    description: `RabbitMQ's queue policy ${p.name} is cleared on vhost /: queues are no longer mirrored`,
    decisions: ['HA-07'],
    checks: ['ha.rabbitmq-cluster', 'ha.rabbitmq-messages'],
    object: p.name,
    inject: (l) => call(l, 'DELETE'),
    async revert(l) {
      await call(l, 'PUT', { pattern: p.pattern, definition: p.definition, priority: p.priority ?? 0, 'apply-to': p.applyTo ?? 'queues' });
      await until('the policy back on every member', 60_000, () => rabbitHealthy(l, r));
    },
  }];
}

/**
 * The last OVN member's NB database server stopped: the others keep a leader (two of three), the check names the
 * member that does not answer; started again, it catches up from the leader.
 */
function ovnMemberStopped(lab: Lab): Drill[] {
  const member = ovnClusterOf(lab)?.spec.nodes.at(-1);
  if (!member || (ovnClusterOf(lab)?.nodes.length ?? 0) < 2) return [];
  const ready = ovnRaft.ready!({ lab, paths: labPaths(lab.name), cloud: () => Promise.reject(new Error('no cloud')) });
  return [{
    name: 'ha-ovn-member-stopped',
    description: `OVN's northbound database server on RAFT member ${member} is stopped: the cluster has one member fewer`,
    // Where Neutron writes the NB, the network it makes is missing from that member's copy too.
    decisions: ['HA-08', ...(neutronOnCluster(lab) ? ['HA-15'] : [])],
    checks: ['ha.ovn-raft', ...(neutronOnCluster(lab) ? ['ha.neutron-nb'] : [])],
    object: member,
    ...stopped(() => `${member}-ovn-nb-raft`, async () => (await ready[0]!.probe()) === true),
  }];
}

/**
 * A controller lost whole: every program of one clustered node stopped at once, as a power loss would. The node is the
 * last that is a member of the spec's clusters (BIND secondaries, PostgreSQL standbys, RabbitMQ, OVN RAFT, log
 * collectors) and first in none of their orders, so the lab keeps its primaries and leaders.
 */
function controllerLost(lab: Lab): Drill[] {
  const s = lab.spec;
  const secondaries = s.dns?.servers.filter((x) => x.role === 'secondary').map((x) => x.node) ?? [];
  const members = [
    ...secondaries, ...(s.postgresql?.standbys ?? []), ...(s.rabbitmq?.nodes ?? []), ...(s.ovnCluster?.nodes ?? []),
    ...(s.logging?.collectors ?? []),
  ];
  const firsts = new Set([
    s.dns?.servers.find((x) => x.role === 'primary')?.node, s.postgresql?.primary, s.rabbitmq?.nodes[0],
    s.ovnCluster?.nodes[0], s.logging?.collectors[0], ...(s.staticRoutes ?? []).map((r) => r.node),
    ...lab.nodes.filter((n) => (s.staticRoutes ?? []).some((r) => nodeAddresses(n).includes(r.via))).map((n) => n.name),
  ]);
  const node = lab.nodes.map((n) => n.name).filter((n) => members.includes(n) && !firsts.has(n)).at(-1);
  if (!node) return [];
  const has = (list: readonly string[] | undefined) => list?.includes(node) ?? false;
  // A control node or a loadbalancer of several: its servers leave the API backends, or its HAProxy stops answering.
  const apis = apisBehindHaproxy(lab) && lab.nodes.some((n) => n.name === node && (n.roles.includes('control') ||
    n.roles.includes('loadbalancer')));
  const novaOn = novaControlNodes(lab).some((n) => n.name === node);
  // Storing an image commits to PostgreSQL. Where the commit waits for the lost standby (every synchronous one must
  // confirm: FIRST n) it never returns, so Glance's image check fails without naming the node, and the writes that
  // pile up take every API worker in the end (seen: Keystone's, with a dozen project creates). With a quorum the
  // others meet (ANY n), writes go on and the image check must pass.
  const glance = apis && !!s.services?.glance && !!s.postgresql?.openstack;
  const glanceWrites = glance && commitsStopWithout(lab, node);
  // Seed 004's promise for a lost controller: a server still boots (image, network, floating IP), answers on its
  // floating IP and reads its metadata, where the lab has a nova-compute node other than the lost one and commits go
  // on without it.
  const computes = lab.novaComputeNodes.map((n) => n.name);
  const boots = apis && !glanceWrites && !!s.services?.neutron && computes.length > 0 && !computes.includes(node);
  const serverChecks = boots
    ? ['compute.server-boot', ...(lab.lacks('guest-dataplane') ? [] : GUEST_DATA_PATH)]
    : [];
  const decisions = [
    ...(has(secondaries) ? ['HA-02', 'HA-03', 'HA-10'] : []), ...(has(s.postgresql?.standbys) ? ['HA-04'] : []),
    ...(has(s.rabbitmq?.nodes) ? ['HA-07'] : []), ...(has(s.ovnCluster?.nodes) ? ['HA-08'] : []),
    ...(apis ? ['HA-11'] : []), ...(novaOn ? ['HA-14'] : []), ...(glanceWrites ? ['HA-13'] : []),
    ...(has(s.ovnCluster?.nodes) && neutronOnCluster(lab) ? ['HA-15'] : []),
  ];
  const checks = [
    // Every dns check that asks each server, as with the secondary's BIND alone stopped (seen live).
    ...(has(secondaries) ? dnsEveryServer(lab) : []),
    ...(has(s.postgresql?.standbys) ? ['ha.pg-replication', 'ha.pg-write-visible'] : []),
    ...(has(s.rabbitmq?.nodes) ? ['ha.rabbitmq-cluster'] : []), ...(has(s.ovnCluster?.nodes) ? ['ha.ovn-raft'] : []),
    ...(has(s.ovnCluster?.nodes) && neutronOnCluster(lab) ? ['ha.neutron-nb', 'ha.ovn-northd'] : []),
    ...(apis ? ['ha.api-backends'] : []),
    ...(memcachedNodes(lab).some((n) => n.name === node) ? ['ha.memcached'] : []),
    ...(novaOn ? ['ha.nova-services'] : []),
    ...(glanceWrites ? ['compute.glance-image'] : []),
    // Its services' configuration cannot be read while it is gone: the check names it.
    ...(clientExpectations(lab).length > 0 && clientNodes(lab).some((n) => n.name === node)
      ? ['ha.cluster-clients'] : []),
  ];
  const programs = async (l: Lab) =>
    (await programStatus(labPaths(l.name))).filter((p) => p.program.startsWith(`${node}-`));
  return [{
    name: 'ha-controller-lost',
    description: `controller ${node} is lost whole: every program of it stopped at once` +
      (apis ? '; the APIs still answer through the VIP' : '') + (boots ? ', and a server still boots' : ''),
    decisions,
    checks,
    // With its APIs gone, the API checks through the VIP run too and must pass: the lab answers without it; so do
    // messages between the RabbitMQ members left.
    ...(apis ? { layers: [...new Set([...checks.map(layerOf), 'compute' as const])] } : {}),
    passes: [
      ...(apis ? API_THROUGH_VIP : []), ...(has(s.rabbitmq?.nodes) ? ['ha.rabbitmq-messages'] : []),
      ...(glance && !glanceWrites ? ['compute.glance-image'] : []), ...serverChecks,
    ],
    object: node,
    // Where commits wait for the lost standby, Nova's service list waits too (on a token its API's Keystone cannot
    // issue while its workers wait on their commits): it runs out of the check's time, naming HA-14.
    objectless: [...(glanceWrites ? ['compute.glance-image'] : []), ...(novaOn && glanceWrites ? ['ha.nova-services'] : [])],
    async inject(l) {
      const mine = (await programs(l)).map((p) => p.program);
      if (mine.length === 0) throw new Error(`no program of ${node} in the lab's supervisor`);
      await supervisorctl(l, 'stop', ...mine);
      const left = (await programs(l)).filter((p) => p.state !== 'STOPPED');
      if (left.length) throw new Error(`still not stopped: ${left.map((p) => `${p.program} ${p.state}`).join(', ')}`);
      if (novaOn) await novaSeesDown(l, node, ['nova-conductor', 'nova-scheduler']);
    },
    async revert(l) {
      const down = (await programs(l)).filter((p) => p.state !== 'RUNNING' && p.state !== 'STARTING');
      if (down.length === 0) return;
      // As the BIND secondary's own drill: started without its old copy, it transfers what changed while it was gone.
      if (has(secondaries)) {
        const cache = `${labPaths(l.name).node(node, 'bind')}/cache`;
        for (const f of existsSync(cache) ? readdirSync(cache) : []) if (f.endsWith('.sec')) rmSync(`${cache}/${f}`);
      }
      await supervisorctl(l, 'start', ...down.map((p) => p.program));
      await awaitReady(l, 180_000);
      // Its conductor and scheduler report again (and, the commits no longer waiting, the others' reports land).
      if (novaOn) await until('Nova reporting every control service up', 120_000, async () => (await novaFindings(l)).length === 0);
    },
  }];
}

/**
 * Keystone stopped on the last control node: HAProxy's health checks take its server out of keystone's backend on
 * every loadbalancer (ha.api-backends names it), and every API still answers through the VIP (the API checks pass).
 * Inject returns once each HAProxy has marked it down, as an operator would see it; revert waits until each has it UP.
 */
function apiBackendStopped(lab: Lab): Drill[] {
  if (!apisBehindHaproxy(lab)) return [];
  const node = apiBackends(lab).find((b) => b.service === 'keystone')?.servers.at(-1)?.name;
  if (!node) return [];
  const program = `${node}-keystone`;
  const paths = labPaths(lab.name);
  const down = async (l: Lab) => {
    const f = await apiBackendFindings(l, paths);
    const seen = (lb: string) => f.some((x) => x.startsWith(`${lb}: `) && x.includes(`server ${node} is DOWN`));
    return haproxyNodes(l).every((lb) => seen(lb.name));
  };
  const base = stopped(() => program, async (l) => (await apiBackendFindings(l, paths)).length === 0);
  return [{
    name: 'ha-api-backend-stopped',
    description: `Keystone on control node ${node} is stopped: HAProxy takes it out of keystone's backend, ` +
      'and every API still answers through the VIP',
    decisions: ['HA-11'],
    checks: ['ha.api-backends'],
    layers: ['ha', 'compute'],
    passes: API_THROUGH_VIP,
    object: node,
    async inject(l) {
      await base.inject(l);
      const lbs = haproxyNodes(l).map((n) => n.name).join(', ');
      await until(`HAProxy on ${lbs} marking ${node} DOWN`, 30_000, () => down(l));
    },
    revert: base.revert,
  }];
}

/**
 * memcached stopped on the last control node: ha.memcached names it; the APIs still answer (their cache clients mark
 * the server dead and use the others). Revert starts it and waits until it answers.
 */
function memcachedStopped(lab: Lab): Drill[] {
  const nodes = memcachedNodes(lab);
  const node = nodes.at(-1);
  if (!node || nodes.length < 2 || !apisBehindHaproxy(lab)) return [];
  return [{
    name: 'ha-memcached-stopped',
    description: `memcached on control node ${node.name} is stopped: the APIs cache on the others`,
    decisions: ['HA-11'],
    checks: ['ha.memcached'],
    layers: ['ha', 'compute'],
    passes: API_THROUGH_VIP,
    object: node.name,
    ...stopped(() => `${node.name}-memcached`, async () => memcachedFindings([await askVersion(node)]).length === 0),
  }];
}

/** The first spec static route deleted from its node: the far side no longer answers there; put back, it does. */
function staticRouteMissing(lab: Lab): Drill[] {
  const r = lab.spec.staticRoutes?.[0];
  if (!r) return [];
  return [{
    name: 'ha-static-route-missing',
    description: `the static route to ${r.destination} via ${r.via} is missing on ${r.node}`,
    decisions: ['HA-09'],
    checks: ['net.static-routes'],
    object: r.node,
    inject: (l) => removeRoute(l, r),
    revert: (l) => installRoute(l, r),
  }];
}

/**
 * nova-scheduler stopped on the last control node: once Nova marks it down (its reports stop; service_down_time),
 * ha.nova-services names it, and the APIs still answer through the VIP. Revert starts it and waits until it is up.
 */
function novaSchedulerStopped(lab: Lab): Drill[] {
  const nodes = novaControlNodes(lab);
  const node = nodes.at(-1);
  if (!node || nodes.length < 2 || !apisBehindHaproxy(lab)) return [];
  const base = stopped(() => `${node.name}-nova-scheduler`, async (l) => (await novaFindings(l)).length === 0);
  return [{
    name: 'ha-nova-scheduler-stopped',
    description: `nova-scheduler on control node ${node.name} is stopped: Nova reports it down, the APIs still answer`,
    decisions: ['HA-14'],
    checks: ['ha.nova-services'],
    layers: ['ha', 'compute'],
    passes: API_THROUGH_VIP,
    object: node.name,
    async inject(l) {
      await base.inject(l);
      await novaSeesDown(l, node.name, ['nova-scheduler']);
    },
    // Its first report after the start marks it up again (report_interval 10 s).
    revert: base.revert,
  }];
}

/**
 * Nova's metadata API stopped on the first control node, once the only one a guest's metadata came from: HAProxy takes
 * it out of nova_metadata_back (ha.api-backends names it), and a server still boots and takes its SSH key from the
 * others (compute.guest-reachable passes).
 */
function metadataApiStopped(lab: Lab): Drill[] {
  if (!metadataViaVip(lab) || !apisBehindHaproxy(lab)) return [];
  const node = lab.nodesWithRole('control').find((n) => n.apiAddress)!.name;
  const program = `${node}-nova-metadata-api`;
  const paths = labPaths(lab.name);
  const down = async (l: Lab) => {
    const f = await apiBackendFindings(l, paths);
    return haproxyNodes(l).every((lb) => f.some((x) => x.startsWith(`${lb.name}: backend nova_metadata_back`) &&
      x.includes(`server ${node} is DOWN`)));
  };
  const base = stopped(() => program, async (l) => (await apiBackendFindings(l, paths)).length === 0);
  return [{
    name: 'ha-metadata-api-stopped',
    description: `Nova's metadata API on control node ${node} is stopped: HAProxy takes it out of nova_metadata_back, ` +
      'and a server still boots and takes its key from the others',
    decisions: ['HA-14'],
    checks: ['ha.api-backends'],
    layers: ['ha', 'compute'],
    passes: [
      ...API_THROUGH_VIP, 'compute.server-boot',
      ...(lab.lacks('guest-dataplane') ? [] : GUEST_DATA_PATH),
    ],
    object: node,
    async inject(l) {
      await base.inject(l);
      await until(`HAProxy marking ${node} DOWN in nova_metadata_back`, 30_000, () => down(l));
    },
    revert: base.revert,
  }];
}

/**
 * The last control node's nova.conf names one RabbitMQ member in transport_url, the first: its Nova works until that
 * member is lost. ha.cluster-clients names the file and the members missing. The file alone is changed (a restart
 * would only make the running services match it); revert puts it back byte for byte.
 */
function clientOneRabbit(lab: Lab): Drill[] {
  const r = rabbitOf(lab);
  const node = novaControlNodes(lab).at(-1);
  if (!r || r.nodes.length < 2 || !node) return [];
  return [editDrill(
    {
      name: 'ha-client-one-rabbit',
      description: `nova.conf on ${node.name} names one RabbitMQ member (${r.nodes[0]!.name}) in transport_url`,
      decisions: ['HA-07'],
      checks: ['ha.cluster-clients'],
      passes: ['ha.rabbitmq-cluster'],
      object: node.name,
    },
    (l) => [{
      file: `${novaDir(labPaths(l.name), node)}/nova.conf`,
      // rabbit://user:password@first:port,user:password@second:port/ → rabbit://user:password@first:port/
      edit: (text: string) => text.replace(/^(transport_url = [a-z]+:\/\/[^,\n]+),[^\n]*?(\/[^,\n]*)$/m, '$1$2'),
    }],
    async () => undefined,
  )];
}

/**
 * ovn-northd stopped on the last RAFT member: ha.ovn-northd names it (were it the active one, another takes the SB
 * lock); the databases and Neutron's writes to them are untouched. Revert starts it and waits until it answers.
 */
function northdStopped(lab: Lab): Drill[] {
  const c = ovnClusterOf(lab);
  const member = c?.spec.nodes.at(-1);
  if (!c || !member || c.nodes.length < 2 || !neutronOnCluster(lab)) return [];
  const answers = async (l: Lab) => (await tryRun('/usr/bin/env', [
    `OVN_RUNDIR=${ovsRun(labPaths(l.name), l.node(member))}`, 'ovn-appctl', '-t', 'ovn-northd', 'status',
  ])).code === 0;
  return [{
    name: 'ha-northd-stopped',
    description: `ovn-northd on RAFT member ${member} is stopped: one fewer to take over the SB lock`,
    decisions: ['HA-08'],
    checks: ['ha.ovn-northd'],
    passes: ['ha.ovn-raft', 'ha.neutron-nb'],
    object: member,
    ...stopped(() => `${member}-ovn-northd`, answers),
  }];
}

/**
 * Neutron on every control node pointed at an NB of its own, as one left from before the cluster was built (a
 * standalone ovsdb-server, here on a unix socket in the first controller's /tmp): the networks it makes reach no RAFT
 * member (ha.neutron-nb) and its ml2_conf.ini names none (ha.cluster-clients), while the cluster stays whole
 * (ha.ovn-raft passes) and Neutron answers through HAProxy (ha.api-backends passes). Revert points Neutron at the
 * cluster again, then stops that server and removes its files.
 */
function neutronStandaloneNb(lab: Lab): Drill[] {
  const cluster = ovnClusterOf(lab);
  const controls = layout(lab).controls;
  if (!cluster || !neutronOnCluster(lab) || controls.length === 0) return [];
  const paths = labPaths(lab.name);
  const dir = join(paths.volatile(controls[0]!.name), 'sg-drill-standalone-nb');
  const file = (name: string) => join(dir, name);
  const asNeutron = (argv: string[]) =>
    run('/usr/bin/setpriv', ['--reuid=neutron', '--regid=neutron', '--init-groups', '--', ...argv]);
  const pid = () => (existsSync(file('nb.pid')) ? Number(readFileSync(file('nb.pid'), 'utf8').trim()) : undefined);
  async function startNb(): Promise<void> {
    if (alive(pid())) return;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await run('chown', ['neutron:neutron', dir]);
    await asNeutron(['ovsdb-tool', 'create', file('nb.db'), '/usr/share/ovn/ovn-nb.ovsschema']);
    await asNeutron(['ovsdb-server', file('nb.db'), `--remote=punix:${file('nb.sock')}`, `--pidfile=${file('nb.pid')}`,
      `--unixctl=${file('nb.ctl')}`, `--log-file=${file('nb.log')}`, '--detach', '--no-chdir']);
    // As `ovn-ctl start_northd` does for a new NB: its NB_Global row, which Neutron reads.
    await run('ovn-nbctl', [`--db=unix:${file('nb.sock')}`, 'init']);
  }
  async function stopNb(): Promise<void> {
    const p = pid();
    if (alive(p)) process.kill(p!, 'SIGTERM');
    await until('the standalone NB stopped', 10_000, async () => !alive(p));
    rmSync(dir, { recursive: true, force: true });
  }
  const neutronServing = async (l: Lab) => {
    await until('every API backend UP again', 180_000, async () => (await apiBackendFindings(l, paths)).length === 0);
    await until('Neutron answering through the VIP', 60_000, () =>
      withCloud(l, async (c) => (await c.get('network', '/v2.0/networks?limit=1'), true)));
  };
  const base = editDrill(
    {
      name: 'ha-neutron-standalone-nb',
      description: `neutron-server on ${controls.map((n) => n.name).join(', ')} writes a standalone NB ` +
        `(unix:${file('nb.sock')}), not the OVN RAFT cluster of ${cluster.spec.nodes.join(', ')}`,
      // Both notice: the switch is on no member, and ml2_conf.ini names no member of the cluster.
      decisions: ['HA-15', 'HA-08'],
      checks: ['ha.neutron-nb', 'ha.cluster-clients'],
      passes: ['ha.ovn-raft', 'ha.api-backends'],
      object: 'OVN',
    },
    (l) => layout(l).controls.map((n) => ({
      file: `${neutronDir(paths, n)}/ml2_conf.ini`,
      edit: (text: string) => text.replace(/^ovn_nb_connection = .*$/m, `ovn_nb_connection = unix:${file('nb.sock')}`),
    })),
    async (l) => {
      await supervisorctl(l, 'restart', ...layout(l).controls.map((n) => `${n.name}-neutron-server`));
      await neutronServing(l);
    },
  );
  return [{
    ...base,
    async inject(l) {
      await startNb();
      await base.inject(l);
    },
    async revert(l) {
      await base.revert(l);
      await stopNb();
    },
  }];
}

export function haDrillsFor(lab: Lab): Drill[] {
  return [
    ...pgStandbyStopped(lab), ...pgPrimaryStopped(lab), ...bindSecondaryStopped(lab), ...logCollectorStopped(lab),
    ...rabbitNodeStopped(lab), ...rabbitPolicyCleared(lab), ...ovnMemberStopped(lab), ...northdStopped(lab),
    ...clientOneRabbit(lab), ...neutronStandaloneNb(lab), ...staticRouteMissing(lab), ...apiBackendStopped(lab),
    ...memcachedStopped(lab), ...novaSchedulerStopped(lab), ...metadataApiStopped(lab), ...controllerLost(lab),
  ];
}
