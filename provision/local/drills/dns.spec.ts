import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadLab } from '../../../helpers/lab/load.ts';
import type { Lab } from '../../../helpers/lab/model.ts';
import { labPaths } from '../paths.ts';
import { bind } from '../infra/bind.ts';
import { dnsDrills, dnsFileDrills } from './dns.ts';

const embedded = loadLab('embedded');
const other = loadLab(join(fileURLToPath(new URL('..', import.meta.url)), 'testdata/other/lab.yaml'));

/** The content the local provider renders for a file of the lab (the good state a drill starts from). */
function rendered(lab: Lab, path: string): string {
  const f = bind.render!({ lab, paths: labPaths(lab.name) }).flatMap((d) => d.files).find((x) => x.path === path);
  if (!f) throw new Error(`the local provider renders no ${path}`);
  return f.content;
}

describe('dns fault drills (rendered files only; the live lab is not touched)', () => {
  test('every check of the dns layer has a drill, and every drill names checks, decisions and an object', () => {
    for (const d of dnsDrills) expect(d.checks.length * d.decisions.length * d.object.length, d.name).toBeGreaterThan(0);
    expect(new Set(dnsDrills.flatMap((d) => d.checks))).toEqual(
      new Set(['dns.authoritative-soa', 'dns.forward-records', 'dns.reverse-records', 'dns.catalog-names', 'dns.recursion-policy']),
    );
  });

  test.each([embedded, other].flatMap((lab) => dnsFileDrills.map((d) => [lab.name, d.name, lab, d] as const)))('%s: %s changes the file it targets', (_l, _d, lab, drill) => {
    const { file, edit } = drill.target(lab);
    const good = rendered(lab, file);
    const faulty = edit(good);
    expect(faulty).not.toBe(good);
    expect(edit(good)).toBe(faulty); // the same fault every time: inject is idempotent
  });

  test('the embedded lab: each drill touches the object it names', () => {
    const diff = (name: string) => {
      const d = dnsFileDrills.find((x) => x.name === name)!;
      const { file, edit } = d.target(embedded);
      const good = rendered(embedded, file).split('\n');
      const faulty = edit(good.join('\n')).split('\n');
      return { removed: good.filter((l) => !faulty.includes(l)), added: faulty.filter((l) => !good.includes(l)) };
    };
    expect(diff('dns-ptr-missing').removed).toEqual(['103 IN PTR node3.openstack.local. ; node node3']);
    expect(diff('dns-a-missing').removed).toEqual(['node3 IN A 192.168.105.103 ; node node3']);
    expect(diff('dns-a-extra').added).toEqual(['node3 IN A 192.168.105.254']);
    expect(diff('dns-catalog-wrong-vip').added).toEqual(['public IN A 192.168.105.250 ; VIP external']);
    expect(diff('dns-lame-ns').added).toEqual(['@ IN NS node3.openstack.local.']);
    expect(diff('dns-recursion-open').added).toEqual(['  allow-recursion { any; };', '  allow-query-cache { any; };']);
    expect(diff('dns-reverse-zone-unserved').removed).toEqual([expect.stringMatching(/^zone "105\.168\.192\.in-addr\.arpa" \{ type primary;/)]);
  });
});
