import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadLab } from '../../helpers/lab/load.ts';
import { cephClientCommands, kollaCephFiles, renderBootstrapConf, renderHostSpecs, renderOsdSpec, renderServiceSpecs, bootstrapNode } from './ceph.ts';

const lab = loadLab('primary');
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>);

describe('cephadm rendering (primary lab)', () => {
  test('bootstrap on the MON node at its storage address, pool size and OSD memory from the spec', () => {
    expect(bootstrapNode(lab)).toMatchObject({ node: { name: 'node1' }, monIp: '10.0.3.101' });
    const conf = renderBootstrapConf(lab);
    expect(conf).toContain('osd_pool_default_size = 2');
    expect(conf).toContain('osd_memory_target = 1073741824');
    expect(conf).toContain('osd_memory_target_autotune = false');
  });

  test('host list: every Ceph node under its exact host name; MON/MGR pinned where the spec puts them', () => {
    expect(docs(renderHostSpecs(lab)).map((d) => [d.hostname, d.addr])).toEqual([['node1', '10.0.3.101'], ['node2', '10.0.3.102'], ['node3', '10.0.3.103']]);
    expect(docs(renderServiceSpecs(lab))).toEqual([
      { service_type: 'mon', placement: { hosts: ['node1'] } },
      { service_type: 'mgr', placement: { hosts: ['node1'] } },
    ]);
  });

  test("OSD spec: each OSD node's raw disk by its guest device", () => {
    expect(docs(renderOsdSpec(lab)).map((d) => [(d.placement as { hosts: string[] }).hosts[0], (d.spec as { data_devices: { paths: string[] } }).data_devices.paths])).toEqual([
      ['node2', ['/dev/vdb']],
      ['node3', ['/dev/vdc']],
    ]);
  });

  test("client keys with RBD caps on their pools; files where Kolla's external-Ceph guide wants them", () => {
    const cinder = cephClientCommands(lab).find((c) => c.client === 'client.cinder')!;
    expect(cinder.argv).toContain('profile rbd pool=volumes, profile rbd pool=vms, profile rbd pool=images');
    expect(kollaCephFiles(lab).map((f) => f.to)).toEqual([
      'config/glance/ceph.conf', 'config/glance/ceph.client.glance.keyring', 'config/cinder/ceph.conf',
      'config/cinder/cinder-volume/ceph.client.cinder.keyring', 'config/cinder/cinder-backup/ceph.client.cinder.keyring',
      'config/cinder/cinder-backup/ceph.client.cinder-backup.keyring', 'config/nova/ceph.conf', 'config/nova/ceph.client.cinder.keyring',
    ]);
  });
});
