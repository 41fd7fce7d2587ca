/**
 * What the loadbalancer layer builds, as a tenant would: a network of its own behind a router, a security group and
 * a floating IP per member, member servers that serve their own name over HTTP (busybox httpd, started over SSH), and
 * a load balancer with a listener, a pool, the members and a health monitor, its VIP behind a floating IP. Each step
 * is made once and shared by the checks of the file; every resource goes through the file's ledger (the listener,
 * pool, members and health monitor go with their load balancer: it is deleted with cascade).
 *
 * It shares nothing with other files' tenants, and it boots its members before it makes the health monitor: the OVN
 * provider (ovn-octavia-provider 3.0.0) probes members from the address of the network's metadata port, and a guest
 * booted on that network after that gets no metadata (README, "Load balancers").
 */
import { readFileSync } from 'node:fs';
import type { Ledger } from '../gate/ledger.ts';
import { configDrive, guestSsh, loadBalancer, type LoadBalancerPlan } from '../lab/defaults.ts';
import type { Lab } from '../lab/model.ts';
import type { Cloud } from './cloud.ts';
import { consoleHostKeys, sshRuns, type ConsoleHostKeys } from './guest.ts';
import { LB, lbSettled, statusLines, statusOf, statusTree, type LoadBalancer, type Member } from './loadbalancer.ts';
import { KINDS } from './resources.ts';
import { caUserData } from './tenant-api.ts';
import { Tenant, type FloatingIp, type Port, type SecurityGroup, type Server } from './tenant.ts';
import { waitFor, type Transition } from './wait.ts';

export interface Built {
  readonly lb: LoadBalancer;
  readonly listenerId: string;
  readonly poolId: string;
  /** The Octavia member of each member server, in member order. */
  readonly members: readonly Member[];
  readonly healthMonitorId: string;
}

/** The member servers' names end so (sg-<run>-lb-member-2): the drills find a member's objects by it. */
export const memberWhat = (i: number) => `member-${i + 1}`;

export class LbTenant {
  readonly plan: LoadBalancerPlan;
  /** Every wait of the load balancer's objects, for a failure's message. */
  readonly history: string[] = [];
  private readonly base: Tenant;
  private readonly memo = new Map<string, Promise<unknown>>();
  private readonly keys = new Map<number, ConsoleHostKeys>();

  constructor(
    readonly lab: Lab,
    readonly cloud: Cloud,
    readonly ledger: Ledger,
    readonly sshKey: { publicKey: string; privateKeyPem: string },
  ) {
    const plan = loadBalancer(lab);
    if (!plan) throw new Error(`lab ${lab.name}: the spec has no loadbalancer section`);
    this.plan = plan;
    this.base = new Tenant(lab, cloud, ledger, { sshKey });
  }

  private once<T>(step: string, make: () => Promise<T>): Promise<T> {
    let p = this.memo.get(step) as Promise<T> | undefined;
    if (!p) this.memo.set(step, (p = make()));
    return p;
  }

  get indexes(): number[] {
    return Array.from({ length: this.plan.members }, (_, i) => i);
  }

  /** The name each member serves: its server's name. */
  memberName(i: number): string {
    return this.ledger.name(memberWhat(i));
  }

  network() {
    return this.base.network();
  }

  /** Start what does not depend on anything else; failures surface where a check awaits the step. */
  prepare(): void {
    const steps = [this.base.router(), this.base.flavor(), this.base.keypair(), ...this.indexes.map((i) => this.floatingIp(i))];
    for (const s of [...steps, this.loadBalancer()]) s.catch(() => undefined);
  }

  /** A security group per member (SSH at the guest's port, ICMP, the listener's port), so one can be closed alone. */
  securityGroup(i: number): Promise<SecurityGroup> {
    return this.once(`secgroup-${i}`, async () => {
      const c = this.cloud;
      const group = await this.ledger.create(
        'security-group',
        `${memberWhat(i)}-secgroup`,
        async (name) => (await c.post<{ security_group: SecurityGroup }>('network', '/v2.0/security-groups', { security_group: { name } })).body.security_group,
        (g) => KINDS['security-group']!.remove(c, g.id),
      );
      const tcp = (port: number) => ({ protocol: 'tcp', port_range_min: port, port_range_max: port });
      for (const rule of [tcp(guestSsh(this.lab).port), tcp(this.plan.port), { protocol: 'icmp' }]) {
        const body = { security_group_rule: { security_group_id: group.id, direction: 'ingress', ethertype: 'IPv4', ...rule } };
        await c.post('network', '/v2.0/security-group-rules', body);
      }
      return group;
    });
  }

  port(i: number): Promise<Port> {
    return this.once(`port-${i}`, async () => {
      const c = this.cloud;
      const [{ network }, group] = await Promise.all([this.base.network(), this.securityGroup(i)]);
      return this.ledger.create(
        'port',
        `${memberWhat(i)}-port`,
        async (name) => (await c.post<{ port: Port }>('network', '/v2.0/ports', { port: { name, network_id: network.id, security_groups: [group.id] } })).body.port,
        (p) => KINDS.port!.remove(c, p.id),
      );
    });
  }

  /** A floating IP (what: member-N-fip or vip-fip); its description carries the sg- name. */
  private newFloatingIp(what: string): Promise<FloatingIp> {
    return this.once(`fip-${what}`, async () => {
      const c = this.cloud;
      const external = await this.base.externalNetwork();
      await this.base.router();
      return this.ledger.create(
        'floatingip',
        what,
        async (name) => (await c.post<{ floatingip: FloatingIp }>('network', '/v2.0/floatingips', { floatingip: { floating_network_id: external.id, description: name } })).body.floatingip,
        (f) => KINDS.floatingip!.remove(c, f.id),
      );
    });
  }

  floatingIp(i: number): Promise<FloatingIp> {
    return this.newFloatingIp(`${memberWhat(i)}-fip`);
  }

  /** One member's server, booted with a config drive and the lab CA in its user data; ACTIVE within the build bound. */
  private bootMember(i: number): Promise<Server> {
    return this.once(`boot-${i}`, async () => {
      const c = this.cloud;
      const [image, flavor, keypair, port] = await Promise.all([this.base.bootImage(), this.base.flavor(), this.base.keypair(), this.port(i)]);
      const ca = c.credentials.cacert;
      const userData = ca ? caUserData(readFileSync(ca, 'utf8')) : undefined;
      const created = await this.ledger.create(
        'server',
        memberWhat(i),
        async (name) => {
          const server = {
            name, imageRef: image.id, flavorRef: flavor.id, key_name: keypair.name, networks: [{ port: port.id }],
            ...(userData ? { user_data: Buffer.from(userData).toString('base64') } : {}),
            ...(configDrive(this.lab) ? { config_drive: true } : {}),
          };
          return (await c.post<{ server: { id: string } }>('compute', '/servers', { server })).body.server;
        },
        (s) => KINDS.server!.remove(c, s.id),
      );
      return this.untilServer(created.id, 'ACTIVE', `member server ${this.memberName(i)}`);
    });
  }

  /** Every member server at once (side by side, before any health monitor exists), each ACTIVE. */
  servers(): Promise<Server[]> {
    return this.once('servers', () => Promise.all(this.indexes.map((i) => this.bootMember(i))));
  }

  private async untilServer(id: string, want: 'ACTIVE' | 'SHUTOFF', what: string): Promise<Server> {
    const { value } = await waitFor(async () => (await this.cloud.get<{ server: Server }>('compute', `/servers/${id}`)).body.server, {
      what,
      timeoutMs: (this.lab.spec.compute?.buildTimeoutSeconds ?? 900) * 1000,
      intervalMs: 1000,
      state: (s) => `${s.status}/${s['OS-EXT-STS:task_state'] ?? '-'}`,
      done: (s) => s.status === want || (s.status === 'ERROR' ? `went to ERROR: ${s.fault?.message ?? 'no fault recorded'}` : false),
    });
    return value;
  }

  /** The member's floating IP on its port, once its server is ACTIVE. */
  private associated(i: number): Promise<FloatingIp> {
    return this.once(`associate-${i}`, async () => {
      const [fip, port] = await Promise.all([this.floatingIp(i), this.port(i)]);
      await this.servers();
      return (await this.cloud.put<{ floatingip: FloatingIp }>('network', `/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: port.id } })).body.floatingip;
    });
  }

  private async hostKeys(i: number): Promise<ConsoleHostKeys> {
    const known = this.keys.get(i);
    if (known) return known;
    const server = (await this.servers())[i]!;
    const { value } = await waitFor(async () => consoleHostKeys(await this.consoleLog(server.id)), {
      what: `the SSH host key on the console of ${server.name}`,
      timeoutMs: 180_000,
      intervalMs: 2000,
      state: (k) => `${k.fingerprints.length} host key(s) on the console`,
      done: (k) => k.fingerprints.length > 0,
    });
    this.keys.set(i, value);
    return value;
  }

  consoleLog(serverId: string): Promise<string> {
    return this.base.consoleLog(serverId, undefined);
  }

  /** A command on member i over SSH at its floating IP, the host key checked against its console. */
  async onMember(i: number, command: string, withinMs = 180_000): Promise<string> {
    const [fip, keys] = await Promise.all([this.associated(i), this.hostKeys(i)]);
    const { user, port } = guestSsh(this.lab);
    return sshRuns(fip.floating_ip_address, this.sshKey.privateKeyPem, command, { user, port, hostKeys: keys, withinMs });
  }

  /** busybox httpd on the listener's port, serving the member's own name (started again after a reboot). */
  startHttpd(i: number): Promise<string> {
    const dir = '/run/sg-www';
    const script = [
      `mkdir -p ${dir}`,
      `echo ${this.memberName(i)} >${dir}/index.html`,
      // killall fails when none runs (the first start): that must not end the chain.
      '{ killall httpd 2>/dev/null; true; }',
      `httpd -p ${this.plan.port} -h ${dir}`,
      `wget -q -O - http://127.0.0.1:${this.plan.port}/`,
    ].join(' && ');
    return this.onMember(i, script);
  }

  /** Every member serving: its server ACTIVE, its key taken, httpd answering its name on the guest itself. */
  serving(): Promise<void> {
    return this.once('serving', async () => {
      await Promise.all(this.indexes.map(async (i) => {
        const out = await this.startHttpd(i);
        if (!out.includes(this.memberName(i))) throw new Error(`member ${this.memberName(i)}: httpd answered "${out.slice(0, 80)}", not its name`);
      }));
    });
  }

  /** The load balancer on the tenant subnet, with the spec's provider; ACTIVE. */
  loadBalancer(): Promise<LoadBalancer> {
    return this.once('lb', async () => {
      const c = this.cloud;
      const { subnet } = await this.base.network();
      await this.base.router();
      const lb = await this.ledger.create(
        'loadbalancer',
        'lb',
        async (name) => {
          const body = { loadbalancer: { name, vip_subnet_id: subnet.id, provider: this.plan.provider } };
          return (await c.post<{ loadbalancer: LoadBalancer }>(LB, '/v2/lbaas/loadbalancers', body)).body.loadbalancer;
        },
        (l) => KINDS.loadbalancer!.remove(c, l.id),
      );
      return lbSettled(c, lb.id, `load balancer ${lb.name}`, this.bound(), this.history);
    });
  }

  private bound(): number {
    return this.plan.provisioningSeconds * 1000;
  }

  /**
   * Listener, pool and members on the load balancer, then — once every member serves — the health monitor, each
   * change waited out until the load balancer is ACTIVE again.
   */
  built(): Promise<Built> {
    return this.once('built', async () => {
      const c = this.cloud;
      const lb = await this.loadBalancer();
      const settle = (what: string) => lbSettled(c, lb.id, what, this.bound(), this.history);
      const p = this.plan;
      const listener = (await c.post<{ listener: { id: string } }>(LB, '/v2/lbaas/listeners', {
        listener: { name: this.ledger.name('listener'), protocol: p.protocol, protocol_port: p.port, loadbalancer_id: lb.id },
      })).body.listener;
      await settle('listener');
      const pool = (await c.post<{ pool: { id: string } }>(LB, '/v2/lbaas/pools', {
        pool: { name: this.ledger.name('pool'), protocol: p.protocol, lb_algorithm: p.algorithm, listener_id: listener.id },
      })).body.pool;
      await settle('pool');
      const { subnet } = await this.base.network();
      const members: Member[] = [];
      for (const i of this.indexes) {
        const address = (await this.port(i)).fixed_ips[0]!.ip_address;
        const body = { member: { name: this.memberName(i), address, protocol_port: p.port, subnet_id: subnet.id } };
        members.push((await c.post<{ member: Member }>(LB, `/v2/lbaas/pools/${pool.id}/members`, body)).body.member);
        await settle(`member ${this.memberName(i)}`);
      }
      await this.serving();
      const hm = p.healthMonitor;
      const http = hm.type === 'HTTP' ? { http_method: 'GET', url_path: '/', expected_codes: '200' } : {};
      const monitor = (await c.post<{ healthmonitor: { id: string } }>(LB, '/v2/lbaas/healthmonitors', {
        healthmonitor: {
          name: this.ledger.name('monitor'), pool_id: pool.id, type: hm.type, delay: hm.delay, timeout: hm.timeout,
          max_retries: hm.maxRetries, max_retries_down: hm.maxRetriesDown, ...http,
        },
      })).body.healthmonitor;
      await settle('health monitor');
      return { lb, listenerId: listener.id, poolId: pool.id, members, healthMonitorId: monitor.id };
    });
  }

  /** Every object ACTIVE and every member ONLINE, within the provisioning bound; the status tree as last seen. */
  online(): Promise<string[]> {
    return this.once('online', async () => {
      const b = await this.built();
      const { value } = await waitFor(() => statusTree(this.cloud, b.lb.id), {
        what: `load balancer ${b.lb.name}'s members`,
        timeoutMs: this.bound(),
        intervalMs: 1000,
        state: (t) => statusLines(t).filter((l) => l.startsWith('member')).join('; '),
        done: allOnline,
      }).catch((error: Error & { transitions?: Transition[] }) => {
        this.history.push(`members: ${error.message}`);
        throw error;
      });
      return statusLines(value);
    });
  }

  /** The load balancer's VIP behind a floating IP of its own. */
  vipFloatingIp(): Promise<FloatingIp> {
    return this.once('vip-fip', async () => {
      const [fip, lb] = await Promise.all([this.newFloatingIp('vip-fip'), this.loadBalancer()]);
      return (await this.cloud.put<{ floatingip: FloatingIp }>('network', `/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: lb.vip_port_id } })).body.floatingip;
    });
  }

  async member(i: number): Promise<Member> {
    const b = await this.built();
    return (await this.cloud.get<{ member: Member }>(LB, `/v2/lbaas/pools/${b.poolId}/members/${b.members[i]!.id}`)).body.member;
  }

  /** Wait until member i's operating status is one of `want`, within `seconds`; its transitions either way. */
  async memberBecomes(i: number, want: readonly string[], seconds: number): Promise<{ member: Member; transitions: Transition[]; seconds: number }> {
    const t0 = Date.now();
    const { value, transitions } = await waitFor(() => this.member(i), {
      what: `member ${this.memberName(i)}`,
      timeoutMs: seconds * 1000,
      intervalMs: 1000,
      state: statusOf,
      done: (m) => want.includes(m.operating_status),
    });
    return { member: value, transitions, seconds: (Date.now() - t0) / 1000 };
  }

  /** Stop member i's server (Nova os-stop) and wait until it is SHUTOFF. */
  async stopMember(i: number): Promise<void> {
    const server = (await this.servers())[i]!;
    await this.cloud.post('compute', `/servers/${server.id}/action`, { 'os-stop': null });
    await this.untilServer(server.id, 'SHUTOFF', `member server ${server.name} stopping`);
  }

  /** Start member i's server again; it boots anew, so its host keys are read from the console again. */
  async startMember(i: number): Promise<void> {
    const server = (await this.servers())[i]!;
    await this.cloud.post('compute', `/servers/${server.id}/action`, { 'os-start': null });
    await this.untilServer(server.id, 'ACTIVE', `member server ${server.name} starting`);
    this.keys.delete(i);
  }

  /** The requests the file made, for a failure's attachment. */
  trail(): string {
    return this.cloud.trailText();
  }
}

function allOnline(t: Awaited<ReturnType<typeof statusTree>>): boolean {
  const members = (t.loadbalancer.listeners ?? []).flatMap((l) => (l.pools ?? []).flatMap((p) => p.members ?? []));
  return members.length > 0 && members.every((m) => m.provisioning_status === 'ACTIVE' && m.operating_status === 'ONLINE');
}
