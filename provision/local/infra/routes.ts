/**
 * The spec's static routes (seed 004: compute and Ceph nodes reach the containers' network through the second OVN
 * router). Each route goes into its node's table; the gateway's node holds the route's probe address on its loopback,
 * standing for the network behind the router, so that traffic through the route is answered and nothing leaves the lab.
 */
import type { Lab } from '../../../helpers/lab/model.ts';
import type { StaticRouteSpec } from '../../../helpers/lab/spec.ts';
import type { Component, LabContext } from '../component.ts';
import { inNode } from '../exec.ts';
import { need } from './roles.ts';

export function gatewayNode(lab: Lab, r: StaticRouteSpec) {
  return need(lab.nodes.find((n) => n.nics.some((nic) => nic.address === r.via)), `no node has address ${r.via}`);
}

export async function installRoute(lab: Lab, r: StaticRouteSpec): Promise<void> {
  await inNode(lab, gatewayNode(lab, r), undefined, ['ip', 'address', 'replace', `${r.probe}/32`, 'dev', 'lo']);
  await inNode(lab, lab.node(r.node), undefined, ['ip', 'route', 'replace', r.destination, 'via', r.via]);
}

/** Deletes the route; nothing to do when it is gone already. */
export async function removeRoute(lab: Lab, r: StaticRouteSpec): Promise<void> {
  const table = await inNode(lab, lab.node(r.node), undefined, ['ip', '-4', 'route', 'show', r.destination]);
  if (table.trim()) await inNode(lab, lab.node(r.node), undefined, ['ip', 'route', 'del', r.destination, 'via', r.via]);
}

export const staticRoutes: Component = {
  name: 'static-routes',
  needed: (lab) => (lab.spec.staticRoutes ?? []).length > 0,
  configure: async ({ lab, step }) => {
    await step('routes and the addresses behind them', async () => {
      for (const r of lab.spec.staticRoutes ?? []) await installRoute(lab, r);
      return (lab.spec.staticRoutes ?? []).map((r) => `${r.node}: ${r.destination} via ${r.via}`).join(', ');
    });
  },
  ready: ({ lab }: LabContext) => (lab.spec.staticRoutes ?? []).map((r) => ({
    what: `${r.node} routes ${r.destination} via ${r.via}`,
    probe: async () => {
      const table = await inNode(lab, lab.node(r.node), undefined, ['ip', '-4', 'route', 'show', r.destination]);
      return table.includes(`via ${r.via} `) || `${r.node}: ip route show ${r.destination}: ${table.trim() || 'none'}`;
    },
  })),
};
