import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { Cloud } from '../../helpers/openstack/cloud.ts';
import { COMPONENTS } from './components.ts';
import { plan, readiness } from './orchestrator.ts';
import { labPaths } from './paths.ts';

const noCloud = (): Promise<Cloud> => Promise.reject(new Error('no cloud in a unit test'));
const whats = (name: string) => {
  const lab = loadLab(name);
  return readiness({ lab, paths: labPaths(lab.name, '/state'), cloud: noCloud }, plan(lab, COMPONENTS)).map((c) => c.what);
};

describe('what `lab up` waits for is what the spec has', () => {
  test('the embedded lab: OVN agents, nova-compute in Placement, Cinder, the guest image, Ceph, Prometheus, Horizon', () => {
    expect(whats('embedded').sort()).toEqual([
      'HAProxy on every loadbalancer: each control node UP in every API backend',
      'every API server accepts a token on its own address',
      'Neutron reports every OVN agent alive',
      'every nova-compute service up and its hypervisor in Placement',
      'a cinder-volume service up for every Cinder backend of the phase',
      'guest image stackgate-guest active in Glance',
      'Ceph HEALTH_OK',
      'every expected Prometheus target scraped and up',
      "Horizon's login page at https://public.openstack.local",
    ].sort());
  });

  test('a lab without a cloud waits for its Prometheus targets only', () => {
    expect(whats('embedded-infra')).toEqual(['every expected Prometheus target scraped and up']);
  });

  test('a lab with Keystone alone and no monitoring waits for its API backends only', () => {
    const other = join(fileURLToPath(new URL('.', import.meta.url)), 'testdata/other/lab.yaml');
    expect(whats(other).filter((w) => !w.includes('Prometheus'))).toEqual([
      'HAProxy on every loadbalancer: each control node UP in every API backend',
      'every API server accepts a token on its own address',
    ]);
  });

  test('ha-infra: its PostgreSQL standbys, OVN RAFT and the API backends of its three controllers', () => {
    expect(whats('ha-infra')).toContain('HAProxy on every loadbalancer: each control node UP in every API backend');
    expect(whats('ha-infra')).toContain('every API server accepts a token on its own address');
  });

  test('a spec without credentials (no check calls an API with a token) holds the token condition at once', async () => {
    const other = loadLab(join(fileURLToPath(new URL('.', import.meta.url)), 'testdata/other/lab.yaml'));
    const cloud = () => Cloud.connect(other);
    const conditions = readiness({ lab: other, paths: labPaths(other.name, '/state'), cloud }, plan(other, COMPONENTS));
    const tokens = conditions.find((c) => c.what === 'every API server accepts a token on its own address');
    expect(await tokens!.probe()).toBe(true);
  });
});
