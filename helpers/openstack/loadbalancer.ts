/**
 * Octavia (v2 API, catalog type load-balancer): its objects, how long they take to settle, and the judges of what
 * the loadbalancer layer sees (which member answered, where the VIP lies). Helpers return data or throw errors with
 * context; the checks assert.
 */
import { request as httpRequest } from 'node:http';
import type { LoadBalancerPlan } from '../lab/defaults.ts';
import type { Lab } from '../lab/model.ts';
import { contains, inRange, parseCidr } from '../net/ip.ts';
import type { Cloud } from './cloud.ts';
import { waitFor, type Transition, transitionsText } from './wait.ts';

export const LB = 'load-balancer';

export interface LbObject {
  id: string;
  name: string;
  provisioning_status: string;
  operating_status: string;
}

export interface LoadBalancer extends LbObject {
  vip_address: string;
  vip_port_id: string;
  vip_subnet_id: string;
  provider: string;
}

export interface Member extends LbObject {
  address: string;
  protocol_port: number;
}

/** GET …/loadbalancers/{id}/status: the whole tree with every object's two statuses. */
export interface StatusTree {
  loadbalancer: LbObject & {
    listeners?: (LbObject & { pools?: (LbObject & { health_monitor?: LbObject; members?: Member[] })[] })[];
  };
}

export const statusOf = (o: Pick<LbObject, 'provisioning_status' | 'operating_status'>) => `${o.provisioning_status}/${o.operating_status}`;

/** Every object of the tree, one line each: "member sg-…-member-2 172.16.1.5: ACTIVE/ERROR". */
export function statusLines(tree: StatusTree): string[] {
  const lb = tree.loadbalancer;
  const out = [`load balancer ${lb.name}: ${statusOf(lb)}`];
  for (const l of lb.listeners ?? []) {
    out.push(`listener ${l.name}: ${statusOf(l)}`);
    for (const p of l.pools ?? []) {
      out.push(`pool ${p.name}: ${statusOf(p)}`);
      if (p.health_monitor) out.push(`health monitor ${p.health_monitor.name}: ${statusOf(p.health_monitor)}`);
      for (const m of p.members ?? []) out.push(`member ${m.name} ${m.address}: ${statusOf(m)}`);
    }
  }
  return out;
}

export async function statusTree(cloud: Cloud, lbId: string): Promise<StatusTree> {
  return (await cloud.get<{ statuses: StatusTree }>(LB, `/v2/lbaas/loadbalancers/${lbId}/status`)).body.statuses;
}

/**
 * Wait until the load balancer is ACTIVE again (Octavia refuses every change while it is PENDING_*); ERROR is final.
 * The transitions go to `history`, which a failure of the check shows.
 */
export async function lbSettled(cloud: Cloud, lbId: string, what: string, timeoutMs: number, history: string[]): Promise<LoadBalancer> {
  const t0 = new Date().toISOString();
  let seen: Transition[] = [];
  try {
    const { value, transitions } = await waitFor(async () => (await cloud.get<{ loadbalancer: LoadBalancer }>(LB, `/v2/lbaas/loadbalancers/${lbId}`)).body.loadbalancer, {
      what,
      timeoutMs,
      intervalMs: 1000,
      state: statusOf,
      done: (lb) => lb.provisioning_status === 'ACTIVE' || (lb.provisioning_status === 'ERROR' ? 'went to ERROR' : false),
    });
    seen = transitions;
    return value;
  } catch (error) {
    seen = (error as { transitions?: Transition[] }).transitions ?? [];
    throw error;
  } finally {
    history.push(`${t0} ${what}: ${transitionsText(seen)}`);
  }
}

/** One HTTP GET on a connection of its own (a new source port each time); the body or the error. */
export function httpGet(address: string, port: number, timeoutMs = 5000): Promise<{ body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: address, port, path: '/', agent: false, timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? { body: body.trim() } : { error: `HTTP ${res.statusCode}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (e) => resolve({ error: e.message }));
    req.end();
  });
}

export interface Tally {
  /** Answers by member name (each member serves its own name). */
  readonly byMember: Readonly<Record<string, number>>;
  /** Bodies no member serves. */
  readonly strangers: readonly string[];
  readonly errors: readonly string[];
  readonly sent: number;
}

/** `n` requests one after another, each on a new connection, tallied by the member that answered. */
export async function sendRequests(address: string, port: number, n: number, members: readonly string[]): Promise<Tally> {
  const byMember: Record<string, number> = Object.fromEntries(members.map((m) => [m, 0]));
  const strangers: string[] = [];
  const errors: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await httpGet(address, port);
    if (r.body !== undefined && r.body in byMember) byMember[r.body]! += 1;
    else if (r.body !== undefined) strangers.push(r.body.slice(0, 60));
    else errors.push(r.error ?? 'no answer');
  }
  return { byMember, strangers, errors, sent: n };
}

export const tallyText = (t: Tally) =>
  `${Object.entries(t.byMember).map(([m, c]) => `${m} ${c}`).join(', ')}${t.errors.length ? `, ${t.errors.length} failed` : ''}` +
  `${t.strangers.length ? `, ${t.strangers.length} unknown answers` : ''} (of ${t.sent})`;

function failures(t: Tally): string[] {
  const out: string[] = [];
  if (t.errors.length) out.push(`${t.errors.length} of ${t.sent} requests failed (${[...new Set(t.errors)].slice(0, 3).join('; ')})`);
  if (t.strangers.length) out.push(`${t.strangers.length} answers came from no member: ${[...new Set(t.strangers)].slice(0, 3).join('; ')}`);
  return out;
}

/**
 * What the spec's algorithm allows, judged on the tally: every member answers. ROUND_ROBIN (and LEAST_CONNECTIONS,
 * whose ties on sequential requests rotate) also gives each member at least half its share; SOURCE_IP_PORT hashes
 * each connection's address and port pair, so the varied source ports must reach every member, in any proportion.
 */
export function distributionFindings(plan: Pick<LoadBalancerPlan, 'algorithm'>, t: Tally, where: string): string[] {
  const out = failures(t).map((f) => `${where}: ${f}`);
  const members = Object.keys(t.byMember);
  for (const m of members.filter((x) => t.byMember[x] === 0)) out.push(`${where}: member ${m} answered none of ${t.sent} requests (${tallyText(t)})`);
  if (plan.algorithm !== 'SOURCE_IP_PORT') {
    const fair = t.sent / members.length;
    for (const m of members.filter((x) => t.byMember[x]! > 0 && t.byMember[x]! < fair / 2)) {
      out.push(`${where}: ${plan.algorithm} gave member ${m} ${t.byMember[m]} of ${t.sent} requests, under half its share (${tallyText(t)})`);
    }
  }
  return out;
}

/** After a member left the pool: every request answered, and only by the survivors. */
export function survivorFindings(t: Tally, gone: string, where: string): string[] {
  const out = failures(t).map((f) => `${where}: ${f}`);
  if ((t.byMember[gone] ?? 0) > 0) out.push(`${where}: the stopped member ${gone} still answered ${t.byMember[gone]} requests (${tallyText(t)})`);
  for (const m of Object.keys(t.byMember).filter((x) => x !== gone && t.byMember[x] === 0)) out.push(`${where}: survivor ${m} answered none (${tallyText(t)})`);
  return out;
}

/**
 * Where the VIP lies: in its subnet (a public VIP: in the spec's floating range), and on no address the spec gives a
 * VIP of the lab's own.
 */
export function vipFindings(lab: Lab, lb: Pick<LoadBalancer, 'name' | 'vip_address'>, subnetCidr: string, publicVip: boolean): string[] {
  const out: string[] = [];
  const vip = lb.vip_address;
  const range = lab.spec.neutron?.externalNetwork?.floatingRange;
  if (publicVip) {
    const ext = lab.spec.neutron?.externalNetwork ? lab.network(lab.spec.neutron.externalNetwork.network) : undefined;
    if (ext && !contains(ext.cidr, vip)) out.push(`load balancer ${lb.name}: VIP ${vip} is outside the external network ${ext.cidr.text}`);
    if (range && !inRange(range, vip)) out.push(`load balancer ${lb.name}: VIP ${vip} is outside the floating range ${range.start}–${range.end}`);
  } else if (!contains(parseCidr(subnetCidr), vip)) {
    out.push(`load balancer ${lb.name}: VIP ${vip} is outside its tenant subnet ${subnetCidr}`);
  }
  for (const v of lab.vips.filter((x) => x.address === vip)) out.push(`load balancer ${lb.name}: VIP ${vip} is the lab's VIP ${v.name} (${v.fqdn ?? v.network})`);
  return out;
}
