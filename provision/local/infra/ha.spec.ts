import { describe, expect, it } from 'vitest';
import { loadLab } from '../../../helpers/lab/load.ts';
import { labPaths } from '../paths.ts';
import { renderZones } from './bind.ts';
import { haproxyRoutes } from './loadbalancer.ts';
import { renderPgHba, renderPostgresqlConf, synchronousStandbyNames } from './postgresql.ts';
import { forwardTargets, renderRsyslog } from './rsyslog.ts';

const lab = loadLab('ha-infra');
const paths = labPaths(lab.name, '/state');

describe('PostgreSQL of ha-infra', () => {
  it('makes the primary wait for one of its two standbys (quorum 1), each quoted (hyphens)', () => {
    expect(synchronousStandbyNames(['controller-2', 'controller-3'])).toBe('FIRST 2 ("controller-2", "controller-3")');
    const conf = renderPostgresqlConf(lab, paths, lab.node('controller-1'));
    expect(conf).toContain(`synchronous_standby_names = 'ANY 1 ("controller-2", "controller-3")'`);
    expect(conf).not.toContain('primary_conninfo');
  });

  it('streams each standby from the primary with a passfile, never a password in the conninfo', () => {
    const conf = renderPostgresqlConf(lab, paths, lab.node('controller-3'));
    expect(conf).toMatch(/primary_conninfo = 'host=172\.27\.40\.11 port=5432 user=replicator application_name=controller-3 passfile=\S+pgpass'/);
    expect(renderPgHba(lab, lab.node('controller-1'))).toContain('host replication replicator 172.27.40.13/32 scram-sha-256');
  });

  it('puts the database VIP in front of the primary only, as TCP', () => {
    const { frontends, backends } = haproxyRoutes(lab);
    expect(frontends.find((f) => f.name === 'postgresql_database')).toMatchObject({ port: 5432, tcp: true });
    expect(backends.find((b) => b.name === 'postgresql_back')?.servers.map((s) => s.name)).toEqual(['controller-1']);
  });
});

describe("Nova's metadata API of ha-infra", () => {
  it('is a backend of every controller behind the API VIP with TLS; one controller keeps its own (embedded)', () => {
    const { frontends, backends } = haproxyRoutes(lab);
    expect(frontends.find((f) => f.backend === 'nova_metadata_back')).toMatchObject({ port: 8775, tls: true });
    expect(frontends.find((f) => f.backend === 'nova_metadata_back')?.vip.address).toBe('172.27.40.10');
    expect(backends.find((b) => b.name === 'nova_metadata_back')?.servers.map((s) => s.name))
      .toEqual(['controller-1', 'controller-2', 'controller-3']);
    expect(haproxyRoutes(loadLab('embedded')).backends.map((b) => b.name)).not.toContain('nova_metadata_back');
  });
});

describe('rsyslog of ha-infra', () => {
  it('forwards in the spec order, the next one only while the one before is suspended', () => {
    expect(forwardTargets(lab, lab.node('compute-1')).map((n) => n.name)).toEqual(['controller-1', 'controller-2', 'controller-3']);
    expect(forwardTargets(lab, lab.node('controller-2')).map((n) => n.name)).toEqual(['controller-1', 'controller-3']);
    expect(forwardTargets(lab, lab.node('controller-1'))).toEqual([]);
    const conf = renderRsyslog(lab, paths, lab.node('compute-1'));
    expect(conf.match(/execOnlyWhenPreviousIsSuspended="on"/g)).toHaveLength(2);
    expect(conf).toContain('queue.saveOnShutdown="on"');
  });

  it('writes one file per sender on each collector', () => {
    expect(renderRsyslog(lab, paths, lab.node('controller-2'))).toContain('/var/log/stackgate/ha-infra/controller-2/%FROMHOST-IP%.log');
  });
});

it('names every DNS server in NS, with the primary as the SOA MNAME', () => {
  const zone = renderZones(lab, lab.node('controller-1'))[0]!.content;
  expect(zone).toMatch(/SOA controller-1\.ha\.test\./);
  expect(zone.match(/IN NS/g)).toHaveLength(3);
});
