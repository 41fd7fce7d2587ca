/**
 * A RabbitMQ cluster as the spec's `rabbitmq` describes it, read through each member's management API (undici, from
 * where the checks run) as the spec's monitoring user: who each member sees in its cluster, running or not, any
 * partition, and the queue policy. It returns findings; it never asserts.
 */
import type { Lab, LabNode } from '../lab/model.ts';
import { servicePassword } from '../lab/secrets.ts';
import type { RabbitmqPolicy, RabbitmqSpec } from '../lab/spec.ts';
import { firstLine, get, serviceAt } from '../prometheus/http.ts';

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

export async function memberView(lab: Lab, r: Rabbit, node: LabNode, password: string): Promise<MemberView> {
  const s = serviceAt(lab, `RabbitMQ management on ${node.name}`, { node: node.name }, r.managementPort, false);
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
