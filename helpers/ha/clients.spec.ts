import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadLab } from '../lab/load.ts';
import {
  clientExpectations, clientFindings, hostOf, parseClientSettings, settingsAwk, type ClientSetting,
} from './clients.ts';

const dir = mkdtempSync(join(tmpdir(), 'sg-clients-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a service's settings, read on the node", () => {
  it('prints the hosts of the keys it reads, never a user or password', () => {
    const file = join(dir, 'nova.conf');
    writeFileSync(file, [
      '[DEFAULT]',
      'transport_url = rabbit://openstack:s3cr3t@10.0.0.11:5672,openstack:s3cr3t@10.0.0.12:5672/',
      'my_ip = 10.0.0.11',
      '[api_database]',
      'connection = postgresql+psycopg2://nova:p%40ss@db.lab.test:5432/nova_api',
      '[cache]',
      '  memcache_servers = 10.0.0.11:11211 , 10.0.0.12:11211',
      '[ovn]',
      'ovn_nb_connection = tcp:10.0.0.11:6641,ssl:10.0.0.12:6641',
      '[glance]',
      'connection = http://ignored',
      '',
    ].join('\n'));
    const out = execFileSync('awk', [settingsAwk(), file], { encoding: 'utf8' });
    expect(out).not.toMatch(/s3cr3t|p%40ss|openstack:|nova:/);
    expect(parseClientSettings(out)).toEqual([
      { file, section: 'DEFAULT', key: 'transport_url', hosts: ['10.0.0.11:5672', '10.0.0.12:5672'] },
      { file, section: 'api_database', key: 'connection', hosts: ['db.lab.test:5432'] },
      { file, section: 'cache', key: 'memcache_servers', hosts: ['10.0.0.11:11211', '10.0.0.12:11211'] },
      { file, section: 'ovn', key: 'ovn_nb_connection', hosts: ['tcp:10.0.0.11:6641', 'ssl:10.0.0.12:6641'] },
    ]);
  });

  it('takes the host out of each form a client names a server in', () => {
    expect(['10.0.0.1:5672', 'tcp:10.0.0.1:6641', 'inet:[10.0.0.1]:11211', '[fd00::1]:11211', ' db.lab.test:5432']
      .map(hostOf)).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.1', 'fd00::1', 'db.lab.test']);
  });
});

describe("clients of ha-infra's clusters", () => {
  const lab = loadLab('ha-infra');
  const expected = clientExpectations(lab);
  const setting = (section: string, key: string, hosts: string[]): ClientSetting => ({ file: 'nova.conf', section, key, hosts });
  const all = (port: number) => ['172.27.40.11', '172.27.40.12', '172.27.40.13'].map((a) => `${a}:${port}`);

  it('expects every RabbitMQ, memcached and OVN member, and the database VIP', () => {
    expect(expected.map((e) => e.what)).toEqual([
      'RabbitMQ members', 'memcached servers', 'OVN RAFT members', 'the database VIP',
    ]);
    expect(clientFindings('controller-2', [
      setting('DEFAULT', 'transport_url', all(5672)), setting('cache', 'memcache_servers', all(11211)),
      setting('ovn', 'ovn_sb_connection', all(6642).map((h) => `tcp:${h}`)),
      setting('database', 'connection', ['172.27.40.9:5432']), setting('api_database', 'connection', ['db.ha.test:5432']),
    ], expected)).toEqual([]);
  });

  it('names the file, section and key that miss a member or go around the VIP', () => {
    expect(clientFindings('controller-2', [
      setting('DEFAULT', 'transport_url', ['172.27.40.11:5672']),
      setting('keystone_authtoken', 'memcached_servers', ['controller-1:11211', 'controller-2.ha.test:11211']),
      setting('database', 'connection', ['172.27.40.11:5432']),
      setting('DEFAULT', 'transport_url', ['user:pa(ss']),
    ], expected)).toEqual([
      'controller-2: nova.conf [DEFAULT] transport_url names 172.27.40.11:5672: missing RabbitMQ members ' +
        'controller-2 (172.27.40.12), controller-3 (172.27.40.13)',
      'controller-2: nova.conf [keystone_authtoken] memcached_servers names controller-1:11211, ' +
        'controller-2.ha.test:11211: missing memcached servers controller-3 (172.27.40.13)',
      'controller-2: nova.conf [database] connection goes to 172.27.40.11:5432, not the database VIP 172.27.40.9 / db.ha.test',
      'controller-2: nova.conf [DEFAULT] transport_url names (unparsed): missing RabbitMQ members ' +
        'controller-1 (172.27.40.11), controller-2 (172.27.40.12), controller-3 (172.27.40.13)',
    ]);
  });

  it('expects nothing of a lab without clusters', () => {
    expect(clientExpectations(loadLab('embedded'))).toEqual([]);
  });
});
