/** The lab spec as written in lab.yaml (see fixtures/schema/lab.schema.json, which is authoritative). */

export type Capability =
  | 'lvm'
  | 'iscsi-attach'
  | 'guest-dataplane'
  | 'kvm'
  | 'volume-attach'
  | 'grafana'
  | 'memcached-exporter'
  | 'cadvisor'
  | 'fluentd'
  | 'libvirt-exporter'
  | 'alertmanager'
  | 'openstack-exporter'
  | 'vrrp'
  | 'ssh'
  | 'juju'
  | 'maas'
  | 'vault'
  | 'magnum'
  | 'live-migration';

export type NodeRole =
  | 'control'
  | 'network'
  | 'compute'
  | 'storage'
  | 'monitoring'
  | 'loadbalancer'
  | 'dns'
  | 'database'
  | 'messaging'
  | 'ceph-mon'
  | 'ceph-mgr'
  | 'ceph-osd'
  | 'deploy';

export type NetworkPurpose =
  | 'management'
  | 'api'
  | 'tunnel'
  | 'external'
  | 'storage'
  | 'storage-replication'
  | 'octavia'
  | 'deploy';

export type Interface = 'public' | 'internal' | 'admin';

export interface RangeSpec {
  start: string;
  end: string;
}

export interface NetworkSpec {
  cidr: string;
  gateway?: string;
  mode?: 'shared' | 'host' | 'bridged' | 'user-v2' | 'physical' | 'bridge';
  purpose: NetworkPurpose[];
  isolated?: boolean;
  attach?: string[];
  mtu?: number;
  dhcp?: RangeSpec | false;
  description?: string;
}

export interface InterfaceSpec {
  name: string;
  network: string;
  address?: string;
  use?: 'address' | 'neutron-external' | 'vip';
  mtu?: number;
}

export interface DiskSpec {
  name: string;
  sizeGiB: number;
  use: 'lvm' | 'ceph-osd' | 'other';
  device?: string;
  format?: boolean;
}

export interface NodeSpec {
  hostname?: string;
  roles: NodeRole[];
  size?: { memoryGiB?: number; vcpus?: number; diskGiB?: number };
  disks?: DiskSpec[];
  interfaces: InterfaceSpec[];
}

export interface VipSpec {
  address: string;
  network: string;
  fqdn?: string;
  interface?: string;
  vrid?: number;
}

export interface ServiceSpec {
  type: string;
  port: number;
  path?: string;
  interfaces?: Interface[];
  /** The service's own public VIP (a charm's hacluster VIP on the provider space), instead of endpoints.public. */
  vip?: string;
  /** The service's own internal VIP (Charmed D-020: on the metal space), instead of endpoints.internal. */
  internalVip?: string;
}

/** Octavia as the loadbalancer layer builds and judges it (spec.loadbalancer). */
export interface LoadBalancerSpec {
  provider: 'ovn' | 'amphora';
  algorithm?: 'ROUND_ROBIN' | 'SOURCE_IP_PORT' | 'LEAST_CONNECTIONS';
  protocol?: 'HTTP' | 'TCP';
  port?: number;
  members?: number;
  requests?: number;
  healthMonitor?: { delaySeconds?: number; timeoutSeconds?: number; maxRetriesDown?: number; maxRetries?: number };
  failoverSeconds?: number;
  provisioningSeconds?: number;
  amphora?: { managementCidr?: string; imageTag?: string; flavor?: string };
}

export interface CinderBackendSpec {
  name: string;
  driver: 'lvm' | 'ceph' | 'nfs';
  phase: number;
  hosts?: string[];
  volumeType?: string;
  volumeGroup?: string;
  sizeGiB?: number;
  iscsiNetwork?: string;
  targetAddressPinned?: boolean;
  pool?: string;
  user?: string;
  iscsiPort?: number;
}

export interface CephSpec {
  phase: number;
  deployer?: 'cephadm' | 'charms' | 'manual' | 'packages';
  release?: string;
  mons: string[];
  mgrs?: string[];
  osds: { node: string; disk?: string }[];
  poolDefaultSize?: number;
  osdMemoryTargetBytes?: number;
  pools?: { name: string; size?: number; application?: string }[];
  clients?: Record<string, string[]>;
  consumers?: ('cinder' | 'glance' | 'nova' | 'cinder-backup')[];
  allowedWarnings?: string[];
  novaPool?: string;
  mgrPrometheusPort?: number;
}

export interface StorageSpec {
  phase: number;
  cinder?: {
    backends?: CinderBackendSpec[];
    backup?: { phase?: number; driver?: string };
  };
  ceph?: CephSpec;
}

export interface JobSpec {
  job: string;
  port: number;
  roles?: string[];
  vip?: string;
  phase?: number;
  requires?: Capability;
}

export interface MonitoringSpec {
  prometheus: {
    node?: string;
    vip?: string;
    port: number;
    tls?: boolean;
    basicAuthUser?: string;
    /** Key of the basic-auth password in credentials.secretsFile. */
    passwordKey?: string;
    scrapeIntervalSeconds?: number;
  };
  jobs: JobSpec[];
  grafana?: { port: number; vip?: string; datasource?: string; dashboards?: string[]; adminUser?: string; passwordKey?: string };
}

/** Where Kolla's container images come from (deployer.images). */
export interface KollaImages {
  source: 'published' | 'build';
  /** build: the node that runs kolla-build and the registry the nodes pull from. */
  registryNode?: string;
  registryPort?: number;
}

/** PostgreSQL streaming replication (seed 004: synchronous master-slave-slave with keepalived). */
export interface PostgresqlSpec {
  primary: string;
  standbys: string[];
  /** Standbys the primary waits for on commit; default: every standby. */
  synchronous?: string[];
  /** How many of `synchronous` confirm a commit (ANY n, quorum commit); default: every one (FIRST n). */
  quorum?: number;
  vip?: string;
  port?: number;
  /** ha.pg-write-visible writes through the VIP as this role, its password under passwordKey in the secrets file. */
  user?: string;
  passwordKey?: string;
  maxReplayLagSeconds?: number;
  /** The OpenStack services' databases live here, reached through `vip` (no MariaDB). */
  openstack?: boolean;
}

/** Central logging: the collector first, then the standbys a sender fails over to, in that order. */
export interface LoggingSpec {
  collectors: string[];
  port?: number;
  protocol?: 'tcp' | 'udp';
  failover?: boolean;
  /** Where a collector writes one file per sender (`<sender address>.log`); `{node}` is the collector's name. */
  directory?: string;
  /** Nodes that share one /dev/log: each rsyslog takes local messages on 127.0.0.1:<localPort>/udp. */
  localPort?: number;
  deliverySeconds?: number;
}

/** A queue policy as `rabbitmqctl set_policy` takes it, on vhost /. */
export interface RabbitmqPolicy {
  name: string;
  pattern: string;
  applyTo?: 'queues' | 'exchanges' | 'all';
  priority?: number;
  definition: Record<string, string | number | boolean>;
}

/** A RabbitMQ cluster: the first node forms it, the others join; checks read its management API as `user`. */
export interface RabbitmqSpec {
  nodes: string[];
  port?: number;
  managementPort?: number;
  distPort?: number;
  user?: string;
  passwordKey?: string;
  policy: RabbitmqPolicy;
}

/** OVN's NB and SB databases as RAFT clusters of these members (the first creates them, the others join). */
export interface OvnClusterSpec {
  nodes: string[];
  nbPort?: number;
  sbPort?: number;
  nbRaftPort?: number;
  sbRaftPort?: number;
}

/** A route a node needs to a network behind a gateway; the gateway's node answers on `probe`, inside destination. */
export interface StaticRouteSpec {
  node: string;
  destination: string;
  via: string;
  probe: string;
}

export interface LabSpec {
  name: string;
  title: string;
  design: string;
  release: string;
  provider: 'lima' | 'local' | 'none';
  deployer: {
    kind: 'kolla' | 'packages' | 'juju' | 'scripts';
    version?: string;
    containerEngine?: 'docker' | 'podman' | 'lxd' | 'lxc' | 'none';
    baseDistro?: string;
    baseRelease?: string;
    imageTagSuffix?: string;
    haproxySslSettings?: 'modern' | 'intermediate' | 'legacy';
    images?: KollaImages;
    /** Where the deployer's client runs (juju status): a node of the lab, or a host beside it. */
    client?: { node?: string; host?: { name: string; address: string }; model?: string };
  };
  region?: string;
  host?: {
    description?: string;
    memoryGiB: number;
    vcpus: number;
    diskGiB: number;
    reserve?: { memoryGiB?: number; vcpus?: number; diskGiB?: number };
  };
  networks: Record<string, NetworkSpec>;
  nodes: Record<string, NodeSpec>;
  vips?: Record<string, VipSpec>;
  endpoints?: Partial<Record<Interface, string>>;
  services?: Record<string, ServiceSpec>;
  tls?: {
    internal: boolean;
    external: boolean;
    minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
    minDaysValid?: number;
    ca?: string;
  };
  dns?: {
    domain: string;
    servers: { node: string; role?: 'primary' | 'secondary' }[];
    recursion?: string[];
    records?: Record<string, string>;
    /** dns.secondary-propagation: the bound for a change on the primary to reach every secondary. */
    propagationSeconds?: number;
  };
  postgresql?: PostgresqlSpec;
  logging?: LoggingSpec;
  rabbitmq?: RabbitmqSpec;
  ovnCluster?: OvnClusterSpec;
  staticRoutes?: StaticRouteSpec[];
  neutron?: {
    backend: 'ovn' | 'openvswitch' | 'linuxbridge';
    tenantNetworkType?: 'geneve' | 'vxlan' | 'vlan' | 'flat';
    physnet?: string;
    bridge?: string;
    distributedFip?: boolean;
    externalNetwork?: { name?: string; network: string; floatingRange: RangeSpec };
    tenantPool?: string;
    tenantSubnets?: string[];
    /** The DNS servers a subnet created without dns_nameservers gives its guests (ML2/OVN: `[ovn] dns_servers`). */
    tenantDnsServers?: string[];
    scratchSubnet?: string;
    ovnSouthbound?: { scheme?: 'tcp' | 'ssl'; port?: number; sslKey?: string; sslCert?: string; sslCa?: string };
  };
  compute?: {
    /** The nodes that run nova-compute (default: every node with role compute); empty: Nova's control plane only. */
    nodes?: string[];
    hypervisorType?: string;
    virtType?: 'kvm' | 'qemu' | 'fake';
    /** The run's guests ask for a config drive (default true, as Tempest does). */
    configDrive?: boolean;
    cpuMode?: string;
    cpuModel?: string;
    buildTimeoutSeconds?: number;
    /** compute.live-migration: the bound of the move, and of SSH answering again after it. */
    migrationTimeoutSeconds?: number;
    migrationSshSeconds?: number;
    /** A bootable image the lab provides for guests (compute.guest-reachable boots it and logs in over SSH). */
    guestImage?: { name: string; sshUser?: string; sshPort?: number };
  };
  storage?: StorageSpec;
  monitoring?: MonitoringSpec;
  /** Horizon: on the endpoint VIPs, or on a VIP pair of its own (vip, internalVip) as a charm with hacluster. */
  dashboard?: { enabled: boolean; port?: number; redirectHttp?: boolean; vip?: string; internalVip?: string };
  loadbalancer?: LoadBalancerSpec;
  credentials?: {
    cloud?: string;
    cloudsFile?: string;
    caFile?: string;
    sshUser?: string;
    sshPort?: number;
    sshKey?: string;
    sshKnownHosts?: string;
    secretsFile?: string;
    project?: { name?: string; domain?: string };
  };
  secrets?: string[];
  capabilities?: { lacks?: Partial<Record<Capability, string>> };
  gate?: { gated?: boolean };
  persistence?: boolean | { required?: boolean; recoverySeconds?: number };
}
