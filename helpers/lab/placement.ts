/** Where things sit in a lab spec: nodes on networks, node sizes on the host, Ceph daemons and disks on nodes. */
import type { Lab, LabNode } from './model.ts';
import type { NodeRole } from './spec.ts';

/** Ceph's osd_pool_default_size when nothing sets it. */
export const CEPH_DEFAULT_POOL_SIZE = 3;
/** cephadm only takes devices larger than 5 GB as OSDs. */
export const CEPHADM_MIN_OSD_GIB = 5;

const names = (nodes: readonly LabNode[]) => nodes.map((n) => n.name);

/**
 * Attachment problems: a network's nodes differ from its `attach` list, and the role rules — compute and network
 * nodes sit on the tunnel network, network nodes have a neutron-external interface on the external network, every
 * node has an address on the management/API network.
 */
export function attachmentProblems(lab: Lab): string[] {
  const out: string[] = [];
  for (const net of lab.networks) {
    if (!net.attach) continue;
    const actual = names(lab.nodesOn(net.name));
    const missing = net.attach.filter((n) => !actual.includes(n));
    const extra = actual.filter((n) => !net.attach!.includes(n));
    if (missing.length || extra.length) {
      out.push(`network ${net.name} should attach exactly [${net.attach.join(', ')}], but the nodes with an interface on it are [${actual.join(', ')}]`);
    }
  }
  const tunnel = lab.networkFor('tunnel');
  if (tunnel) {
    for (const n of lab.nodesWithRole('compute', 'network').filter((n) => !n.nics.some((nic) => nic.network === tunnel.name && nic.address))) {
      out.push(`${n.roles.includes('compute') ? 'compute' : 'network'} node ${n.name} has no address on tunnel network ${tunnel.name}`);
    }
  }
  const external = lab.networkFor('external');
  for (const n of lab.nodesWithRole('network')) {
    if (!n.nics.some((nic) => nic.use === 'neutron-external' && nic.network === external?.name)) {
      out.push(`network node ${n.name} has no neutron-external interface on the external network ${external?.name ?? '(the spec has none)'}`);
    }
  }
  const api = lab.networkFor('api') ?? lab.networkFor('management');
  for (const n of lab.nodes.filter((n) => !n.apiAddress)) out.push(`node ${n.name} has no address on the management/API network ${api?.name ?? '(the spec has none)'}`);
  return out;
}

export interface BudgetLine {
  readonly resource: 'memoryGiB' | 'vcpus' | 'diskGiB';
  readonly demanded: number;
  readonly host: number;
  readonly reserve: number;
  readonly available: number;
  /** How the demand adds up, e.g. "node1 60 + node2 40+20". */
  readonly parts: string;
}

/** What the nodes demand of the host against what it has after its reserve; undefined when the spec names no host. */
export function hostBudget(lab: Lab): BudgetLine[] | undefined {
  const host = lab.spec.host;
  if (!host) return undefined;
  const line = (resource: BudgetLine['resource'], of: (n: LabNode) => number[]): BudgetLine => {
    const reserve = host.reserve?.[resource] ?? 0;
    return {
      resource,
      demanded: lab.nodes.reduce((sum, n) => sum + of(n).reduce((a, b) => a + b, 0), 0),
      host: host[resource],
      reserve,
      available: host[resource] - reserve,
      parts: lab.nodes.map((n) => `${n.name} ${of(n).join('+')}`).join(' + '),
    };
  };
  return [
    line('memoryGiB', (n) => [n.size.memoryGiB]),
    line('vcpus', (n) => [n.size.vcpus]),
    line('diskGiB', (n) => [n.size.diskGiB, ...n.disks.map((d) => d.sizeGiB)]),
  ];
}

function roleProblems(lab: Lab, daemon: string, role: NodeRole, placed: readonly string[]): string[] {
  const out = placed.filter((n) => !lab.node(n).roles.includes(role)).map((n) => `Ceph ${daemon} on node ${n}, which lacks the ${role} role`);
  for (const n of lab.nodesWithRole(role).filter((n) => !placed.includes(n.name))) out.push(`node ${n.name} has the ${role} role but the spec places no Ceph ${daemon} on it`);
  return out;
}

/**
 * Ceph placement problems: daemons on nodes without the matching role (and roles without daemons); an OSD's disk
 * missing from its node, formatted (Lima formats and mounts additional disks unless format: false) or not larger
 * than cephadm's 5 GB minimum.
 */
export function cephPlacementProblems(lab: Lab): string[] {
  const ceph = lab.ceph;
  if (!ceph) return [];
  const out = [
    ...roleProblems(lab, 'MON', 'ceph-mon', ceph.mons),
    ...roleProblems(lab, 'MGR', 'ceph-mgr', ceph.mgrs ?? []),
    ...roleProblems(lab, 'OSD', 'ceph-osd', ceph.osds.map((o) => o.node)),
  ];
  for (const osd of ceph.osds) {
    if (!osd.disk) {
      if (ceph.deployer === 'cephadm') out.push(`OSD on node ${osd.node} names no disk: cephadm needs a raw device per OSD`);
      continue;
    }
    const disk = lab.node(osd.node).disks.find((d) => d.name === osd.disk);
    if (!disk) {
      out.push(`OSD on node ${osd.node} uses disk ${osd.disk}, which node ${osd.node} does not have`);
      continue;
    }
    if (disk.format) out.push(`OSD disk ${disk.name} on node ${osd.node} is formatted (format: true): Ceph needs a raw device (set format: false)`);
    if (disk.sizeGiB <= CEPHADM_MIN_OSD_GIB) out.push(`OSD disk ${disk.name} on node ${osd.node} is ${disk.sizeGiB} GiB: cephadm needs more than ${CEPHADM_MIN_OSD_GIB} GB`);
  }
  return out;
}

/** Pools (and the default) whose replica count exceeds the number of distinct OSD hosts. */
export function poolSizeProblems(lab: Lab): string[] {
  const ceph = lab.ceph;
  if (!ceph) return [];
  const hosts = [...new Set(ceph.osds.map((o) => o.node))];
  const defaultSize = ceph.poolDefaultSize ?? CEPH_DEFAULT_POOL_SIZE;
  const sizes = [
    { what: `osd_pool_default_size${ceph.poolDefaultSize === undefined ? " (Ceph's default)" : ''}`, size: defaultSize },
    ...(ceph.pools ?? []).filter((p) => p.size !== undefined).map((p) => ({ what: `pool ${p.name} size`, size: p.size! })),
  ];
  return sizes
    .filter((s) => s.size > hosts.length)
    .map((s) => `${s.what} is ${s.size}, but only ${hosts.length} host(s) carry OSDs (${hosts.join(', ')}): placement groups can never be clean`);
}

/** LVM backends whose hosts lack a raw LVM disk of at least the backend's size. */
export function lvmDiskProblems(lab: Lab): string[] {
  const out: string[] = [];
  for (const backend of lab.cinderBackends.filter((b) => b.driver === 'lvm')) {
    for (const host of backend.hosts ?? []) {
      const disks = lab.node(host).disks.filter((d) => d.use === 'lvm');
      const want = backend.sizeGiB ?? 0;
      if (disks.length === 0) out.push(`LVM backend ${backend.name}: node ${host} has no disk with use: lvm`);
      else if (!disks.some((d) => !d.format && d.sizeGiB >= want)) {
        out.push(`LVM backend ${backend.name} needs a raw disk of at least ${want} GiB on node ${host}, which has ${disks.map((d) => `${d.name} ${d.sizeGiB} GiB${d.format ? ' (formatted)' : ''}`).join(', ')}`);
      }
    }
  }
  return out;
}
