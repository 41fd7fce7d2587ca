/**
 * A lab spec grown by one compute node, derived from the spec itself: the new node copies the first compute node's
 * interfaces (names, networks, uses) and takes, on each of its networks, the next host number free on all of them
 * (no node, VIP, gateway, DHCP or floating address). What the scale self-tests and the live scale test bring up.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { stringify } from 'yaml';
import { broadcastAddress, contains, fromInt, inRange, toInt } from '../../helpers/net/ip.ts';
import type { Lab } from '../../helpers/lab/model.ts';
import type { LabSpec } from '../../helpers/lab/spec.ts';

/** The next name in the template's series: node2 → node4 when node3 exists; fn2 → fn5; ctl → ctl-2. */
export function nextNodeName(template: string, taken: readonly string[]): string {
  const m = /^(.*?)(\d+)$/.exec(template);
  const stem = m ? m[1]! : `${template}-`;
  const numbers = taken.map((n) => (n.startsWith(stem) ? Number(n.slice(stem.length)) : NaN)).filter(Number.isInteger);
  return `${stem}${Math.max(m ? Number(m[2]) : 1, ...numbers) + 1}`;
}

/** Whether an address is held or reserved anywhere on the lab's network. */
function reserved(lab: Lab, network: string, address: string): boolean {
  const net = lab.network(network);
  const fip = lab.spec.neutron?.externalNetwork;
  return (
    !contains(net.cidr, address) ||
    address === net.gateway ||
    address === broadcastAddress(net.cidr) ||
    lab.nodes.some((n) => n.nics.some((nic) => nic.address === address)) ||
    lab.vips.some((v) => v.address === address) ||
    (lab.spec.neutron?.tenantDnsServers ?? []).includes(address) ||
    (!!net.dhcp && inRange(net.dhcp, address)) ||
    (!!fip?.floatingRange && fip.network === network && inRange(fip.floatingRange, address))
  );
}

/** The spec with one more compute node, and its name. */
export function withExtraCompute(lab: Lab): { spec: LabSpec; node: string } {
  const template = lab.nodesWithRole('compute')[0];
  if (!template) throw new Error(`lab ${lab.name} has no compute node to copy`);
  const spec = structuredClone(lab.spec) as LabSpec;
  const name = nextNodeName(template.name, lab.nodes.map((n) => n.name));
  const addressed = template.nics.filter((n) => n.address);
  const offset = (nic: (typeof addressed)[number]) => toInt(nic.address!) - lab.network(nic.network).cidr.base;
  let host = Math.max(...addressed.map(offset)) + 1;
  const at = (network: string) => fromInt(lab.network(network).cidr.base + host);
  while (addressed.some((nic) => reserved(lab, nic.network, at(nic.network)))) {
    host++;
    if (addressed.some((nic) => !contains(lab.network(nic.network).cidr, at(nic.network)))) {
      throw new Error(`lab ${lab.name}: no host number is free on all of ${template.name}'s networks for a new node`);
    }
  }
  const interfaces = spec.nodes[template.name]!.interfaces.map((i) =>
    i.address ? { ...i, address: at(i.network) } : { ...i });
  const size = spec.nodes[template.name]!.size;
  spec.nodes[name] = { roles: ['compute'], interfaces, ...(size ? { size: { ...size } } : {}) };
  for (const net of Object.values(spec.networks)) if (net.attach?.includes(template.name)) net.attach.push(name);
  return { spec, node: name };
}

/**
 * Write a spec beside its decision record (and known gaps) in `dir`, with the paths it names (design, credentials)
 * made absolute so they still point where the original's did; the copy is the same lab (same name, same state).
 */
export function writeSpecCopy(lab: Lab, spec: LabSpec, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const copy = structuredClone(spec);
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : lab.path(p));
  copy.design = abs(copy.design)!;
  if (copy.credentials) {
    const c = copy.credentials;
    for (const k of ['cloudsFile', 'caFile', 'sshKey', 'sshKnownHosts', 'secretsFile'] as const) c[k] = abs(c[k]);
  }
  const file = join(dir, 'lab.yaml');
  writeFileSync(file, `# A copy of ${lab.file} written by stackgate (scale test); do not edit.\n${stringify(copy)}`);
  for (const f of ['decisions.yaml', 'known-gaps']) {
    if (existsSync(join(lab.dir, f))) copyFileSync(join(lab.dir, f), join(dir, f));
  }
  return file;
}

/**
 * The spec with Nova's fake driver on every compute node (no guests): what a compute-light node costs, for the scale
 * benchmark. The guest data plane is then declared missing, as the embedded spec's own comment says to.
 */
export function withFakeCompute(spec: LabSpec): LabSpec {
  const light = structuredClone(spec);
  // No guest image either: the run uploads its own test image where the spec names none.
  const { guestImage: _none, ...compute } = light.compute ?? {};
  light.compute = { ...compute, hypervisorType: 'fake', virtType: 'fake' };
  const lacks = { ...light.capabilities?.lacks, 'guest-dataplane': 'Nova\'s fake driver: no guests (scale benchmark)' };
  light.capabilities = { ...light.capabilities, lacks };
  return light;
}
