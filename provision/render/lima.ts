/**
 * Lima: one instance YAML per node and the networks.yaml entries of the lab's networks. Lima's defaults that the
 * design contradicts are set explicitly (facts: vmType defaults to vz, additional disks are formatted unless
 * format: false, the hostname is lima-<name>, lab NICs get addresses only by DHCP).
 */
import { fromInt, toInt } from '../../helpers/net/ip.ts';
import { imagesAreAarch64 } from '../../helpers/lab/kolla.ts';
import type { Lab, LabNode } from '../../helpers/lab/model.ts';
import { assignedAddresses } from '../../helpers/lab/addressing.ts';
import { dnsNodes } from '../local/infra/roles.ts';
import { apiNetwork, dottedMask, header, need, yaml } from './common.ts';

/** QEMU (HVF on Apple Silicon): the design's backend; it has snapshots and works with socket_vmnet. Lima's default on macOS ≥ 13.5 is vz. */
export const LIMA_VM_TYPE = 'qemu';
/** The guest image: Lima's Ubuntu 24.04 (Noble) image template, the design's node OS. */
export const LIMA_IMAGE_TEMPLATE = 'template:_images/ubuntu-24.04';
/** `base:` templates need Lima 2. */
export const LIMA_MIN_VERSION = '2.0.0';

/** The guest architecture: aarch64 when the lab's Kolla images are aarch64 (the lab runs natively on Apple Silicon). */
export function limaArch(lab: Lab): 'aarch64' | 'x86_64' {
  return imagesAreAarch64(lab.deployer) ? 'aarch64' : 'x86_64';
}

/** The Lima networks (socket_vmnet) for the spec's networks that Lima can serve. */
export function limaNetworks(lab: Lab) {
  return lab.networks.filter((n) => n.mode === 'shared' || n.mode === 'host' || n.mode === 'bridged');
}

/**
 * dhcpEnd for a network: the spec's DHCP end, which must lie below every VIP and node address of the network (Lima's
 * vmnet DHCP serves gateway+1 … dhcpEnd); without one, the address just below the lowest assigned address.
 */
export function dhcpEnd(lab: Lab, network: string): string {
  const net = lab.network(network);
  const gateway = need(net.gateway, `network ${network}: Lima's ${net.mode} network needs a gateway`);
  const assigned = assignedAddresses(lab).filter((p) => p.network === network);
  const lowest = assigned.reduce((low, p) => Math.min(low, toInt(p.address)), Number.POSITIVE_INFINITY);
  const end = net.dhcp && !net.dhcpIsDefault ? toInt(net.dhcp.end) : Number.isFinite(lowest) ? lowest - 1 : toInt(gateway) + 98;
  const clash = assigned.filter((p) => toInt(p.address) <= end && toInt(p.address) > toInt(gateway));
  if (clash.length > 0) {
    throw new Error(`network ${network}: DHCP would hand out up to ${fromInt(end)}, which covers ${clash.map((p) => `${p.address} (${p.owner})`).join(', ')}`);
  }
  if (end <= toInt(gateway)) throw new Error(`network ${network}: no room for DHCP between gateway ${gateway} and the lowest assigned address`);
  return fromInt(end);
}

/** networks.yaml entries ($LIMA_HOME/_config/networks.yaml `networks:`), one per Lima network of the spec. */
export function renderNetworksYaml(lab: Lab): { networks: Record<string, Record<string, string>> } {
  const networks: Record<string, Record<string, string>> = {};
  for (const net of limaNetworks(lab)) {
    if (net.mode === 'bridged') throw new Error(`network ${net.name}: bridged Lima networks need a host interface, which the spec does not name`);
    networks[net.name] = {
      mode: need(net.mode, 'mode'),
      gateway: need(net.gateway, `network ${net.name} has no gateway`),
      dhcpEnd: dhcpEnd(lab, net.name),
      netmask: dottedMask(net.cidr.prefix),
    };
  }
  return { networks };
}

/** The guest block device of each additional disk, in attach order (/dev/vdb, /dev/vdc … unless the spec says). */
export function diskDevices(node: LabNode): { name: string; sizeGiB: number; device: string; use: string }[] {
  return node.disks.map((d, i) => ({ name: d.name, sizeGiB: d.sizeGiB, use: d.use, device: d.device ?? `/dev/vd${String.fromCharCode(98 + i)}` }));
}

/** The netplan file the provision script writes: static addresses from the spec, no DHCP on any lab NIC. */
export function renderNetplan(lab: Lab, node: LabNode): string {
  const dns = lab.spec.dns;
  const servers = dnsNodes(lab).map((n) => n.apiAddress).filter((a): a is string => !!a);
  const api = apiNetwork(lab);
  const ethernets: Record<string, Record<string, unknown>> = {};
  for (const nic of node.nics) {
    const net = lab.network(nic.network);
    const cfg: Record<string, unknown> = { dhcp4: false, dhcp6: false };
    if (nic.use === 'address' && nic.address) {
      cfg.addresses = [`${nic.address}/${nic.prefix}`];
      // The NAT network (Lima's shared mode) is the way out, as its DHCP lease was before.
      if (net.mode === 'shared' && net.gateway) cfg.routes = [{ to: 'default', via: net.gateway, metric: 100 }];
      if (nic.network === api && dns && servers.length > 0) cfg.nameservers = { addresses: servers, search: [dns.domain] };
    }
    if (nic.mtu !== 1500) cfg.mtu = nic.mtu;
    ethernets[nic.name] = cfg;
  }
  return yaml({ network: { version: 2, ethernets } });
}

/** The provision script (mode system, every boot): host name from the spec, static addresses, nothing by DHCP. */
export function renderProvisionScript(lab: Lab, node: LabNode): string {
  return `#!/bin/sh
# stackgate: node ${node.name} of lab ${lab.name}. Runs at every boot.
set -eu
# cephadm and Kolla need the exact host name (Lima would set lima-${node.name}).
mkdir -p /etc/cloud/cloud.cfg.d
printf 'preserve_hostname: true\\n' > /etc/cloud/cloud.cfg.d/99-stackgate-hostname.cfg
hostnamectl set-hostname ${node.hostname}
# The host name must not resolve to 127.0.1.1 (RabbitMQ; Kolla's bootstrap-servers writes the node addresses).
sed -i '/^127\\.0\\.1\\.1[[:space:]]/d' /etc/hosts
# Lab NICs: the spec's static addresses (Lima's DHCP would hand out leases).
cat > /etc/netplan/60-stackgate.yaml <<'NETPLAN'
${renderNetplan(lab, node).trimEnd()}
NETPLAN
chmod 0600 /etc/netplan/60-stackgate.yaml
netplan apply
`;
}

/** The Lima instance YAML of one node. */
export function renderLimaInstance(lab: Lab, node: LabNode): Record<string, unknown> {
  if (node.size.vcpus <= 0 || node.size.memoryGiB <= 0 || node.size.diskGiB <= 0) {
    throw new Error(`node ${node.name}: the lima provider needs size.vcpus, size.memoryGiB and size.diskGiB`);
  }
  const served = new Set(limaNetworks(lab).map((n) => n.name));
  const networks = node.nics.map((nic) => {
    if (!served.has(nic.network)) throw new Error(`node ${node.name} ${nic.name}: network ${nic.network} (mode ${lab.network(nic.network).mode ?? 'none'}) is not a Lima network`);
    return { lima: nic.network, interface: nic.name };
  });
  const formatted = node.disks.filter((d) => d.format);
  return {
    minimumLimaVersion: LIMA_MIN_VERSION,
    base: [LIMA_IMAGE_TEMPLATE],
    vmType: LIMA_VM_TYPE,
    arch: limaArch(lab),
    cpus: node.size.vcpus,
    memory: `${node.size.memoryGiB}GiB`,
    disk: `${node.size.diskGiB}GiB`,
    // Raw, unformatted, unmounted: LVM and Ceph take the whole device (Lima formats ext4 unless format: false).
    additionalDisks: node.disks.map((d) => (formatted.includes(d) ? { name: d.name, format: true, fsType: 'ext4' } : { name: d.name, format: false })),
    // No host folders in a production-like node; no containerd (Kolla brings Docker).
    mounts: [],
    containerd: { system: false, user: false },
    ssh: { loadDotSSHPubKeys: false },
    networks,
    provision: [{ mode: 'system', script: renderProvisionScript(lab, node) }],
  };
}

export function renderLimaInstanceYaml(lab: Lab, node: LabNode): string {
  return header(lab, `Lima instance ${node.name}`) + yaml(renderLimaInstance(lab, node));
}

export function renderNetworksYamlText(lab: Lab): string {
  return (
    header(lab, 'entries for $LIMA_HOME/_config/networks.yaml (merged by `lab up`, which keeps paths and other networks)') +
    yaml(renderNetworksYaml(lab))
  );
}
