/** Placement as the scheduler sees it: one resource provider per compute node, with inventory. */
import type { Lab } from '../lab/model.ts';
import type { Cloud } from './cloud.ts';

const NEEDED = ['VCPU', 'MEMORY_MB', 'DISK_GB'] as const;

export interface ProviderSeen {
  readonly node: string;
  readonly provider: string | undefined;
  readonly inventory: Record<string, number>;
  readonly problems: string[];
}

/** Nova names a compute node's provider after the hypervisor's host name (the FQDN on some deployments). */
export const providerOfHost = <P extends { name: string }>(providers: readonly P[], hostname: string): P | undefined =>
  providers.find((p) => p.name === hostname || p.name.split('.')[0] === hostname);

export async function computeInventories(lab: Lab, cloud: Cloud): Promise<ProviderSeen[]> {
  const providers = (await cloud.get<{ resource_providers: { uuid: string; name: string }[] }>('placement', '/resource_providers')).body.resource_providers;
  return Promise.all(
    lab.novaComputeNodes.map(async (node): Promise<ProviderSeen> => {
      const rp = providerOfHost(providers, node.hostname);
      if (!rp) return { node: node.name, provider: undefined, inventory: {}, problems: [`no resource provider named ${node.hostname} (Placement has: ${providers.map((p) => p.name).join(', ') || 'none'})`] };
      const inv = (await cloud.get<{ inventories: Record<string, { total: number }> }>('placement', `/resource_providers/${rp.uuid}/inventories`)).body.inventories;
      const inventory = Object.fromEntries(Object.entries(inv).map(([k, v]) => [k, v.total]));
      const problems = NEEDED.filter((k) => !(inventory[k]! > 0)).map((k) => `provider ${rp.name} has no ${k} inventory`);
      return { node: node.name, provider: rp.name, inventory, problems };
    }),
  );
}
