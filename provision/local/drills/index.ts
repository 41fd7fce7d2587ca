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

/**
 * Drills of a minute or more (a layer with its guest boot) whose every check and decision a quick drill fails too:
 * the push CI spends its time on the faults nothing else shows, and these run nightly with the slow ones
 * (STACKGATE_DRILLS=slow). Seconds are from the push CI of 2026-12-05; coverage.spec.ts keeps each one covered.
 */
export const NIGHTLY: Readonly<Record<string, string>> = {
  'compute-nova-compute-stopped': 'about 95 s; compute.server-boot is failed by compute-provider-gone too',
  'compute-api-firewalled-from-tenants': 'about 80 s; compute.tenant-api-reach is failed by net-tenant-dns-changed too',
  'glance-no-auth': 'about 75 s; compute.token-accepted is failed by compute-glance-stopped too',
  'catalog-endpoint-disabled': 'about 70 s; its checks are failed by dns-catalog-internal-at-external-fqdn and '
    + 'compute-glance-stopped too',
  'compute-horizon-keystone-unreachable': 'about 65 s; compute.horizon-login is failed by compute-wrong-credentials too',
  'cinder-glance-untrusted': 'about 65 s; storage.volume-from-image is failed by cinder-volume-stopped too',
  'compute-token-other-project': 'about 60 s; compute.keystone-token is failed by compute-wrong-credentials too',
  'compute-config-drive-unbuildable': 'about 50 s; compute.server-boot is failed by compute-provider-gone too',
};

/** Every fault drill of the lab (the embedded one unless named), by layer. */
export function drillCatalogue(lab: Lab): Drill[] {
  const all = [...networkDrills, ...ovnDrillsFor(lab), ...tlsDrillsFor(lab), ...dnsDrills, ...cloudDrillsFor(lab), ...computeDrillsFor(lab), ...storageDrillsFor(lab), ...monitoringDrills,
    ...persistenceDrillsFor(lab), ...multiComputeDrillsFor(lab), ...loadbalancerDrillsFor(lab), ...haDrillsFor(lab)];
  const seen = new Set<string>();
  for (const d of all) {
    if (seen.has(d.name)) throw new Error(`two drills are named ${d.name}`);
    seen.add(d.name);
  }
  return all.map((d) => (NIGHTLY[d.name] && !d.slow ? { ...d, slow: NIGHTLY[d.name] } : d));
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
