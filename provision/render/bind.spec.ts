import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { renderZones } from '../local/infra/bind.ts';
import { renderBind, renderNamedLocal, renderNamedOptions } from './bind.ts';

const lab = loadLab('primary');
const node1 = lab.node('node1');
const dir = mkdtempSync(join(tmpdir(), 'sg-bind-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('BIND rendering (primary lab)', () => {
  test('every zone passes named-checkzone and holds exactly the records the dns layer derives', async () => {
    const zones = renderZones(lab, node1);
    for (const z of zones) {
      const file = join(dir, z.file);
      writeFileSync(file, z.content);
      const r = await execa('named-checkzone', [z.zone, file], { reject: false, all: true });
      expect(r.exitCode, `${z.zone}: ${r.all}`).toBe(0);
    }
    const forward = zones.find((z) => z.zone === 'openstack.local')!.content;
    for (const rec of lab.dnsRecords) expect(forward).toContain(`${rec.name.replace(/\.openstack\.local$/, '')} IN A ${rec.address}`);
    const ptrs = zones.filter((z) => z.zone.endsWith('in-addr.arpa')).map((z) => z.content).join('');
    for (const p of lab.ptrRecords) expect(ptrs).toContain(`IN PTR ${p.name}.`);
  });

  test('the rendered config passes named-checkconf -z (zones loaded), as Ubuntu includes it', async () => {
    const conf = join(dir, 'etc');
    mkdirSync(join(conf, 'zones'), { recursive: true });
    mkdirSync(join(dir, 'cache'), { recursive: true });
    writeFileSync(join(conf, 'named.conf.options'), renderNamedOptions(lab, node1, conf, join(dir, 'cache')));
    writeFileSync(join(conf, 'named.conf.local'), renderNamedLocal(lab, node1, conf));
    for (const z of renderZones(lab, node1)) writeFileSync(join(conf, 'zones', z.file), z.content);
    writeFileSync(join(conf, 'named.conf'), `include "${conf}/named.conf.options";\ninclude "${conf}/named.conf.local";\n`);
    const r = await execa('named-checkconf', ['-z', join(conf, 'named.conf')], { reject: false, all: true });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/zone openstack\.local\/IN: loaded serial/);
  });

  test('BIND listens on the node addresses and recurses only for the networks the spec names', () => {
    const options = renderNamedOptions(lab, node1);
    expect(options).toContain('listen-on port 53 { 192.168.105.101; 10.0.1.101; 10.0.2.201; 10.0.3.101; 127.0.0.1; };');
    expect(options).toContain('acl lab_recursion { 192.168.105.0/24; 10.0.1.0/24; 10.0.3.0/24; };');
    expect(renderBind(lab).map((f) => f.path)).toEqual([
      'bind/node1/named.conf.options', 'bind/node1/named.conf.local',
      ...renderZones(lab, node1).map((z) => `bind/node1/zones/${z.file}`),
    ]);
  });
});
