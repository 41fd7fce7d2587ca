/**
 * Values the checks and the local provider take from the lab spec, with the defaults the JSON schema
 * (fixtures/schema/lab.schema.json) documents for them; defaults.spec.ts holds the two to the same values.
 */
import type { Lab } from './model.ts';
import type { CinderBackendSpec } from './spec.ts';

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
} as const;

export const novaPool = (lab: Lab) => lab.ceph?.novaPool ?? DEFAULTS.novaPool;
export const cinderPool = (b: CinderBackendSpec) => b.pool ?? DEFAULTS.cinderPool;
export const volumeGroup = (b: CinderBackendSpec) => b.volumeGroup ?? DEFAULTS.volumeGroup;
export const iscsiPort = (b: CinderBackendSpec) => b.iscsiPort ?? DEFAULTS.iscsiPort;
export const mgrPrometheusPort = (lab: Lab) => lab.ceph?.mgrPrometheusPort ?? DEFAULTS.mgrPrometheusPort;
/** The run's guests ask for a config drive unless the spec says the cloud builds none (compute.configDrive). */
export const configDrive = (lab: Lab) => lab.spec.compute?.configDrive !== false;
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
