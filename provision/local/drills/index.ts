import type { Lab } from '../../../helpers/lab/model.ts';
import { cloudDrillsFor } from './cloud.ts';
import { computeDrillsFor } from './compute.ts';
import { dnsDrills } from './dns.ts';
import { haDrillsFor } from './ha.ts';
import { loadbalancerDrillsFor } from './loadbalancer.ts';
import { networkDrills } from './network.ts';
import { ovnDrillsFor } from './ovn.ts';
import type { Drill } from './drill.ts';
import { monitoringDrills } from './monitoring.ts';
import { multiComputeDrillsFor } from './multi-compute.ts';
import { persistenceDrillsFor } from './persistence.ts';
import { storageDrillsFor } from './storage.ts';
import { tlsDrillsFor } from './tls.ts';

export type { Drill } from './drill.ts';

/** Every fault drill of the lab (the embedded one unless named), by layer. */
export function drillCatalogue(lab: Lab): Drill[] {
  const all = [...networkDrills, ...ovnDrillsFor(lab), ...tlsDrillsFor(lab), ...dnsDrills, ...cloudDrillsFor(lab), ...computeDrillsFor(lab), ...storageDrillsFor(lab), ...monitoringDrills,
    ...persistenceDrillsFor(lab), ...multiComputeDrillsFor(lab), ...loadbalancerDrillsFor(lab), ...haDrillsFor(lab)];
  const seen = new Set<string>();
  for (const d of all) {
    if (seen.has(d.name)) throw new Error(`two drills are named ${d.name}`);
    seen.add(d.name);
  }
  return all;
}

export function findDrill(lab: Lab, name: string): Drill {
  const catalogue = drillCatalogue(lab);
  const drill = catalogue.find((d) => d.name === name);
  if (!drill) throw new Error(`no drill "${name}"; known drills: ${catalogue.map((d) => d.name).join(', ')}`);
  return drill;
}

export function formatCatalogue(drills: readonly Drill[]): string {
  const width = Math.max(...drills.map((d) => d.name.length));
  return drills.map((d) => `${d.name.padEnd(width)}  ${d.description}\n${''.padEnd(width)}  breaks ${d.checks.join(', ')} (${d.decisions.join(', ')})`).join('\n');
}
