import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDecisions } from '../../../helpers/gate/decisions.ts';
import { loadLab, repoRoot } from '../../../helpers/lab/load.ts';
import { drillCatalogue } from './index.ts';
import { tlsDrills } from './tls.ts';

describe('tls drills (metadata; the live inject/revert cycle is run by hand under the fault lock)', () => {
  const lab = loadLab('embedded');
  const suites = readdirSync(join(repoRoot, 'suites/tls')).map((f) => readFileSync(join(repoRoot, 'suites/tls', f), 'utf8')).join('\n');
  const checks = new Set([...suites.matchAll(/check\('(tls\.[a-z0-9-]+)'/g)].map((m) => m[1]!));

  it('name the checks of suites/tls and an object from the spec', () => {
    expect(new Set(tlsDrills.map((d) => d.name)).size).toBe(tlsDrills.length);
    for (const d of tlsDrills) {
      expect(d.checks.length, d.name).toBeGreaterThan(0);
      for (const c of d.checks) expect(checks, `${d.name} names ${c}`).toContain(c);
      expect(d.object, d.name).toContain(lab.vip(lab.spec.endpoints!.public!).host);
    }
  });

  it('make every check of the layer fail at least once (tls drills, or a drill through the cloud)', () => {
    const all = drillCatalogue(lab);
    expect([...checks].filter((c) => !all.some((d) => d.checks.includes(c)))).toEqual([]);
  });

  it("name decisions of the embedded lab that map to the drill's checks", () => {
    const decisions = loadDecisions(lab);
    for (const d of tlsDrills) for (const c of d.checks) expect(decisions.forCheck(c).map((x) => x.id), `${d.name}/${c}`).toEqual(expect.arrayContaining([...d.decisions]));
  });
});
