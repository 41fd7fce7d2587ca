/** What every renderer of the `lima` provider shares: the rendered-file type, YAML output and interface lookups. */
import { relative } from 'node:path';
import { stringify } from 'yaml';
import { repoRoot } from '../../helpers/lab/load.ts';
import type { Lab, LabNode, Nic } from '../../helpers/lab/model.ts';

export interface RenderedFile {
  /** Relative to the render folder, with forward slashes. */
  readonly path: string;
  readonly content: string;
}

/** A path as shown and used by the provider: relative to the repository root when inside it. */
export function repoPath(absolute: string): string {
  const rel = relative(repoRoot, absolute);
  return rel && !rel.startsWith('..') ? rel : absolute;
}

export function header(lab: Lab, what: string, comment = '#'): string {
  return `${comment} Rendered by stackgate (provider lima) from ${repoPath(lab.file)} — ${what}. Do not edit: re-render.\n`;
}

/** YAML with stable layout: no line folding, no anchors. */
export function yaml(value: unknown, options: { quoteStrings?: boolean } = {}): string {
  return stringify(value, {
    lineWidth: 0,
    aliasDuplicateObjects: false,
    // Ansible reads YAML 1.1, where a plain yes/no is a boolean: Kolla's own files quote every string.
    ...(options.quoteStrings ? { defaultStringType: 'QUOTE_DOUBLE' as const, defaultKeyType: 'PLAIN' as const } : {}),
  });
}

export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(what);
  return value;
}

/** The node's NIC on a network that carries its address there. */
export function addressNic(node: LabNode, network: string | undefined): Nic | undefined {
  return network ? node.nics.find((n) => n.network === network && n.use === 'address' && n.address) : undefined;
}

/** The management/API network (Kolla's network_interface / api_interface). */
export function apiNetwork(lab: Lab): string {
  return need(lab.networkFor('api') ?? lab.networkFor('management'), `lab ${lab.name} has no management/API network`).name;
}

/** The node's address on the network Ceph's public traffic uses (storage when there is one, else the API network). */
export function cephPublicNetwork(lab: Lab): string {
  return (lab.networkFor('storage') ?? lab.network(apiNetwork(lab))).name;
}

export function nodeAddressOn(lab: Lab, node: LabNode, network: string): string {
  return need(node.addresses[network], `node ${node.name} of lab ${lab.name} has no address on network ${network}`);
}

/** The SSH user the provider and the checks log in as (credentials.sshUser, else the schema's default). */
export { sshUser } from '../../helpers/lab/defaults.ts';

export function dottedMask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join('.');
}
