import { dirname, isAbsolute, resolve } from 'node:path';
import { contains, fromInt, parseCidr, ptrName, reverseZone, toInt, type Cidr, type Range } from '../net/ip.ts';
import type {
  Capability,
  CephSpec,
  CinderBackendSpec,
  Interface,
  LabSpec,
  NetworkPurpose,
  NodeRole,
} from './spec.ts';

export interface Network {
  readonly name: string;
  readonly cidr: Cidr;
  readonly gateway: string | undefined;
  readonly mode: string | undefined;
  readonly purpose: readonly NetworkPurpose[];
  readonly isolated: boolean;
  /** The nodes the design attaches to this network, when the spec states them. */
  readonly attach: readonly string[] | undefined;
  readonly mtu: number;
  /** The DHCP range served on the network; Lima's default when a Lima network states none. */
  readonly dhcp: Range | undefined;
  readonly dhcpIsDefault: boolean;
}

export interface Nic {
  readonly name: string;
  readonly network: string;
  readonly address: string | undefined;
  readonly prefix: number;
  readonly use: 'address' | 'neutron-external' | 'vip';
  readonly mtu: number;
}

export interface LabNode {
  readonly name: string;
  readonly hostname: string;
  readonly roles: readonly NodeRole[];
  readonly size: { readonly memoryGiB: number; readonly vcpus: number; readonly diskGiB: number; readonly extraDiskGiB: number };
  readonly disks: readonly { name: string; sizeGiB: number; use: string; device?: string; format: boolean }[];
  readonly nics: readonly Nic[];
  /** The node's address on each network it has an address on. */
  readonly addresses: Readonly<Record<string, string>>;
  /** The address services listen on and Prometheus scrapes (Kolla: api_interface). */
  readonly apiAddress: string | undefined;
  readonly managementAddress: string | undefined;
}

export interface Vip {
  readonly name: string;
  readonly address: string;
  readonly network: string;
  readonly fqdn: string | undefined;
  /** Host part of URLs that use this VIP: the FQDN, or the address when there is none. */
  readonly host: string;
  readonly interface: string | undefined;
}

export interface CatalogExpectation {
  readonly service: string;
  readonly type: string;
  readonly interface: Interface;
  readonly vip: string;
  readonly host: string;
  readonly port: number;
  readonly scheme: 'https' | 'http';
}

export interface DnsRecord {
  readonly name: string;
  readonly address: string;
  readonly what: string;
}

export interface ScrapeTarget {
  readonly job: string;
  readonly instance: string;
  readonly node: string | undefined;
  /** Why this target is not expected now (phase not due, capability lacking); undefined when it is. */
  readonly notExpected: string | undefined;
}

const LIMA_DHCP_MODES = new Set(['shared', 'host', 'bridged']);

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** A lab spec with its derived facts. Immutable. */
export class Lab {
  readonly name: string;
  readonly title: string;
  readonly release: string;
  readonly provider: LabSpec['provider'];
  readonly deployer: LabSpec['deployer'];
  readonly region: string;
  readonly networks: readonly Network[];
  readonly nodes: readonly LabNode[];
  readonly vips: readonly Vip[];
  readonly dir: string;

  constructor(
    readonly spec: LabSpec,
    readonly file: string,
  ) {
    this.dir = dirname(file);
    this.name = spec.name;
    this.title = spec.title;
    this.release = spec.release;
    this.provider = spec.provider;
    this.deployer = spec.deployer;
    this.region = spec.region ?? 'RegionOne';
    this.networks = Object.entries(spec.networks).map(([name, n]) => {
      const cidr = parseCidr(n.cidr);
      let dhcp: Range | undefined;
      let dhcpIsDefault = false;
      if (n.dhcp) dhcp = { start: n.dhcp.start, end: n.dhcp.end };
      else if (n.dhcp === undefined && spec.provider === 'lima' && n.mode && LIMA_DHCP_MODES.has(n.mode)) {
        // Lima's vmnet DHCP hands out gateway+1 … .254 unless networks.yaml lowers dhcpEnd.
        const gw = n.gateway ?? fromInt(cidr.base + 1);
        dhcp = { start: fromInt(toInt(gw) + 1), end: fromInt(cidr.base + 2 ** (32 - cidr.prefix) - 2) };
        dhcpIsDefault = true;
      }
      return {
        name,
        cidr,
        gateway: n.gateway,
        mode: n.mode,
        purpose: n.purpose,
        isolated: n.isolated ?? false,
        attach: n.attach,
        mtu: n.mtu ?? 1500,
        dhcp,
        dhcpIsDefault,
      };
    });
    const apiNet = this.networkFor('api') ?? this.networkFor('management');
    const mgmtNet = this.networkFor('management') ?? apiNet;
    this.nodes = Object.entries(spec.nodes).map(([name, n]) => {
      const nics: Nic[] = n.interfaces.map((i) => ({
        name: i.name,
        network: i.network,
        address: i.address,
        prefix: this.network(i.network).cidr.prefix,
        use: i.use ?? 'address',
        mtu: i.mtu ?? this.network(i.network).mtu,
      }));
      const addresses: Record<string, string> = {};
      for (const nic of nics) if (nic.address && nic.use === 'address' && !(nic.network in addresses)) addresses[nic.network] = nic.address;
      const disks = (n.disks ?? []).map((d) => ({ ...d, format: d.format ?? false }));
      return {
        name,
        hostname: n.hostname ?? name,
        roles: n.roles,
        size: {
          memoryGiB: n.size?.memoryGiB ?? 0,
          vcpus: n.size?.vcpus ?? 0,
          diskGiB: n.size?.diskGiB ?? 0,
          extraDiskGiB: disks.reduce((sum, d) => sum + d.sizeGiB, 0),
        },
        disks,
        nics,
        addresses,
        apiAddress: apiNet ? addresses[apiNet.name] : undefined,
        managementAddress: mgmtNet ? addresses[mgmtNet.name] : undefined,
      };
    });
    this.vips = Object.entries(spec.vips ?? {}).map(([name, v]) => ({
      name,
      address: v.address,
      network: v.network,
      fqdn: v.fqdn,
      host: v.fqdn ?? v.address,
      interface: v.interface,
    }));
    deepFreeze(this);
  }

  network(name: string): Network {
    const net = this.networks.find((n) => n.name === name);
    if (!net) throw new Error(`lab ${this.name}: no network "${name}"`);
    return net;
  }

  networkFor(purpose: NetworkPurpose): Network | undefined {
    return this.networks.find((n) => n.purpose.includes(purpose));
  }

  node(name: string): LabNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`lab ${this.name}: no node "${name}"`);
    return node;
  }

  nodesWithRole(...roles: (NodeRole | 'all')[]): LabNode[] {
    return this.nodes.filter((n) => roles.includes('all') || n.roles.some((r) => roles.includes(r)));
  }

  /** The nodes that run nova-compute: the spec's compute.nodes, else every node with role compute. */
  get novaComputeNodes(): LabNode[] {
    const names = this.spec.compute?.nodes;
    return names ? this.nodes.filter((n) => names.includes(n.name)) : this.nodesWithRole('compute');
  }

  /** Nodes attached to a network (with or without an address on it). */
  nodesOn(network: string): LabNode[] {
    return this.nodes.filter((n) => n.nics.some((nic) => nic.network === network));
  }

  vip(name: string): Vip {
    const vip = this.vips.find((v) => v.name === name);
    if (!vip) throw new Error(`lab ${this.name}: no VIP "${name}"`);
    return vip;
  }

  /**
   * The VIPs Horizon is served on: its own pair (dashboard.vip, dashboard.internalVip) where the spec gives it one, as
   * a charm with hacluster has, else the endpoint VIPs. Public first.
   */
  get dashboardVips(): Vip[] {
    const d = this.spec.dashboard;
    const own = [d?.vip, d?.internalVip].filter((v): v is string => v !== undefined);
    const names = own.length > 0 ? own : Object.values(this.spec.endpoints ?? {});
    return [...new Set(names)].map((v) => this.vip(v));
  }

  /** The VIP Horizon's login is reached on: its own public VIP, else the public endpoint VIP. */
  get dashboardPublicVip(): Vip | undefined {
    const name = this.spec.dashboard?.vip ?? this.spec.endpoints?.public;
    return name ? this.vip(name) : undefined;
  }

  /** The interfaces a VIP publishes: as an endpoint VIP, as a service's own VIP (its catalog entries), as Horizon's. */
  vipInterfaces(name: string): Interface[] {
    const out = new Set<Interface>();
    for (const [iface, vip] of Object.entries(this.spec.endpoints ?? {})) if (vip === name) out.add(iface as Interface);
    for (const c of this.expectedCatalog) if (c.vip === name) out.add(c.interface);
    const d = this.spec.dashboard;
    if (d?.enabled && d.vip === name) out.add('public');
    if (d?.enabled && d.internalVip === name) out.add('internal');
    return [...out];
  }

  /** Whether a VIP terminates TLS: it publishes a public interface under tls.external, or another under tls.internal. */
  vipTls(name: string): boolean {
    return this.vipInterfaces(name).some((i) => (i === 'public' ? this.tls.external : this.tls.internal));
  }

  /** Why the lab cannot do something, as its spec declares; undefined when it can. */
  lacks(capability: Capability): string | undefined {
    return this.spec.capabilities?.lacks?.[capability];
  }

  /** Resolve a path from the spec relative to the spec's folder. */
  path(p: string): string {
    return isAbsolute(p) ? p : resolve(this.dir, p);
  }

  /** The lab CA bundle the spec names (credentials.caFile), resolved against the spec's folder. */
  get caFile(): string | undefined {
    const ca = this.spec.credentials?.caFile;
    return ca ? this.path(ca) : undefined;
  }

  get tls() {
    const t = this.spec.tls;
    return {
      internal: t?.internal ?? false,
      external: t?.external ?? false,
      minVersion: t?.minVersion ?? 'TLSv1.2',
      minDaysValid: t?.minDaysValid ?? 30,
    };
  }

  get storagePhase(): number {
    return this.spec.storage?.phase ?? 1;
  }

  get cinderBackends(): readonly CinderBackendSpec[] {
    return this.spec.storage?.cinder?.backends ?? [];
  }

  get ceph(): CephSpec | undefined {
    return this.spec.storage?.ceph;
  }

  /** The catalog the lab must publish: every service × interface, with the VIP host and port. */
  get expectedCatalog(): CatalogExpectation[] {
    const out: CatalogExpectation[] = [];
    for (const [service, s] of Object.entries(this.spec.services ?? {})) {
      for (const iface of s.interfaces ?? ['public', 'internal']) {
        const vipName = (iface === 'public' && s.vip) || (iface === 'internal' && s.internalVip) || this.spec.endpoints?.[iface];
        if (!vipName) continue;
        const vip = this.vip(vipName);
        const tls = iface === 'public' ? this.tls.external : this.tls.internal;
        out.push({ service, type: s.type, interface: iface, vip: vip.name, host: vip.host, port: s.port, scheme: tls ? 'https' : 'http' });
      }
    }
    return out;
  }

  /** Forward records the lab's DNS must serve: every node's management address and every VIP FQDN. */
  get dnsRecords(): DnsRecord[] {
    const dns = this.spec.dns;
    if (!dns) return [];
    const records: DnsRecord[] = [];
    for (const node of this.nodes) {
      if (node.managementAddress) records.push({ name: `${node.hostname}.${dns.domain}`, address: node.managementAddress, what: `node ${node.name}` });
    }
    for (const vip of this.vips) {
      if (vip.fqdn && vip.fqdn.endsWith(`.${dns.domain}`)) records.push({ name: vip.fqdn, address: vip.address, what: `VIP ${vip.name}` });
    }
    for (const [name, address] of Object.entries(dns.records ?? {})) {
      records.push({ name: name.includes('.') ? name : `${name}.${dns.domain}`, address, what: `record ${name}` });
    }
    return records;
  }

  /** PTR records: one per forward record whose address lies in a lab network. */
  get ptrRecords(): { ptr: string; name: string; address: string; zone: string; what: string }[] {
    return this.dnsRecords.flatMap((r) => {
      const net = this.networks.find((n) => contains(n.cidr, r.address));
      return net ? [{ ptr: ptrName(r.address), name: r.name, address: r.address, zone: reverseZone(net.cidr), what: r.what }] : [];
    });
  }

  /** The Prometheus (job, instance) pairs the spec implies, from each job's roles or VIP. */
  get expectedTargets(): ScrapeTarget[] {
    const mon = this.spec.monitoring;
    if (!mon) return [];
    const out: ScrapeTarget[] = [];
    for (const job of mon.jobs) {
      let notExpected: string | undefined;
      if (job.phase !== undefined && job.phase > this.storagePhase) notExpected = `not yet due: phase ${job.phase}, lab is in storage phase ${this.storagePhase}`;
      else if (job.requires && this.lacks(job.requires)) notExpected = `lab lacks ${job.requires}: ${this.lacks(job.requires)}`;
      if (job.vip) {
        out.push({ job: job.job, instance: `${this.vip(job.vip).host}:${job.port}`, node: undefined, notExpected });
        continue;
      }
      for (const node of this.nodesWithRole(...((job.roles ?? ['all']) as (NodeRole | 'all')[]))) {
        if (!node.apiAddress) continue;
        out.push({ job: job.job, instance: `${node.apiAddress}:${job.port}`, node: node.name, notExpected });
      }
    }
    return out;
  }
}
