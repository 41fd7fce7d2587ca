/**
 * A RabbitMQ cluster as the spec's `rabbitmq` describes it, read through each member's management API (undici, from
 * where the checks run) as the spec's monitoring user: who each member sees in its cluster, running or not, any
 * partition, and the queue policy. It returns findings; it never asserts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab, LabNode } from '../lab/model.ts';
import { servicePassword } from '../lab/secrets.ts';
import type { RabbitmqPolicy, RabbitmqSpec } from '../lab/spec.ts';
import { firstLine, get, send, serviceAt } from '../prometheus/http.ts';

export interface Rabbit {
  readonly spec: RabbitmqSpec;
  readonly nodes: readonly LabNode[];
  readonly managementPort: number;
  readonly user: string;
}

export function rabbitOf(lab: Lab): Rabbit | undefined {
  const spec = lab.spec.rabbitmq;
  if (!spec) return undefined;
  return {
    spec,
    nodes: spec.nodes.map((n) => lab.node(n)),
    managementPort: spec.managementPort ?? 15672,
    user: spec.user ?? 'monitoring',
  };
}

/** The Erlang node name of a member: longnames on its API address (nodes share the host's hostname). */
export function erlangNode(node: LabNode): string {
  if (!node.apiAddress) throw new Error(`RabbitMQ node ${node.name} has no API address`);
  return `rabbit@${node.apiAddress}`;
}

export function rabbitPassword(lab: Lab, r: Rabbit): string {
  return servicePassword(lab, {
    what: `RabbitMQ management API (user ${r.user})`,
    env: 'STACKGATE_RABBITMQ_PASSWORD',
    key: r.spec.passwordKey,
    keyField: 'rabbitmq.passwordKey',
  }).value;
}

interface ApiNode { readonly name: string; readonly running: boolean; readonly partitions?: readonly string[] }
interface ApiPolicy {
  readonly name: string;
  readonly pattern: string;
  readonly 'apply-to': string;
  readonly priority: number;
  readonly definition: Record<string, unknown>;
}

/** What one member's API said: its view of the cluster and the policies of vhost /, or why there is none. */
export interface MemberView {
  readonly node: string;
  readonly nodes?: readonly ApiNode[];
  readonly policies?: readonly ApiPolicy[];
  readonly error?: string;
}

/** A member's management API, as the checks and drills call it. */
export const managementApi = (lab: Lab, r: Rabbit, node: LabNode) =>
  serviceAt(lab, `RabbitMQ management on ${node.name}`, { node: node.name }, r.managementPort, false);

export async function memberView(lab: Lab, r: Rabbit, node: LabNode, password: string): Promise<MemberView> {
  const s = managementApi(lab, r, node);
  const auth = { user: r.user, password };
  try {
    const [nodes, policies] = await Promise.all(['/api/nodes', '/api/policies/%2F'].map((p) =>
      get(lab, s, p, { auth, timeoutMs: 10_000 })));
    for (const [path, reply] of [['/api/nodes', nodes!], ['/api/policies/%2F', policies!]] as const) {
      if (reply.status !== 200) return { node: node.name, error: `${s.label}${path} answered ${reply.status} ${firstLine(reply.body)}` };
    }
    return { node: node.name, nodes: JSON.parse(nodes!.body) as ApiNode[], policies: JSON.parse(policies!.body) as ApiPolicy[] };
  } catch (error) {
    return { node: node.name, error: `${s.label} unreachable: ${(error as Error).message}` };
  }
}

export function clusterViews(lab: Lab, r: Rabbit, password: string): Promise<MemberView[]> {
  return Promise.all(r.nodes.map((n) => memberView(lab, r, n, password)));
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function policyFinding(member: string, want: RabbitmqPolicy, seen: readonly ApiPolicy[]): string | undefined {
  const p = seen.find((x) => x.name === want.name);
  const names = seen.map((x) => x.name).join(', ') || 'none';
  if (!p) return `${member}: policy ${want.name} absent on vhost / (policies there: ${names})`;
  const expected = { pattern: want.pattern, 'apply-to': want.applyTo ?? 'queues', priority: want.priority ?? 0,
    definition: want.definition };
  const got = { pattern: p.pattern, 'apply-to': p['apply-to'], priority: p.priority, definition: p.definition };
  const differs = Object.keys(expected).filter((k) =>
    !same(expected[k as keyof typeof expected], got[k as keyof typeof got]));
  return differs.length === 0 ? undefined
    : `${member}: policy ${want.name} has ${differs.map((k) => `${k} ${JSON.stringify(got[k as keyof typeof got])}`)
      .join(', ')}, the spec ${differs.map((k) => JSON.stringify(expected[k as keyof typeof expected])).join(', ')}`;
}

/**
 * Everything that keeps the members from being one healthy cluster with the spec's policy, each naming the member
 * asked and the member it concerns: unreachable, a spec member missing, stopped or partitioned, a stranger, the policy.
 */
export function clusterFindings(r: Rabbit, views: readonly MemberView[]): string[] {
  const byErlang = new Map(r.nodes.map((n) => [erlangNode(n), n.name]));
  const label = (erl: string) => byErlang.get(erl) ?? erl;
  const out: string[] = [];
  for (const v of views) {
    if (v.error) {
      out.push(`${v.node}: ${v.error}`);
      continue;
    }
    const seen = new Map((v.nodes ?? []).map((n) => [n.name, n]));
    for (const [erl, name] of byErlang) {
      const n = seen.get(erl);
      if (!n) out.push(`${v.node} has no member ${name} (${erl}) in its cluster (sees ${[...seen.keys()].join(', ')})`);
      else if (!n.running) out.push(`${v.node} sees member ${name} (${erl}) not running`);
      else if ((n.partitions ?? []).length > 0) {
        out.push(`${v.node} sees member ${name} partitioned from ${n.partitions!.map(label).join(', ')}`);
      }
    }
    for (const erl of seen.keys()) if (!byErlang.has(erl)) out.push(`${v.node} has ${erl} in its cluster, no spec member`);
    const policy = policyFinding(v.node, r.spec.policy, v.policies ?? []);
    if (policy) out.push(policy);
  }
  return out;
}

/** The queues stackgate may make to prove mirroring: the only ones its user needs rights on. */
export const PROBE_QUEUE_PREFIX = 'stackgate-probe.';

/** The members a queue led by `leader` must be mirrored on under the spec's policy, of those running. */
export function expectedMirrors(policy: RabbitmqPolicy, leader: string, running: readonly string[]): string[] | undefined {
  const others = running.filter((n) => n !== leader);
  const mode = policy.definition['ha-mode'];
  if (mode === 'all') return others;
  // exactly N: N - 1 mirrors, which ones RabbitMQ picks; every other member only where there are no more than that.
  if (mode === 'exactly') return others.length <= Number(policy.definition['ha-params']) - 1 ? others : undefined;
  // ha-mode nodes (a list) or no classic mirroring at all: nothing this probe can hold the policy to.
  return undefined;
}

interface ApiQueue {
  readonly node?: string;
  readonly policy?: string;
  readonly synchronised_slave_nodes?: readonly string[];
  readonly slave_nodes?: readonly string[];
}

export interface MessageProbe {
  readonly queue: string;
  /** The member the queue was declared through (its leader, as RabbitMQ places a classic queue). */
  readonly via?: string;
  readonly seen: string[];
  readonly findings: string[];
}

/**
 * A queue the spec's policy matches, declared through the first member that answers: it gets the policy and a
 * synchronised mirror on every other running member, and a message published through that member is read through
 * each other running one. The queue expires by itself two minutes after its last use (x-expires), so a run that dies
 * leaves nothing; it is deleted at the end. A member that is down is the cluster check's finding, not this one's.
 */
export async function messageProbe(lab: Lab, r: Rabbit, password: string, suffix: string): Promise<MessageProbe> {
  const queue = `${PROBE_QUEUE_PREFIX}${suffix}`;
  const seen: string[] = [];
  const findings: string[] = [];
  const done = (via?: string): MessageProbe => ({ queue, ...(via ? { via } : {}), seen, findings });
  if (!new RegExp(r.spec.policy.pattern).test(queue)) {
    return { queue, seen, findings: [`policy ${r.spec.policy.name} (pattern ${r.spec.policy.pattern}) does not match queue ${queue}: no probe queue of stackgate's would be mirrored`] };
  }
  const auth = { user: r.user, password };
  const call = (node: LabNode, method: string, path: string, json?: unknown) =>
    send(lab, managementApi(lab, r, node), method, path, { auth, timeoutMs: 10_000, ...(json === undefined ? {} : { json }) });
  const q = `/api/queues/%2F/${encodeURIComponent(queue)}`;
  const byErlang = new Map(r.nodes.map((n) => [erlangNode(n), n]));

  let leader: LabNode | undefined;
  let running: string[] = [];
  for (const node of r.nodes) {
    try {
      const nodes = await call(node, 'GET', '/api/nodes');
      if (nodes.status !== 200) {
        seen.push(`${node.name}: /api/nodes answered ${nodes.status} ${firstLine(nodes.body)}`);
        continue;
      }
      running = (JSON.parse(nodes.body) as ApiNode[]).filter((n) => n.running).map((n) => n.name);
      leader = node;
      break;
    } catch (error) {
      seen.push(`${node.name}: ${(error as Error).message}`);
    }
  }
  if (!leader) return { queue, seen, findings: [`no member's management API answers: ${seen.join('; ')}`] };

  const declared = await call(leader, 'PUT', q, { durable: false, auto_delete: false, arguments: { 'x-expires': 120_000 } });
  if (![201, 204].includes(declared.status)) {
    findings.push(`${leader.name}: declaring queue ${queue} as ${r.user} answered ${declared.status} ${firstLine(declared.body)}`);
    return done(leader.name);
  }
  try {
    const want = expectedMirrors(r.spec.policy, erlangNode(leader), running);
    let last: ApiQueue = {};
    for (const deadline = Date.now() + 15_000; ;) {
      const reply = await call(leader, 'GET', q);
      if (reply.status === 200) last = JSON.parse(reply.body) as ApiQueue;
      const synced = last.synchronised_slave_nodes ?? [];
      if (last.policy === r.spec.policy.name && (!want || want.every((m) => synced.includes(m)))) break;
      if (Date.now() > deadline) break;
      await sleep(500);
    }
    const name = (erl: string) => byErlang.get(erl)?.name ?? erl;
    seen.push(`queue ${queue} on ${name(last.node ?? '?')}, policy ${last.policy ?? 'none'}, mirrors ` +
      `${(last.slave_nodes ?? []).map(name).join(', ') || 'none'} (synchronised: ${(last.synchronised_slave_nodes ?? []).map(name).join(', ') || 'none'})`);
    if (last.policy !== r.spec.policy.name) findings.push(`queue ${queue} has policy ${last.policy ?? 'none'}, not ${r.spec.policy.name}`);
    const unsynced = (want ?? []).filter((m) => !(last.synchronised_slave_nodes ?? []).includes(m));
    if (unsynced.length) findings.push(`queue ${queue} has no synchronised mirror on ${unsynced.map(name).join(', ')} after 15 s`);

    const token = `stackgate ${suffix} ${Date.now()}`;
    const published = await call(leader, 'POST', '/api/exchanges/%2F/amq.default/publish',
      { properties: {}, routing_key: queue, payload: token, payload_encoding: 'string' });
    const routed = published.status === 200 && (JSON.parse(published.body) as { routed?: boolean }).routed === true;
    if (!routed) findings.push(`${leader.name}: publishing to ${queue} answered ${published.status} ${firstLine(published.body)}`);
    const readers = r.nodes.filter((n) => n !== leader && running.includes(erlangNode(n)));
    for (const node of routed ? readers : []) {
      const got = await call(node, 'POST', `${q}/get`, { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' })
        .then((x) => (x.status === 200 ? (JSON.parse(x.body) as { payload: string }[]) : `${x.status} ${firstLine(x.body)}`),
          (error: unknown) => (error as Error).message);
      const text = typeof got === 'string' ? got : got[0]?.payload === token ? 'the message' : JSON.stringify(got[0]?.payload ?? 'nothing');
      seen.push(`read through ${node.name}: ${text}`);
      if (text !== 'the message') findings.push(`${node.name}: reading ${queue} got ${text}, not the message published through ${leader.name}`);
    }
    return done(leader.name);
  } finally {
    await call(leader, 'DELETE', q).catch(() => undefined);
  }
}
