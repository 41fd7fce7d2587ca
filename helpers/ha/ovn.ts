/**
 * OVN's NB and SB RAFT clusters as the spec's `ovnCluster` describes them, read with ovsdb-client on a lab node over
 * SSH: each member's _Server database says whether it is clustered, connected, the leader, and which cluster (cid) it
 * is in. It returns findings; it never asserts.
 */
import type { Lab, LabNode } from '../lab/model.ts';
import type { OvnClusterSpec } from '../lab/spec.ts';
import { inService } from '../node/deployer.ts';
import { shellLine } from '../node/quote.ts';

/** Where ovsdb-client runs: a lab node's shell (checks) or the host (provision). */
export interface Shell {
  run(command: string): Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>;
}

export type OvnDb = 'OVN_Northbound' | 'OVN_Southbound';
export const OVN_DBS: readonly OvnDb[] = ['OVN_Northbound', 'OVN_Southbound'];

export interface OvnCluster {
  readonly spec: OvnClusterSpec;
  readonly nodes: readonly LabNode[];
  readonly clientPort: Readonly<Record<OvnDb, number>>;
  readonly raftPort: Readonly<Record<OvnDb, number>>;
}

export function ovnClusterOf(lab: Lab): OvnCluster | undefined {
  const spec = lab.spec.ovnCluster;
  if (!spec) return undefined;
  return {
    spec,
    nodes: spec.nodes.map((n) => lab.node(n)),
    clientPort: { OVN_Northbound: spec.nbPort ?? 6641, OVN_Southbound: spec.sbPort ?? 6642 },
    raftPort: { OVN_Northbound: spec.nbRaftPort ?? 6643, OVN_Southbound: spec.sbRaftPort ?? 6644 },
  };
}

/** What one member said of one database, or why it said nothing. */
export interface MemberState {
  readonly node: string;
  readonly db: OvnDb;
  readonly model?: string;
  readonly connected?: boolean;
  readonly leader?: boolean;
  readonly cid?: string;
  readonly sid?: string;
  readonly error?: string;
}

const QUERY = (db: OvnDb) => JSON.stringify(['_Server', {
  op: 'select', table: 'Database', where: [['name', '==', db]],
  columns: ['model', 'connected', 'leader', 'cid', 'sid'],
}]);

/** An OVSDB optional value (["set", []] when empty, ["uuid", "…"] for a uuid) as a plain value. */
function plain(v: unknown): unknown {
  if (Array.isArray(v) && v[0] === 'set') return (v[1] as unknown[])[0];
  if (Array.isArray(v) && v[0] === 'uuid') return v[1];
  return v;
}

export async function memberState(shell: Shell, c: OvnCluster, node: LabNode, db: OvnDb): Promise<MemberState> {
  const remote = `tcp:${node.apiAddress}:${c.clientPort[db]}`;
  const r = await shell.run(shellLine(['ovsdb-client', '--timeout=10', 'transact', remote, QUERY(db)]));
  if (r.code !== 0) return { node: node.name, db, error: `ovsdb-client to ${remote}: ${(r.stderr || r.stdout).trim()}` };
  try {
    const [result] = JSON.parse(r.stdout) as [{ rows?: Record<string, unknown>[]; error?: string }];
    const row = result.rows?.[0];
    if (!row) return { node: node.name, db, error: `${remote} has no ${db} in _Server (${r.stdout.trim()})` };
    return {
      node: node.name, db, model: String(plain(row.model)), connected: plain(row.connected) === true,
      leader: plain(row.leader) === true, cid: String(plain(row.cid) ?? ''), sid: String(plain(row.sid) ?? ''),
    };
  } catch (error) {
    return { node: node.name, db, error: `${remote} answered ${r.stdout.trim().slice(0, 160)}: ${(error as Error).message}` };
  }
}

export async function clusterStates(shell: Shell, c: OvnCluster): Promise<MemberState[]> {
  const asks = OVN_DBS.flatMap((db) => c.nodes.map((n) => memberState(shell, c, n, db)));
  return Promise.all(asks);
}

/** Per database: every member answers, clustered, connected, in one cluster (one cid), and exactly one leader. */
export function raftFindings(c: OvnCluster, states: readonly MemberState[]): string[] {
  const out: string[] = [];
  for (const db of OVN_DBS) {
    const mine = states.filter((s) => s.db === db);
    for (const s of mine) {
      if (s.error) out.push(`${db} member ${s.node}: ${s.error}`);
      else if (s.model !== 'clustered') out.push(`${db} member ${s.node} is ${s.model}, not clustered`);
      else if (!s.connected) out.push(`${db} member ${s.node} is not connected to its cluster`);
    }
    const ok = mine.filter((s) => !s.error && s.model === 'clustered');
    const cids = new Set(ok.map((s) => s.cid));
    if (cids.size > 1) {
      out.push(`${db} members in ${cids.size} clusters: ${ok.map((s) => `${s.node} ${s.cid?.slice(0, 8)}`).join(', ')}`);
    }
    const leaders = ok.filter((s) => s.leader).map((s) => s.node);
    const absent = mine.filter((s) => s.error).map((s) => s.node);
    if (leaders.length !== 1) {
      out.push(`${db} has ${leaders.length} leaders (${leaders.join(', ') || 'none'}) among ` +
        `${ok.map((s) => s.node).join(', ') || 'no member'}${absent.length ? `; not answering: ${absent.join(', ')}` : ''}`);
    }
  }
  return out;
}

/** Whether Neutron (a service of type network) runs, writing the spec's OVN RAFT cluster: ha.neutron-nb applies. */
export const neutronOnCluster = (lab: Lab) =>
  !!ovnClusterOf(lab) && Object.values(lab.spec.services ?? {}).some((s) => s.type === 'network');

/** What one member's copy of the NB holds of a Neutron network: its logical switch, none, or why it did not say. */
export interface SwitchSeen {
  readonly node: string;
  readonly seen: 'present' | 'absent' | string;
}

/** The logical switch ML2/OVN makes for a Neutron network, as each RAFT member's own copy of the NB has it. */
export async function switchOnMembers(shell: Shell, c: OvnCluster, networkId: string): Promise<SwitchSeen[]> {
  const name = `neutron-${networkId}`;
  const query = JSON.stringify(['OVN_Northbound', {
    op: 'select', table: 'Logical_Switch', where: [['name', '==', name]], columns: ['name'],
  }]);
  return Promise.all(c.nodes.map(async (n): Promise<SwitchSeen> => {
    const remote = `tcp:${n.apiAddress}:${c.clientPort.OVN_Northbound}`;
    const r = await shell.run(shellLine(['ovsdb-client', '--timeout=10', 'transact', remote, query]));
    if (r.code !== 0) return { node: n.name, seen: `not read (ovsdb-client to ${remote}: ${(r.stderr || r.stdout).trim()})` };
    try {
      const rows = (JSON.parse(r.stdout) as [{ rows?: unknown[] }])[0]?.rows ?? [];
      return { node: n.name, seen: rows.length > 0 ? 'present' : 'absent' };
    } catch {
      return { node: n.name, seen: `not read (${remote} answered ${r.stdout.trim().slice(0, 160)})` };
    }
  }));
}

/**
 * The members whose NB copy lacks the network's switch, each named with what it said. Absent on every member that
 * answered (and on at least one): Neutron wrote the switch to no member, so it writes an NB that is not this cluster.
 */
export function switchFindings(networkId: string, seen: readonly SwitchSeen[]): string[] {
  const named = (s: SwitchSeen) => `member ${s.node}: logical switch neutron-${networkId} ${s.seen}`;
  const bad = seen.filter((s) => s.seen !== 'present');
  const read = seen.filter((s) => s.seen === 'present' || s.seen === 'absent');
  if (read.length > 0 && read.every((s) => s.seen === 'absent')) {
    return [
      `logical switch neutron-${networkId} on no member of the cluster (absent on every member: ` +
      `${read.map((s) => s.node).join(', ')}): Neutron made the network in an NB that is not this cluster's ` +
      '(its ovn_nb_connection)',
      ...bad.filter((s) => s.seen !== 'absent').map(named),
    ];
  }
  return bad.map(named);
}

/** What one member's ovn-northd says of itself: `active`, `standby`, `paused`, or why it did not answer. */
export interface NorthdSeen {
  readonly node: string;
  readonly status?: string;
  readonly error?: string;
}

/**
 * `ovn-appctl … status` of ovn-northd on a node: Kolla's control socket in its ovn_northd container, else the one a
 * packaged northd names in its run directory (ovn-ctl's, found from its pid file).
 */
export const northdStatusCommand = (lab: Lab): string => lab.deployer.kind === 'kolla'
  ? inService(lab, 'ovn-northd', 'ovn-appctl -t /run/ovn/ovn-northd.ctl status')
  : 'ovn-appctl -t ovn-northd status';

/** Each member's ovn-northd asked for its status on that member (`Status: active` as OVN 21.03 and later print it). */
export async function northdOnMembers(
  lab: Lab, shellOf: (node: string) => Shell, c: OvnCluster,
): Promise<NorthdSeen[]> {
  return Promise.all(c.nodes.map(async (n): Promise<NorthdSeen> => {
    const r = await shellOf(n.name).run(`timeout 10 ${northdStatusCommand(lab)}`).catch((error: Error) => error);
    if (r instanceof Error) return { node: n.name, error: r.message.split('\n')[0] };
    const status = /^Status:\s*(\S+)/m.exec(r.stdout)?.[1];
    if (r.code !== 0 || !status) {
      // ovn-appctl's own log prefix (time|sequence|module|level|) says nothing the reader needs.
      const said = (r.stderr || r.stdout).trim().split('\n')[0]?.replace(/^[^|\s]+\|\d+\|[^|]+\|[^|]+\|/, '');
      return { node: n.name, error: said || `exit ${r.code}` };
    }
    return { node: n.name, status };
  }));
}

/**
 * ovn-northd on every member, standing by where it is not the one active: a member whose northd does not answer or
 * is paused is named, and anything but exactly one active (the holder of the SB lock) is named with who said what.
 */
export function northdFindings(seen: readonly NorthdSeen[]): string[] {
  const out: string[] = [];
  for (const s of seen) {
    if (s.error) out.push(`member ${s.node}: ovn-northd does not answer (${s.error})`);
    else if (s.status !== 'active' && s.status !== 'standby') out.push(`member ${s.node}: ovn-northd ${s.status}`);
  }
  const active = seen.filter((s) => s.status === 'active').map((s) => s.node);
  if (active.length !== 1) {
    const said = seen.map((s) => `${s.node} ${s.status ?? 'no answer'}`).join(', ');
    out.push(active.length === 0
      ? `no ovn-northd active (${said}): nothing translates the NB into the SB`
      : `${active.length} ovn-northd active (${said}): each writes the SB`);
  }
  return out;
}
