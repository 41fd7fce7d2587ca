/**
 * What a tenant builds to prove the cloud works: an image, a network with a subnet behind a router on the
 * external network, a security group, a port, a floating IP, a flavor, a key pair and a server. Each step is
 * made once per test file and shared by the checks that need it; every resource goes through the ledger.
 * Steps return data or throw errors with context; the checks assert.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ledger } from '../gate/ledger.ts';
import { configDrive, guestSsh, scratchSubnet } from '../lab/defaults.ts';
import type { Lab } from '../lab/model.ts';
import { ApiError, type Cloud } from './cloud.ts';
import { consoleHostKeys, GuestSession, sshRuns, type ConsoleHostKeys } from './guest.ts';
import { KINDS, REMOVAL_GROUPS } from './resources.ts';
import { GUEST_SCOPE, isSharedStep, targetedNodes, type GuestStep, type SharedGuest } from './shared-guest.ts';
import { caUserData } from './tenant-api.ts';
import { waitFor, type Transition } from './wait.ts';

export interface Image {
  id: string;
  name: string;
  status: string;
  checksum?: string;
  os_hash_algo?: string;
  os_hash_value?: string;
  size?: number;
}

export interface Network {
  id: string;
  name: string;
  status: string;
}

export interface Subnet {
  id: string;
  name: string;
  cidr: string;
  dns_nameservers: string[];
  gateway_ip: string | null;
  allocation_pools: { start: string; end: string }[];
}

export interface Router {
  id: string;
  name: string;
  external_gateway_info: { network_id: string; external_fixed_ips?: { ip_address: string }[] } | null;
}

export interface Port {
  id: string;
  name: string;
  status: string;
  device_id: string;
  device_owner: string;
  'binding:host_id'?: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
}

export interface FloatingIp {
  id: string;
  floating_ip_address: string;
  port_id: string | null;
  fixed_ip_address: string | null;
  status: string;
  description: string;
}

export interface SecurityGroup {
  id: string;
  name: string;
  security_group_rules: { direction: string; protocol: string | null; port_range_min: number | null; port_range_max: number | null; ethertype: string }[];
}

export interface Server {
  id: string;
  name: string;
  status: string;
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-SRV-ATTR:host'?: string;
  'OS-EXT-SRV-ATTR:hypervisor_hostname'?: string;
  fault?: { message: string; code: number; details?: string };
  addresses?: Record<string, { addr: string }[]>;
  key_name?: string | null;
}

export interface Booted {
  server: Server;
  transitions: Transition[];
  seconds: number;
}

/** A few KB of deterministic bytes: the test image the project makes itself (no download). */
export function testImageBytes(size = 64 * 1024): Buffer {
  const out = Buffer.alloc(size);
  const header = Buffer.from('stackgate test image\n');
  header.copy(out);
  let block = createHash('sha256').update('stackgate').digest();
  for (let at = header.length; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * An ed25519 key pair: the OpenSSH public key line (the key pair Nova injects) and the private key in OpenSSH's own
 * format (openssh-key-v1, unencrypted), which SSH clients (ssh2 among them) read.
 */
export function sshKeyPair(comment: string): { publicKey: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
  const u32 = (n: number) => Buffer.from([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  const str = (b: Buffer) => Buffer.concat([u32(b.length), b]);
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
  const check = randomBytes(4);
  let secret = Buffer.concat([check, check, str(Buffer.from('ssh-ed25519')), str(raw), str(Buffer.concat([seed, raw])), str(Buffer.from(comment))]);
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), str(Buffer.from('none')), str(Buffer.from('none')), str(Buffer.alloc(0)), u32(1), str(blob), str(secret)]);
  const pem = `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.toString('base64').replace(/.{1,70}/g, '$&\n')}-----END OPENSSH PRIVATE KEY-----\n`;
  return { publicKey: `ssh-ed25519 ${blob.toString('base64')} ${comment}`, privateKeyPem: pem };
}

const serverState = (s: Server) => `${s.status}/${s['OS-EXT-STS:task_state'] ?? '-'}`;

export interface TenantOptions {
  readonly sshKey?: { publicKey: string; privateKeyPem: string };
  /** The run's shared guest: its steps are read from there, not made here. */
  readonly shared?: SharedGuest;
}

export class Tenant {
  private readonly memo = new Map<string, Promise<unknown>>();
  /** Open SSH connections to the guests, by floating IP: this file's checks share one per guest. */
  private readonly sessions = new Map<string, Promise<GuestSession>>();
  readonly sshKey: { publicKey: string; privateKeyPem: string };
  private readonly shared?: SharedGuest;
  /** The ledger the shared steps were recorded in (by the main process); this one's own when nothing is shared. */
  private readonly sharedLedger: Ledger;
  constructor(
    readonly lab: Lab,
    readonly cloud: Cloud,
    readonly ledger: Ledger,
    options: TenantOptions = {},
  ) {
    this.sshKey = options.sshKey ?? sshKeyPair('stackgate');
    ledger.removalOrder = REMOVAL_GROUPS;
    this.shared = options.shared;
    this.sharedLedger = this.shared ? new Ledger(ledger.lab, undefined, GUEST_SCOPE) : ledger;
  }

  /**
   * Wait (at most `timeoutMs`) until every step this tenant began has settled: a cleanup that deletes a network while
   * a port prepare() began on it is still being created meets 409 and leaves the network behind.
   */
  async settled(timeoutMs = 60_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.allSettled([...this.memo.values()]), bound]).finally(() => clearTimeout(timer));
  }

  private once<T>(step: string, make: () => Promise<T>): Promise<T> {
    let p = this.memo.get(step) as Promise<T> | undefined;
    if (!p) this.memo.set(step, (p = this.shared && isSharedStep(step) ? this.shared.step<T>(step) : make()));
    return p;
  }

  /**
   * The nodes the run's guests are on, by spec name: every compute node where the spec has several (each guest targeted
   * by host), else one guest the scheduler places (`undefined`). The first is the guest of the plain steps.
   */
  guestNodes(): readonly (string | undefined)[] {
    const nodes = targetedNodes(this.lab);
    return nodes.length ? nodes : [undefined];
  }

  /**
   * The node of a guest after the first, whose step keys (`<step>@<node>`) and resource names (`vm-<node>`) carry it;
   * undefined for the first (or only) guest. A node the run boots no guest on is an error of the caller.
   */
  private other(node: string | undefined): string | undefined {
    if (node === undefined) return undefined;
    const nodes = targetedNodes(this.lab);
    const on = nodes.join(', ') || 'one, placed by the scheduler';
    if (!nodes.includes(node)) throw new Error(`lab ${this.lab.name}: the run boots no guest of its own on ${node} (guests on: ${on})`);
    return node === nodes[0] ? undefined : node;
  }

  private at(step: GuestStep, node: string | undefined): string {
    const other = this.other(node);
    return other ? `${step}@${other}` : step;
  }

  private guestWhat(what: string, node: string | undefined): string {
    const other = this.other(node);
    return other ? `${what}-${other}` : what;
  }

  /** The name of the server of the guest on `node` (sg-<run>-…-vm, -vm-<node> for the guests after the first). */
  guestName(node: string | undefined): string {
    return this.nameOf(this.guestWhat('vm', node));
  }

  /** A guest's name for messages: its server's name, and the node it was asked for on where the run targets nodes. */
  guestLabel(node: string | undefined): string {
    return `${this.guestName(node)}${node ? ` on ${node}` : ''}`;
  }

  /** The ID of the guest's server, looked up by its exact name (Nova's name filter is a regular expression). */
  async findServerId(node: string | undefined): Promise<string | undefined> {
    const name = encodeURIComponent(`^${this.guestName(node)}$`);
    const r = await this.cloud.get<{ servers: { id: string }[] }>('compute', `/servers?name=${name}`);
    return r.body.servers[0]?.id;
  }

  /** Read the guest's host keys from its console again (a guest that booted again made new ones). */
  forgetHostKeys(node: string | undefined): void {
    const step = this.at('host-keys', node);
    this.memo.delete(step);
    // From this console, not from the run's shared guest (which read the keys of the first boot).
    this.memo.set(step, this.readHostKeys(node));
  }

  /** The name a step's resource has (sg-<run>-[<scope>-]<what>), whether made here or shared. */
  nameOf(what: string): string {
    return this.sharedLedger.name(what);
  }

  readonly imageBytes = testImageBytes();

  /**
   * Start every step of the scenario at once (each still made once): the checks then wait only for their own
   * piece, and independent creations overlap. Failures surface in the check that awaits the step.
   */
  prepare(): void {
    // Only the steps whose service the catalog has: a lab with Glance but no Nova or Neutron (ha-infra) makes its
    // image and nothing else, not a ledger entry for each request that could never be sent.
    const has = (type: string) => this.cloud.catalog.some((s) => s.type === type);
    const steps: [string, () => Promise<unknown>][] = [
      ['image', () => this.image()], ['network', () => this.router()], ['network', () => this.securityGroup()],
      ['network', () => this.port()], ['network', () => this.floatingIp()], ['compute', () => this.flavor()],
      ['compute', () => this.keypair()],
    ];
    for (const [type, step] of steps) if (has(type)) step().catch(() => undefined);
  }

  /** Upload the test image and wait until Glance says active. */
  image(): Promise<Image> {
    return this.once('image', async () => {
      const c = this.cloud;
      const image = await this.ledger.create(
        'image',
        'image',
        async (name) => (await c.post<Image>('image', '/v2/images', { name, disk_format: 'raw', container_format: 'bare', visibility: 'private' })).body,
        (i) => KINDS.image!.remove(c, i.id),
      );
      await c.put('image', `/v2/images/${image.id}/file`, undefined, { data: this.imageBytes, ok: [204] });
      const { value } = await waitFor(() => c.get<Image>('image', `/v2/images/${image.id}`).then((r) => r.body), {
        what: `image ${image.name}`,
        timeoutMs: 120_000,
        state: (i) => i.status,
        done: (i) => i.status === 'active' || (['killed', 'deleted'].includes(i.status) ? `went to ${i.status}` : false),
      });
      return value;
    });
  }

  /**
   * The image servers boot: the spec's compute.guestImage (a bootable image the lab provides, found by name, active)
   * or, without one, the test image (which boots no guest).
   */
  bootImage(): Promise<Image> {
    return this.once('boot-image', async () => {
      const spec = this.lab.spec.compute?.guestImage;
      if (!spec) return this.image();
      const found = (await this.cloud.get<{ images: Image[] }>('image', `/v2/images?name=${encodeURIComponent(spec.name)}&status=active`)).body.images;
      if (found.length !== 1) throw new Error(`guest image "${spec.name}" (compute.guestImage): ${found.length === 0 ? 'no active image of that name in Glance' : `${found.length} active images have that name`}`);
      return found[0]!;
    });
  }

  /** The spec's external network, found by name; a clear error when it is missing. */
  externalNetwork(): Promise<{ id: string; name: string; 'provider:physical_network'?: string; 'provider:network_type'?: string; subnets: string[] }> {
    return this.once('external', async () => {
      const spec = this.lab.spec.neutron?.externalNetwork;
      if (!spec) throw new Error(`lab ${this.lab.name}: the spec names no neutron.externalNetwork`);
      const nets = (await this.cloud.get<{ networks: { id: string; name: string; subnets: string[] }[] }>('network', `/v2.0/networks?name=${encodeURIComponent(spec.name ?? '')}&router:external=true`)).body.networks;
      if (nets.length !== 1) throw new Error(`external network "${spec.name}" (neutron.externalNetwork.name): ${nets.length === 0 ? 'not found in Neutron' : `${nets.length} networks have that name`}`);
      return nets[0]!;
    });
  }

  /** A tenant network and subnet (CIDR from the spec's tenant subnets or pool). */
  network(): Promise<{ network: Network; subnet: Subnet }> {
    return this.once('network', () => this.makeNetwork('net', 'subnet'));
  }

  /**
   * Another tenant network, `what`, with a subnet that names no DNS servers and no router: what a tenant gets from
   * the cloud's defaults. Overlapping the scenario's subnet is fine: Neutron (Zed on) always allows it.
   */
  defaultsNetwork(what: string): Promise<{ network: Network; subnet: Subnet }> {
    return this.once(`defaults-${what}`, () => this.makeNetwork(what, `${what}-subnet`));
  }

  /** The subnet is not in the ledger: Neutron deletes it with its network. */
  private async makeNetwork(what: string, subnetWhat: string): Promise<{ network: Network; subnet: Subnet }> {
    const c = this.cloud;
    const network = await this.ledger.create(
      'network',
      what,
      async (name) => (await c.post<{ network: Network }>('network', '/v2.0/networks', { network: { name } })).body.network,
      (n) => KINDS.network!.remove(c, n.id),
    );
    const cidr = scratchSubnet(this.lab);
    const subnet = (
      await c.post<{ subnet: Subnet }>('network', '/v2.0/subnets', { subnet: { name: this.ledger.name(subnetWhat), network_id: network.id, ip_version: 4, cidr } })
    ).body.subnet;
    return { network, subnet };
  }

  /** A router with its gateway on the external network and an interface on the tenant subnet. */
  router(): Promise<Router> {
    return this.once('router', async () => {
      const c = this.cloud;
      const external = await this.externalNetwork();
      const { subnet } = await this.network();
      const router = await this.ledger.create(
        'router',
        'router',
        async (name) => (await c.post<{ router: Router }>('network', '/v2.0/routers', { router: { name, external_gateway_info: { network_id: external.id } } })).body.router,
        (r) => KINDS.router!.remove(c, r.id),
      );
      await c.put('network', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subnet.id });
      return router;
    });
  }

  /** A security group that lets SSH (at the guest image's port) and ICMP in. */
  securityGroup(): Promise<SecurityGroup> {
    return this.once('secgroup', async () => {
      const c = this.cloud;
      const group = await this.ledger.create(
        'security-group',
        'secgroup',
        async (name) => (await c.post<{ security_group: SecurityGroup }>('network', '/v2.0/security-groups', { security_group: { name } })).body.security_group,
        (g) => KINDS['security-group']!.remove(c, g.id),
      );
      for (const rule of [
        { protocol: 'tcp', port_range_min: guestSsh(this.lab).port, port_range_max: guestSsh(this.lab).port },
        { protocol: 'icmp', port_range_min: null, port_range_max: null },
      ]) {
        await c.post('network', '/v2.0/security-group-rules', { security_group_rule: { security_group_id: group.id, direction: 'ingress', ethertype: 'IPv4', ...rule } });
      }
      return (await c.get<{ security_group: SecurityGroup }>('network', `/v2.0/security-groups/${group.id}`)).body.security_group;
    });
  }

  /** A port on the tenant network with the security group: the server's NIC (of the guest on `node`). */
  port(node?: string): Promise<Port> {
    return this.once(this.at('port', node), async () => {
      const c = this.cloud;
      const { network } = await this.network();
      const group = await this.securityGroup();
      return this.ledger.create(
        'port',
        this.guestWhat('port', node),
        async (name) => (await c.post<{ port: Port }>('network', '/v2.0/ports', { port: { name, network_id: network.id, security_groups: [group.id] } })).body.port,
        (p) => KINDS.port!.remove(c, p.id),
      );
    });
  }

  /** A floating IP from the external network (its description carries the sg- name: FIPs have no name). */
  floatingIp(node?: string): Promise<FloatingIp> {
    return this.once(this.at('fip', node), async () => {
      const c = this.cloud;
      const external = await this.externalNetwork();
      await this.router(); // a FIP is only associable behind a router with a gateway on its network
      return this.ledger.create(
        'floatingip',
        this.guestWhat('fip', node),
        async (name) => (await c.post<{ floatingip: FloatingIp }>('network', '/v2.0/floatingips', { floatingip: { floating_network_id: external.id, description: name } })).body.floatingip,
        (f) => KINDS.floatingip!.remove(c, f.id),
      );
    });
  }

  flavor(): Promise<{ id: string; name: string }> {
    return this.once('flavor', async () => {
      const c = this.cloud;
      return this.ledger.create(
        'flavor',
        'flavor',
        async (name) => (await c.post<{ flavor: { id: string; name: string } }>('compute', '/flavors', { flavor: { name, ram: 128, vcpus: 1, disk: 1 } })).body.flavor,
        (f) => KINDS.flavor!.remove(c, f.id),
      );
    });
  }

  keypair(): Promise<{ id: string; name: string }> {
    return this.once('keypair', async () => {
      const c = this.cloud;
      return this.ledger.create(
        'keypair',
        'key',
        async (name) => {
          const k = (await c.post<{ keypair: { name: string } }>('compute', '/os-keypairs', { keypair: { name, public_key: this.sshKey.publicKey } })).body.keypair;
          return { id: k.name, name: k.name };
        },
        (k) => KINDS.keypair!.remove(c, k.id),
      );
    });
  }

  /**
   * Boot from the test image on the tenant port; wait ACTIVE within the spec's build timeout. Where the run has a guest
   * per compute node, the server of `node` (the first compute node's by default) is asked for on that node's host
   * (Nova 2.74 `host`, admin only): the scheduler still checks that it fits there.
   */
  server(node?: string): Promise<Booted> {
    return this.once(this.at('server', node), async () => {
      const c = this.cloud;
      const [image, flavor, keypair, port] = await Promise.all([
        this.bootImage(), this.flavor(), this.keypair(), this.port(node),
      ]);
      const target = this.targetHost(node);
      // The lab CA goes to the guest as a cloud ships it to its tenants: in the user data (config drive or metadata
      // service).
      const ca = this.cloud.credentials.cacert;
      const userData = ca ? caUserData(readFileSync(ca, 'utf8')) : undefined;
      const extra = userData ? { user_data: Buffer.from(userData).toString('base64') } : {};
      const t0 = Date.now();
      const placed = target ? { host: target } : {};
      const version = target ? { headers: { 'x-openstack-nova-api-version': '2.74' } } : undefined;
      const created = await this.ledger.create(
        'server',
        this.guestWhat('vm', node),
        async (name) => {
          // A config drive as Tempest asks for one: what a cloud that cannot build it (no genisoimage) fails on.
          const drive = configDrive(this.lab) ? { config_drive: true } : {};
          const server = {
            name, imageRef: image.id, flavorRef: flavor.id, key_name: keypair.name, networks: [{ port: port.id }],
            ...extra, ...placed, ...drive,
          };
          return (await c.post<{ server: { id: string } }>('compute', '/servers', { server }, version)).body.server;
        },
        (s) => KINDS.server!.remove(c, s.id),
      );
      const timeoutMs = (this.lab.spec.compute?.buildTimeoutSeconds ?? 900) * 1000;
      const { value, transitions } = await waitFor(() => this.getServer(created.id), {
        what: `server ${this.guestLabel(node)}`,
        timeoutMs,
        // Every poll's delay is the whole run's: the guest's boot is its longest path.
        intervalMs: 500,
        steady: true,
        state: serverState,
        done: (s) => s.status === 'ACTIVE' || (s.status === 'ERROR' ? `went to ERROR: ${s.fault?.message ?? 'no fault recorded'}` : false),
      });
      return { server: value, transitions, seconds: (Date.now() - t0) / 1000 };
    });
  }

  /** The Nova host a guest is asked for on: the node's host name where the run targets nodes, else none. */
  targetHost(node: string | undefined): string | undefined {
    const nodes = targetedNodes(this.lab);
    if (nodes.length === 0) return undefined;
    return this.lab.node(node ?? nodes[0]!).hostname;
  }

  async getServer(id: string): Promise<Server> {
    return (await this.cloud.get<{ server: Server }>('compute', `/servers/${id}`)).body.server;
  }

  /** The server's instance actions with their events: what the scheduler and compute said. */
  async serverActions(id: string): Promise<unknown> {
    try {
      const actions = (await this.cloud.get<{ instanceActions: { request_id: string }[] }>('compute', `/servers/${id}/os-instance-actions`)).body.instanceActions;
      return await Promise.all(
        actions.map(async (a) => (await this.cloud.get('compute', `/servers/${id}/os-instance-actions/${a.request_id}`, { headers: { 'x-openstack-nova-api-version': '2.51' } })).body),
      );
    } catch (error) {
      return `instance actions unavailable: ${(error as Error).message}`;
    }
  }

  /** The server's console log: its last `lines` lines, or all of it (lines: undefined). */
  async consoleLog(id: string, lines: number | undefined = 100): Promise<string> {
    return (await this.cloud.post<{ output: string }>('compute', `/servers/${id}/action`, { 'os-getConsoleOutput': lines === undefined ? {} : { length: lines } })).body.output;
  }

  /** Nova's compute services, one line: "node2 up (enabled), node3 down (disabled: reason)". */
  async computeServices(): Promise<string> {
    try {
      const services = (await this.cloud.get<{ services: { host: string; state: string; status: string; disabled_reason?: string | null }[] }>('compute', '/os-services?binary=nova-compute')).body.services;
      return services.map((s) => `${s.host} ${s.state} (${s.status}${s.disabled_reason ? `: ${s.disabled_reason}` : ''})`).join(', ') || 'none registered';
    } catch (error) {
      return `unknown (${(error as Error).message})`;
    }
  }

  async getPort(id: string): Promise<Port | undefined> {
    const r = await this.cloud.get<{ port: Port }>('network', `/v2.0/ports/${id}`, { ok: [200, 404] });
    return r.status === 404 ? undefined : r.body.port;
  }

  async getFloatingIp(id: string): Promise<FloatingIp> {
    return (await this.cloud.get<{ floatingip: FloatingIp }>('network', `/v2.0/floatingips/${id}`)).body.floatingip;
  }

  /** Associate the floating IP with the server's port (of the guest on `node`). */
  associate(node?: string): Promise<FloatingIp> {
    return this.once(this.at('associate', node), async () => {
      const [fip, port] = await Promise.all([this.floatingIp(node), this.port(node)]);
      await this.server(node);
      return (await this.cloud.put<{ floatingip: FloatingIp }>('network', `/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: port.id } })).body.floatingip;
    });
  }

  /** The guest's SSH host keys from its console: it prints them before it starts its SSH server. */
  hostKeys(node?: string): Promise<ConsoleHostKeys> {
    return this.once(this.at('host-keys', node), () => this.readHostKeys(node));
  }

  private async readHostKeys(node: string | undefined): Promise<ConsoleHostKeys> {
    const { server } = await this.server(node);
    const { value } = await waitFor(async () => consoleHostKeys(await this.consoleLog(server.id, undefined)), {
      what: `the SSH host key on the console of ${server.name}`,
      timeoutMs: 120_000,
      intervalMs: 500,
      steady: true,
      state: (k) => `${k.fingerprints.length} host key(s) on the console`,
      done: (k) => k.fingerprints.length > 0,
    });
    return value;
  }

  /**
   * Run a command on the guest (on `node`) over SSH at its floating IP, the host key verified against the one its
   * console showed at its first boot (read once: a guest that moved must still present it). The file's checks share
   * one connection per guest; `fresh` logs in anew, for a check whose claim is the login itself.
   */
  async guestRuns(command: string, withinMs = 180_000, node?: string, fresh = false): Promise<string> {
    const [fip, keys] = await Promise.all([this.associate(node), this.hostKeys(node)]);
    const { user, port } = guestSsh(this.lab);
    const address = fip.floating_ip_address;
    const options = { user, port, hostKeys: keys, withinMs };
    if (fresh) return sshRuns(address, this.sshKey.privateKeyPem, command, options);
    const open = () => GuestSession.open(address, this.sshKey.privateKeyPem, options);
    const kept = this.sessions.get(address);
    if (kept) {
      const live = await kept.catch(() => undefined);
      if (live?.alive) {
        try {
          return await live.run(command);
        } catch {
          // The connection broke (a reboot, a move): log in anew below.
        }
      }
      if (this.sessions.get(address) === kept) this.sessions.delete(address);
      live?.close();
    }
    const session = this.sessions.get(address) ?? open();
    this.sessions.set(address, session);
    try {
      return await (await session).run(command);
    } catch (error) {
      if (this.sessions.get(address) === session) this.sessions.delete(address);
      (await session.catch(() => undefined))?.close();
      throw error;
    }
  }

  /** Close the connections guestRuns kept (before a guest's address goes away, and at the file's end). */
  async closeGuestSessions(): Promise<void> {
    const open = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of await Promise.allSettled(open)) if (s.status === 'fulfilled') s.value.close();
  }

  /**
   * Wait until the checks of other layers that use the shared guest are done with it (none without one); returns
   * those still holding it when their bound ran out.
   */
  async whenOthersDone(boundMs = 700_000): Promise<string[]> {
    return this.shared ? this.shared.othersDone(boundMs) : [];
  }

  /** Delete the server through the ledger, once no other check uses it, and wait until Nova no longer knows it. */
  async deleteServer(): Promise<{ seconds: number }> {
    const { server } = await this.server();
    await this.whenOthersDone();
    const t0 = Date.now();
    await this.remove('server', server.id);
    return { seconds: (Date.now() - t0) / 1000 };
  }

  /** Delete a resource of the scenario now (a check that proves deletion), keeping its ledger true. */
  async remove(kind: 'server' | 'port', id: string): Promise<void> {
    if (!this.shared) return this.ledger.remove(kind, id);
    await KINDS[kind]!.remove(this.cloud, id);
    this.sharedLedger.record(kind, this.nameOf(kind === 'server' ? 'vm' : 'port'), 'deleted', id);
  }

  /** What an operator needs when a server step fails: fault, state history, actions, console, port binding. */
  async diagnosis(serverId?: string, node?: string): Promise<string> {
    const parts: string[] = [];
    const port = (this.memo.get(this.at('port', node)) as Promise<Port> | undefined)?.catch(() => undefined);
    if (serverId) {
      try {
        const s = await this.getServer(serverId);
        parts.push(`server ${s.name}: ${serverState(s)} host=${s['OS-EXT-SRV-ATTR:host'] ?? '-'}${s.fault ? ` fault: ${s.fault.message}` : ''}`);
      } catch (error) {
        parts.push(`server ${serverId}: ${(error as Error).message}`);
      }
      parts.push(`instance actions: ${JSON.stringify(await this.serverActions(serverId), null, 1)}`);
      try {
        parts.push(`console log:\n${await this.consoleLog(serverId)}`);
      } catch (error) {
        parts.push(`console log unavailable: ${error instanceof ApiError ? error.message : String(error)}`);
      }
    }
    const p = await port;
    if (p) {
      const now = await this.getPort(p.id).catch(() => undefined);
      parts.push(`port ${p.name}: ${now ? `status ${now.status}, binding host ${now['binding:host_id'] || '-'}, device ${now.device_owner || '-'} ${now.device_id || ''}` : 'gone'}`);
    }
    parts.push(`requests:\n${this.cloud.trailText()}`);
    const shared = this.shared?.state?.trail;
    if (shared) parts.push(`requests of the run's shared guest (main process):\n${shared}`);
    return parts.join('\n');
  }
}
