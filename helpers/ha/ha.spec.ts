import { describe, expect, it } from 'vitest';
import { nsupdateScript } from '../dns/propagation.ts';
import { loadLab } from '../lab/load.ts';
import { logCommand, loggingOf, missingNumbers, ranges, senderFile } from './logging.ts';
import { pgOf, psqlCommand, recoveryFindings, replicationFindings, runTable } from './postgres.ts';

const lab = loadLab('ha-infra');
const pg = pgOf(lab)!;
const row = (name: string, state = 'streaming', syncState = 'sync', replayLagSeconds = 0) => ({ name, state, syncState, replayLagSeconds });

describe('PostgreSQL replication findings', () => {
  it('agree when every standby streams synchronously within the lag bound', () => {
    expect(replicationFindings(pg, [row('controller-2'), row('controller-3')])).toEqual([]);
  });

  it('name the absent, the asynchronous and the lagging standby with what was seen', () => {
    expect(replicationFindings(pg, [row('controller-2', 'streaming', 'async', 7.5)])).toEqual([
      'standby controller-2 in pg_stat_replication on primary controller-1: sync_state async, expected sync (postgresql.synchronous)',
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
