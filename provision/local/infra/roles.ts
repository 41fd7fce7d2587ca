/** Which nodes run which infrastructure service, as the spec places them. */
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';

export function jobPort(lab: Lab, job: string, fallback: number): number {
  return lab.spec.monitoring?.jobs.find((j) => j.job === job)?.port ?? fallback;
}

export function hasJob(lab: Lab, job: string): boolean {
  return lab.spec.monitoring?.jobs.some((j) => j.job === job) ?? false;
}

export function nodeAddresses(node: LabNode): string[] {
  return node.nics.filter((n) => n.use === 'address' && n.address).map((n) => n.address!);
}

export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(what);
  return value;
}

export function dnsNodes(lab: Lab): LabNode[] {
  const names = new Set([...(lab.spec.dns?.servers ?? []).map((s) => s.node), ...lab.nodesWithRole('dns').map((n) => n.name)]);
  return lab.spec.dns ? lab.nodes.filter((n) => names.has(n.name)) : [];
}

export function monitoringNodes(lab: Lab): LabNode[] {
  const pinned = lab.spec.monitoring?.prometheus.node;
  if (!lab.spec.monitoring) return [];
  return pinned ? [lab.node(pinned)] : lab.nodesWithRole('monitoring');
}

export function loadbalancerNodes(lab: Lab): LabNode[] {
  return lab.vips.length > 0 ? lab.nodesWithRole('loadbalancer') : [];
}

