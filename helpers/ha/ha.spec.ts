import { describe, expect, it } from 'vitest';
import { nsupdateScript } from '../dns/propagation.ts';
import { loadLab } from '../lab/load.ts';
import { logCommand, loggingOf, missingNumbers, ranges, senderFile } from './logging.ts';
import {
  northdFindings, northdStatusCommand, OVN_DBS, ovnClusterOf, raftFindings, switchFindings, type OvnDb,
} from './ovn.ts';
import { pgOf, psqlCommand, recoveryFindings, replicationFindings, runTable } from './postgres.ts';
import { clusterFindings, expectedMirrors, PROBE_QUEUE_PREFIX, rabbitOf } from './rabbitmq.ts';

const lab = loadLab('ha-infra');
const pg = pgOf(lab)!;
const row = (name: string, state = 'streaming', syncState = 'quorum', replayLagSeconds = 0) => ({ name, state, syncState, replayLagSeconds });

describe('PostgreSQL replication findings', () => {
  it('agree when every standby streams synchronously within the lag bound', () => {
    expect(replicationFindings(pg, [row('controller-2'), row('controller-3')])).toEqual([]);
  });

  it('want sync_state sync where every synchronous standby confirms (no quorum), quorum where the spec gives one', () => {
    const all = { ...pg, quorum: undefined };
    expect(replicationFindings(all, [row('controller-2', 'streaming', 'sync'), row('controller-3', 'streaming', 'sync')]))
      .toEqual([]);
    expect(replicationFindings(pg, [row('controller-2', 'streaming', 'sync'), row('controller-3')])).toEqual([
      'standby controller-2 in pg_stat_replication on primary controller-1: sync_state sync, expected quorum ' +
        '(postgresql.synchronous, quorum 1)',
    ]);
  });

  it('name the absent, the asynchronous and the lagging standby with what was seen', () => {
    expect(replicationFindings(pg, [row('controller-2', 'streaming', 'async', 7.5)])).toEqual([
      'standby controller-2 in pg_stat_replication on primary controller-1: sync_state async, expected quorum (postgresql.synchronous, quorum 1)',
      'standby controller-2 in pg_stat_replication on primary controller-1: replay lag 7.500 s, bound 5 s',
      'standby controller-3 in pg_stat_replication on primary controller-1: absent (seen: controller-2 streaming/async)',
    ]);
  });

  it('want exactly the spec primary out of recovery', () => {
    expect(recoveryFindings(pg, new Map([['controller-1', 'f'], ['controller-2', 't']]))).toEqual([]);
    expect(recoveryFindings(pg, new Map([['controller-1', 'f'], ['controller-2', 'f']]))[0]).toContain('nodes not in recovery: controller-1, controller-2');
  });

  it('keeps the password off the command line and the table name plain', () => {
    const cmd = psqlCommand('172.27.40.9', pg, "SELECT 'x'");
    expect(cmd).toMatch(/^IFS= read -r PGPASSWORD && export PGPASSWORD && timeout -s INT/);
    expect(cmd).toContain("-c 'SELECT '\"'\"'x'\"'\"''");
    expect(runTable('ab-12', 'ha')).toBe('sg_ab_12_ha');
  });
});

describe('log delivery', () => {
  const log = loggingOf(lab)!;

  it('sends from the compute node and looks in the first collector\'s file of that sender', () => {
    expect(log.sender?.name).toBe('compute-1');
    expect(senderFile(log, log.collectors[0]!, log.sender!)).toBe('/var/log/stackgate/ha-infra/controller-1/172.27.40.21.log');
    expect(logCommand(log, 'sg-x', 3)).toContain('logger -d -n 127.0.0.1 -P 514 -t sg-x --');
  });

  it('names the missing numbers as ranges', () => {
    expect(ranges(missingNumbers([1, 2, 5, 9], 10))).toBe('3-4, 6-8, 10');
    expect(ranges(missingNumbers([1, 2, 3], 3))).toBe('');
  });
});

it('adds and deletes one TXT record through the primary\'s loopback', () => {
  expect(nsupdateScript('add', 'sg-x.ha.test', '42')).toBe('server 127.0.0.1\nupdate add sg-x.ha.test. 60 TXT "42"\nsend\n');
  expect(nsupdateScript('delete', 'sg-x.ha.test', '42')).toBe('server 127.0.0.1\nupdate delete sg-x.ha.test. TXT\nsend\n');
});

describe('RabbitMQ cluster findings', () => {
  const r = rabbitOf(lab)!;
  const names = ['rabbit@172.27.40.11', 'rabbit@172.27.40.12', 'rabbit@172.27.40.13'];
  const policy = { name: 'ha-all', pattern: r.spec.policy.pattern, 'apply-to': 'queues', priority: 0,
    definition: { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' } };
  const view = (node: string, running = [true, true, true]) => ({
    node, nodes: names.map((name, i) => ({ name, running: running[i]!, partitions: [] })), policies: [policy],
  });

  it('agree when every member sees all three running and the policy as the spec writes it', () => {
    expect(clusterFindings(r, r.spec.nodes.map((n) => view(n)))).toEqual([]);
  });

  it('name the member asked and the member stopped, unreachable, or with another policy', () => {
    const views = [
      view('controller-1', [true, true, false]),
      { ...view('controller-2'), policies: [{ ...policy, definition: { 'ha-mode': 'exactly' } }] },
      { node: 'controller-3', error: 'RabbitMQ management on controller-3 unreachable: connect ECONNREFUSED' },
    ];
    expect(clusterFindings(r, views)).toEqual([
      'controller-1 sees member controller-3 (rabbit@172.27.40.13) not running',
      'controller-2: policy ha-all has definition {"ha-mode":"exactly"}, the spec {"ha-mode":"all","ha-sync-mode":"automatic"}',
      'controller-3: RabbitMQ management on controller-3 unreachable: connect ECONNREFUSED',
    ]);
  });
});

describe('RabbitMQ probe queue', () => {
  const r = rabbitOf(lab)!;
  const [a, b, c] = ['rabbit@172.27.40.11', 'rabbit@172.27.40.12', 'rabbit@172.27.40.13'];

  it("is a queue the spec's policy mirrors", () => {
    expect(new RegExp(r.spec.policy.pattern).test(`${PROBE_QUEUE_PREFIX}0abc-1`)).toBe(true);
  });

  it('must be mirrored on every other running member under ha-mode all; a stopped member is not expected', () => {
    expect(expectedMirrors(r.spec.policy, a, [a, b, c])).toEqual([b, c]);
    expect(expectedMirrors(r.spec.policy, a, [a, b])).toEqual([b]);
  });

  it('holds exactly N to N - 1 mirrors only where no more members run; says nothing of other modes', () => {
    const exactly = (n: number) => ({ ...r.spec.policy, definition: { 'ha-mode': 'exactly', 'ha-params': n } });
    expect(expectedMirrors(exactly(2), a, [a, b, c])).toBeUndefined();
    expect(expectedMirrors(exactly(3), a, [a, b, c])).toEqual([b, c]);
    expect(expectedMirrors({ ...r.spec.policy, definition: { 'queue-mode': 'lazy' } }, a, [a, b, c])).toBeUndefined();
  });
});

describe('OVN RAFT findings', () => {
  const c = ovnClusterOf(lab)!;
  const state = (node: string, db: OvnDb, leader = false, cid = 'c1') =>
    ({ node, db, model: 'clustered', connected: true, leader, cid, sid: node });
  const healthy = OVN_DBS.flatMap((db) => c.spec.nodes.map((n, i) => state(n, db, i === 0)));

  it('agree when each database has every member connected in one cluster with one leader', () => {
    expect(raftFindings(c, healthy)).toEqual([]);
  });

  it('name a member that does not answer, a second cluster and a missing leader', () => {
    const states = [
      state('controller-1', 'OVN_Northbound', true), state('controller-2', 'OVN_Northbound'),
      { node: 'controller-3', db: 'OVN_Northbound' as const, error: 'ovsdb-client: failed to connect' },
      state('controller-1', 'OVN_Southbound'), state('controller-2', 'OVN_Southbound'),
      state('controller-3', 'OVN_Southbound', false, 'c2'),
    ];
    expect(raftFindings(c, states)).toEqual([
      'OVN_Northbound member controller-3: ovsdb-client: failed to connect',
      'OVN_Southbound members in 2 clusters: controller-1 c1, controller-2 c1, controller-3 c2',
      'OVN_Southbound has 0 leaders (none) among controller-1, controller-2, controller-3',
    ]);
  });
});

describe("a Neutron network in every RAFT member's NB", () => {
  it('names each member whose copy lacks the switch, with what it said', () => {
    const id = '0b5e1f9c-3a52-4c5e-9d7b-1f2e3d4c5b6a';
    expect(switchFindings(id, [{ node: 'controller-1', seen: 'present' }])).toEqual([]);
    expect(switchFindings(id, [
      { node: 'controller-1', seen: 'present' },
      { node: 'controller-2', seen: 'absent' },
      { node: 'controller-3', seen: 'not read (ovsdb-client to tcp:172.27.40.13:6641: Connection refused)' },
    ])).toEqual([
      `member controller-2: logical switch neutron-${id} absent`,
      `member controller-3: logical switch neutron-${id} not read (ovsdb-client to tcp:172.27.40.13:6641: Connection refused)`,
    ]);
  });

  it('says Neutron writes another NB when the switch is on no member that answered', () => {
    const id = '0b5e1f9c-3a52-4c5e-9d7b-1f2e3d4c5b6a';
    const absent = (node: string) => ({ node, seen: 'absent' });
    const refused = {
      node: 'controller-3', seen: 'not read (ovsdb-client to tcp:172.27.40.13:6641: Connection refused)',
    };
    const findings = switchFindings(id, [absent('controller-1'), absent('controller-2'), refused]);
    expect(findings[0]).toMatch(/on no member of the cluster \(absent on every member: controller-1, controller-2\)/);
    expect(findings[0]).toContain('ovn_nb_connection');
    expect(findings.slice(1)).toEqual([`member controller-3: logical switch neutron-${id} ${refused.seen}`]);
    // Nothing read at all is no evidence of another NB: each member is named with its own error.
    expect(switchFindings(id, [refused])).toEqual(findings.slice(1));
  });
});

describe('ovn-northd on every RAFT member', () => {
  const up = (node: string, status: string) => ({ node, status });
  it('passes one active and the others standing by', () => {
    expect(northdFindings([up('c1', 'standby'), up('c2', 'active'), up('c3', 'standby')])).toEqual([]);
  });

  it('names a member whose northd does not answer or is paused, and a count of active ones other than one', () => {
    const gone = { node: 'c3', error: 'ovn-appctl: cannot read pidfile "/run/ovn/ovn-northd.pid" (No such file)' };
    expect(northdFindings([up('c1', 'active'), up('c2', 'standby'), gone])).toEqual([
      `member c3: ovn-northd does not answer (${gone.error})`,
    ]);
    expect(northdFindings([up('c1', 'standby'), up('c2', 'paused'), gone])).toEqual([
      'member c2: ovn-northd paused',
      `member c3: ovn-northd does not answer (${gone.error})`,
      'no ovn-northd active (c1 standby, c2 paused, c3 no answer): nothing translates the NB into the SB',
    ]);
    expect(northdFindings([up('c1', 'active'), up('c2', 'active')])).toEqual([
      '2 ovn-northd active (c1 active, c2 active): each writes the SB',
    ]);
  });

  it("asks Kolla's northd in its container at its control socket, a packaged one by name", () => {
    const kolla = { deployer: { kind: 'kolla' } } as unknown as Parameters<typeof northdStatusCommand>[0];
    const packages = { deployer: { kind: 'packages' } } as unknown as Parameters<typeof northdStatusCommand>[0];
    expect(northdStatusCommand(kolla)).toBe('docker exec ovn_northd ovn-appctl -t /run/ovn/ovn-northd.ctl status');
    expect(northdStatusCommand(packages)).toBe('ovn-appctl -t ovn-northd status');
  });
});
