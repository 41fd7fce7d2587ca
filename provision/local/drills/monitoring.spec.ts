import { describe, expect, test } from 'vitest';
import { drillCatalogue } from './index.ts';
import { loadLab } from '../../../helpers/lab/load.ts';
import { monitoringDrills } from './monitoring.ts';

describe('monitoring fault drills (catalogue only; the live lab is not touched)', () => {
  test('every Prometheus check of the monitoring layer has a drill, each names checks, decisions and an object', () => {
    for (const d of monitoringDrills) expect(d.checks.length * d.decisions.length * d.object.length, d.name).toBeGreaterThan(0);
    expect(new Set(monitoringDrills.flatMap((d) => d.checks))).toEqual(new Set(['mon.prometheus-up', 'mon.targets-present', 'mon.targets-up']));
  });

  test('they are in the catalogue of the embedded lab', () => {
    const names = drillCatalogue(loadLab('embedded')).map((d) => d.name);
    for (const d of monitoringDrills) expect(names).toContain(d.name);
  });
});
