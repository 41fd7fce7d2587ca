import type { Lab } from '../lab/model.ts';
import { defaultRoute, offLabRoute, routeTo } from '../net/route.ts';

export interface Reachability {
  readonly reachable: boolean;
  /** Every address that failed, with why; empty when reachable. */
  readonly problems: readonly string[];
}

/** The addresses stackgate talks to: every VIP and every node's management/API address. */
export function labAddresses(lab: Lab): string[] {
  const set = new Set<string>();
  for (const vip of lab.vips) set.add(vip.address);
  for (const node of lab.nodes) {
    if (node.managementAddress) set.add(node.managementAddress);
    if (node.apiAddress) set.add(node.apiAddress);
  }
  return [...set];
}

/**
 * Decide from the routing table alone whether the lab's networks are attached to this host. A lab that is
 * not up here would be probed over the default route, towards private addresses off this machine: never.
 */
export async function labReachability(lab: Lab): Promise<Reachability> {
  const def = await defaultRoute();
  const problems: string[] = [];
  for (const address of labAddresses(lab)) {
    const why = offLabRoute(await routeTo(address), def);
    if (why) problems.push(why);
  }
  return { reachable: problems.length === 0 && labAddresses(lab).length > 0, problems };
}
