/**
 * Nova's control plane on every control node, as Nova itself reports it (os-services): each controller's conductor
 * and scheduler registered and up. A scheduler reports through the conductor over RabbitMQ and the conductor writes
 * the database, so "up" on each proves both paths from that controller.
 */
import type { Lab, LabNode } from '../lab/model.ts';

export const NOVA_CONTROL_BINARIES = ['nova-conductor', 'nova-scheduler'] as const;

export interface NovaService {
  readonly binary: string;
  readonly host: string;
  readonly state: string;
  readonly status: string;
  readonly updated_at?: string | null;
}

/** The control nodes whose Nova services are judged: every one with an API address, where the spec has Nova. */
export const novaControlNodes = (lab: Lab): LabNode[] =>
  lab.spec.services?.nova ? lab.nodesWithRole('control').filter((n) => n.apiAddress) : [];

const onHost = (s: NovaService, node: LabNode) => s.host === node.hostname || s.host.split('.')[0] === node.hostname;

/** What differs from every control node's conductor and scheduler up and enabled; empty when all are. */
export function novaServiceFindings(nodes: readonly LabNode[], services: readonly NovaService[]): string[] {
  const findings: string[] = [];
  for (const node of nodes) {
    for (const binary of NOVA_CONTROL_BINARIES) {
      const s = services.find((x) => x.binary === binary && onHost(x, node));
      if (!s) {
        const hosts = services.filter((x) => x.binary === binary).map((x) => x.host).join(', ') || 'none';
        findings.push(`${node.name}: no ${binary} service on host ${node.hostname} (Nova lists it on: ${hosts})`);
      } else if (s.state !== 'up' || s.status !== 'enabled') {
        findings.push(`${node.name}: ${binary} on ${s.host} is ${s.state}/${s.status} (last report ${s.updated_at ?? 'never'})`);
      }
    }
  }
  return findings;
}
