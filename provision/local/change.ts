/**
 * What `lab up` changes in a running lab when the spec changed, from the lab as rendered before and after: which
 * daemons start, stop or restart (and why), which stay untouched; which nodes join or leave; and what a running lab
 * refuses to lose. Pure: the self-tests judge it over rendered labs, `lab up` and `lab plan` print it.
 */
import type { Lab, LabNode } from '../../helpers/lab/model.ts';
import { poolSizeProblems } from '../../helpers/lab/placement.ts';
import type { NodeRole } from '../../helpers/lab/spec.ts';
import type { Daemon, RenderedFile } from './component.ts';

/** Whether a file's new content reaches its daemon: the part it reads (`relevant`), else the whole content. */
export function fileChangeReaches(f: RenderedFile, before: string | undefined): boolean {
  if (before === undefined) return true;
  return f.relevant ? f.relevant(before) !== f.relevant(f.content) : before !== f.content;
}

/** What supervisor runs a program by: a change here restarts it (`supervisorctl update`). */
const definition = (d: Daemon) =>
  JSON.stringify([d.node, d.argv, d.user ?? '', d.mounts ?? '', d.stopSignal ?? '', !!d.manual]);

export interface DaemonChange {
  readonly start: readonly string[];
  readonly stop: readonly string[];
  /** Running programs that restart, each with what changed for it (its command, or the files it reads). */
  readonly restart: readonly { readonly program: string; readonly why: string }[];
  readonly untouched: readonly string[];
}

/** The programs of the lab after a change against before: new ones start, gone ones stop, changed ones restart. */
export function daemonChange(before: readonly Daemon[], after: readonly Daemon[]): DaemonChange {
  const old = new Map(before.map((d) => [d.program, d]));
  const oldFiles = new Map(before.flatMap((d) => d.files.map((f) => [f.path, f.content] as const)));
  const kept = new Set(after.map((d) => d.program));
  const start: string[] = [];
  const restart: { program: string; why: string }[] = [];
  const untouched: string[] = [];
  for (const d of after) {
    const o = old.get(d.program);
    if (!o) {
      start.push(d.program);
      continue;
    }
    const why = [
      ...(definition(o) === definition(d) ? [] : ['its command']),
      ...d.files.filter((f) => fileChangeReaches(f, oldFiles.get(f.path))).map((f) => f.path),
    ];
    if (why.length) restart.push({ program: d.program, why: why.join(', ') });
    else untouched.push(d.program);
  }
  return { start, stop: before.filter((d) => !kept.has(d.program)).map((d) => d.program), restart, untouched };
}

export interface NodeChange {
  readonly added: readonly LabNode[];
  /** Nodes of the lab before that the spec no longer has. */
  readonly removed: readonly LabNode[];
  /** Compute nodes (of the lab before) that leave, or stop being compute nodes: drained first. */
  readonly computeLeaving: readonly LabNode[];
  /** OSDs (id = position in storage.ceph.osds) of the lab before that the spec no longer has. */
  readonly osdsLeaving: readonly { readonly id: number; readonly node: string }[];
}

const osdNodes = (lab: Lab) => (lab.ceph?.osds ?? []).map((o) => o.node);

export function nodeChange(before: Lab, after: Lab): NodeChange {
  const now = new Set(after.nodes.map((n) => n.name));
  const was = new Set(before.nodes.map((n) => n.name));
  const computeNow = new Set(after.nodesWithRole('compute').map((n) => n.name));
  const osdsAfter = osdNodes(after);
  return {
    added: after.nodes.filter((n) => !was.has(n.name)),
    removed: before.nodes.filter((n) => !now.has(n.name)),
    computeLeaving: before.nodesWithRole('compute').filter((n) => !computeNow.has(n.name)),
    osdsLeaving: osdNodes(before).flatMap((node, id) => (osdsAfter[id] === node ? [] : [{ id, node }])),
  };
}

export const nodesLeaving = (c: NodeChange) => c.removed.length + c.computeLeaving.length + c.osdsLeaving.length > 0;
export const nodesChanged = (c: NodeChange) => c.added.length > 0 || nodesLeaving(c);

/** The roles a node may have and still leave a running lab: its work can move elsewhere (guests, placement groups). */
export const REMOVABLE_ROLES: readonly NodeRole[] = ['compute', 'ceph-osd'];

/**
 * Why a running lab cannot go from `before` to `after` (empty when it can): a leaving node with a role whose service
 * would go with it (a controller, the database, the DNS server …), or OSDs leaving so that a pool no longer finds
 * its replicas.
 */
export function scaleRefusals(before: Lab, after: Lab): string[] {
  const c = nodeChange(before, after);
  const out: string[] = [];
  for (const n of c.removed) {
    const kept = n.roles.filter((r) => !REMOVABLE_ROLES.includes(r));
    if (kept.length) {
      out.push(
        `node ${n.name} cannot leave the running lab ${before.name}: it has the role${kept.length > 1 ? 's' : ''} ` +
          `${kept.join(', ')} (only ${REMOVABLE_ROLES.join(' and ')} nodes can be removed; their work moves elsewhere)`,
      );
    }
  }
  if (c.osdsLeaving.length && after.ceph) {
    const leaving = c.osdsLeaving.map((o) => `osd.${o.id} on ${o.node}`).join(', ');
    for (const p of poolSizeProblems(after)) out.push(`removing ${leaving} from lab ${before.name} is refused: ${p}`);
  }
  return out;
}

/**
 * The local provider's OSD ids are their positions in storage.ceph.osds (osd.N is always the same node's store):
 * OSDs can join and leave only at the end of the list, or every later OSD would be renumbered onto another's store.
 */
export function osdOrderRefusals(before: Lab, after: Lab): string[] {
  const was = osdNodes(before);
  const now = osdNodes(after);
  const common = Math.min(was.length, now.length);
  const moved = [...Array(common).keys()].filter((i) => was[i] !== now[i]);
  if (moved.length === 0) return [];
  const seen = moved.map((i) => `osd.${i} was on ${was[i]}, the spec now puts it on ${now[i]}`).join('; ');
  return [
    `storage.ceph.osds of lab ${before.name}: an OSD's id is its position in the list, so OSDs join and leave ` +
      `only at its end (${seen}): keep the earlier entries in their order`,
  ];
}

/** The change as `lab up` and `lab plan` print it. */
export function formatChange(nodes: NodeChange, daemons: DaemonChange): string[] {
  const names = (list: readonly { name: string }[]) => list.map((n) => n.name).join(', ');
  const lines: string[] = [];
  if (nodes.added.length) lines.push(`nodes joining: ${names(nodes.added)}`);
  if (nodes.removed.length) lines.push(`nodes leaving: ${names(nodes.removed)}`);
  const drained = nodes.computeLeaving.filter((n) => !nodes.removed.includes(n));
  if (drained.length) lines.push(`compute role leaving: ${names(drained)}`);
  const osds = nodes.osdsLeaving.map((o) => `osd.${o.id} (${o.node})`);
  if (osds.length) lines.push(`OSDs leaving: ${osds.join(', ')}`);
  if (daemons.start.length) lines.push(`start ${daemons.start.length}: ${daemons.start.join(' ')}`);
  if (daemons.stop.length) lines.push(`stop ${daemons.stop.length}: ${daemons.stop.join(' ')}`);
  for (const r of daemons.restart) lines.push(`restart ${r.program} (${r.why})`);
  lines.push(`untouched: ${daemons.untouched.length} running programs`);
  return lines;
}
