/**
 * Values the checks and the local provider take from the lab spec, with the defaults the JSON schema
 * (fixtures/schema/lab.schema.json) documents for them; defaults.spec.ts holds the two to the same values.
 */
import type { Lab } from './model.ts';
import type { CinderBackendSpec, LoadBalancerSpec } from './spec.ts';

export const DEFAULTS = {
  /** Kolla's ceph_nova_pool_name. */
  novaPool: 'vms',
  /** Kolla's ceph_cinder_pool_name. */
  cinderPool: 'volumes',
  /** Kolla's cinder_volume_group. */
  volumeGroup: 'cinder-volumes',
  iscsiPort: 3260,
  /** Ceph's mgr prometheus module (server_port). */
  mgrPrometheusPort: 9283,
  sshUser: 'root',
  sshPort: 22,
  /** The subnet of the checks' own tenant network when the spec names no tenant subnet or pool. */
  scratchSubnet: '10.199.0.0/24',
  ovnSouthboundScheme: 'tcp',
  ovnSouthboundPort: 6642,
  projectName: 'admin',
  projectDomain: 'Default',
  recoverySeconds: 300,
  migrationTimeoutSeconds: 300,
  migrationSshSeconds: 120,
  lbPort: 80,
  lbMembers: 2,
  lbRequests: 40,
  lbDelaySeconds: 3,
  lbTimeoutSeconds: 2,
  lbMaxRetriesDown: 2,
  lbMaxRetries: 2,
  lbProvisioningSeconds: 300,
  amphoraImageTag: 'amphora',
  amphoraFlavor: 'amphora',
} as const;

export const novaPool = (lab: Lab) => lab.ceph?.novaPool ?? DEFAULTS.novaPool;
export const cinderPool = (b: CinderBackendSpec) => b.pool ?? DEFAULTS.cinderPool;
export const volumeGroup = (b: CinderBackendSpec) => b.volumeGroup ?? DEFAULTS.volumeGroup;
export const iscsiPort = (b: CinderBackendSpec) => b.iscsiPort ?? DEFAULTS.iscsiPort;
export const mgrPrometheusPort = (lab: Lab) => lab.ceph?.mgrPrometheusPort ?? DEFAULTS.mgrPrometheusPort;
/** The run's guests ask for a config drive unless the spec says the cloud builds none (compute.configDrive). */
export const configDrive = (lab: Lab) => lab.spec.compute?.configDrive !== false;

/** Why no compute node can be judged: none has role compute, or the spec's compute.nodes runs nova-compute on none. */
export function noNovaCompute(lab: Lab): string {
  const withRole = lab.nodesWithRole('compute').map((n) => n.name);
  if (withRole.length === 0) return 'the spec has no compute node';
  return `the spec runs nova-compute on no node (compute.nodes is empty; ${withRole.join(', ')} has role compute ` +
    'but runs none)';
}
/** The user node checks log in as over SSH (and run Ceph's tools as, through sudo when not root). */
export const sshUser = (lab: Lab) => lab.spec.credentials?.sshUser ?? DEFAULTS.sshUser;
export const sshPort = (lab: Lab) => lab.spec.credentials?.sshPort ?? DEFAULTS.sshPort;
/** compute.live-migration's bounds: the move itself, then SSH on the floating IP again (seconds). */
export const migrationBounds = (lab: Lab) => ({
  moveSeconds: lab.spec.compute?.migrationTimeoutSeconds ?? DEFAULTS.migrationTimeoutSeconds,
  sshSeconds: lab.spec.compute?.migrationSshSeconds ?? DEFAULTS.migrationSshSeconds,
});
/** The guest image's SSH login: the user and port the tenant's security group opens. */
export const guestSsh = (lab: Lab) => ({
  user: lab.spec.compute?.guestImage?.sshUser ?? DEFAULTS.sshUser,
  port: lab.spec.compute?.guestImage?.sshPort ?? DEFAULTS.sshPort,
});

/** The subnet of the checks' own tenant network: neutron.scratchSubnet, else the first tenant subnet, else a /24 of the pool. */
export function scratchSubnet(lab: Lab): string {
  const n = lab.spec.neutron;
  return n?.scratchSubnet ?? n?.tenantSubnets?.[0] ?? n?.tenantPool?.replace(/\/\d+$/, '/24') ?? DEFAULTS.scratchSubnet;
}

/** The project the user's token must be scoped to. */
export const tokenProject = (lab: Lab) => ({
  name: lab.spec.credentials?.project?.name ?? DEFAULTS.projectName,
  domain: lab.spec.credentials?.project?.domain ?? DEFAULTS.projectDomain,
});

export interface OvnSouthbound {
  readonly scheme: 'tcp' | 'ssl';
  readonly port: number;
  /** For ssl: the client's key, certificate and CA on the node where ovn-sbctl runs. */
  readonly ssl?: { key: string; cert: string; ca: string };
}

export function ovnSouthbound(lab: Lab): OvnSouthbound {
  const sb = lab.spec.neutron?.ovnSouthbound;
  const scheme = sb?.scheme ?? DEFAULTS.ovnSouthboundScheme;
  const port = sb?.port ?? DEFAULTS.ovnSouthboundPort;
  if (scheme === 'tcp') return { scheme, port };
  if (!sb?.sslKey || !sb.sslCert || !sb.sslCa) {
    throw new Error(`lab ${lab.name}: neutron.ovnSouthbound.scheme is ssl, so sslKey, sslCert and sslCa (paths on the OVN central node) must be given`);
  }
  return { scheme, port, ssl: { key: sb.sslKey, cert: sb.sslCert, ca: sb.sslCa } };
}

/** ARC-04: whether the lab must survive a reboot, and how long a rebooted node or lab has to come back. */
export function persistence(lab: Lab): { required: boolean; recoverySeconds: number } {
  const p = lab.spec.persistence;
  const o = typeof p === 'object' ? p : { required: p ?? false };
  return { required: o.required ?? true, recoverySeconds: o.recoverySeconds ?? DEFAULTS.recoverySeconds };
}

/** Slack over the health monitor's own detection time: the provider reports a probe's verdict to Octavia's API. */
export const LB_STATUS_SLACK_SECONDS = 30;

/** What the loadbalancer layer builds and how it judges it (spec.loadbalancer), every default filled in. */
export interface LoadBalancerPlan {
  readonly provider: LoadBalancerSpec['provider'];
  readonly algorithm: NonNullable<LoadBalancerSpec['algorithm']>;
  readonly protocol: NonNullable<LoadBalancerSpec['protocol']>;
  readonly port: number;
  readonly members: number;
  readonly requests: number;
  readonly healthMonitor: { delay: number; timeout: number; maxRetriesDown: number; maxRetries: number; type: 'HTTP' | 'TCP' };
  /** How long a member may take to leave the pool after its server stopped, or to come back after it started. */
  readonly failoverSeconds: number;
  readonly provisioningSeconds: number;
}

/**
 * The spec's load balancer with its defaults: the ovn provider (Zed) takes only SOURCE_IP_PORT and TCP (UDP, SCTP),
 * so those are its defaults; amphora's are Octavia's own, ROUND_ROBIN over HTTP.
 */
export function loadBalancer(lab: Lab): LoadBalancerPlan | undefined {
  const s = lab.spec.loadbalancer;
  if (!s) return undefined;
  const ovn = s.provider === 'ovn';
  const hm = s.healthMonitor ?? {};
  const delay = hm.delaySeconds ?? DEFAULTS.lbDelaySeconds;
  const timeout = hm.timeoutSeconds ?? DEFAULTS.lbTimeoutSeconds;
  const maxRetriesDown = hm.maxRetriesDown ?? DEFAULTS.lbMaxRetriesDown;
  const protocol = s.protocol ?? (ovn ? 'TCP' : 'HTTP');
  return {
    provider: s.provider,
    algorithm: s.algorithm ?? (ovn ? 'SOURCE_IP_PORT' : 'ROUND_ROBIN'),
    protocol,
    port: s.port ?? DEFAULTS.lbPort,
    members: s.members ?? DEFAULTS.lbMembers,
    requests: s.requests ?? DEFAULTS.lbRequests,
    healthMonitor: { delay, timeout, maxRetriesDown, maxRetries: hm.maxRetries ?? DEFAULTS.lbMaxRetries, type: protocol },
    failoverSeconds: s.failoverSeconds ?? delay * maxRetriesDown + timeout + LB_STATUS_SLACK_SECONDS,
    provisioningSeconds: s.provisioningSeconds ?? DEFAULTS.lbProvisioningSeconds,
  };
}

/** What the ovn provider driver of Zed refuses (ovn_octavia_provider 3.0.0, common/constants.py): its spec is wrong. */
export function ovnProviderProblems(s: LoadBalancerSpec): { path: string; message: string }[] {
  if (s.provider !== 'ovn') return [];
  const out: { path: string; message: string }[] = [];
  if (s.algorithm && s.algorithm !== 'SOURCE_IP_PORT') {
    out.push({ path: '/loadbalancer/algorithm', message: `the ovn provider takes only SOURCE_IP_PORT, not ${s.algorithm}` });
  }
  if (s.protocol === 'HTTP') out.push({ path: '/loadbalancer/protocol', message: 'the ovn provider takes TCP, UDP or SCTP, not HTTP' });
  if (s.amphora) out.push({ path: '/loadbalancer/amphora', message: 'the ovn provider runs no amphora' });
  return out;
}
