/**
 * Scaling the Mac lab: what `lab up` runs (and `lab plan` prints) when the spec gained or lost nodes since the last
 * `up`, as Kolla-Ansible documents it (doc/source/user/adding-and-removing-hosts.rst, stable/2025.2):
 *   joining:  the new VMs, then `bootstrap-servers`, `pull`, `prechecks` and `deploy`, each `--limit <new>`; Kolla's
 *             nova-cell role waits for the new nova-compute and runs `nova-manage cell_v2 discover_hosts` on the
 *             conductor, which the plan runs once more (idempotent) and then waits for the service to be up; cephadm
 *             adds an OSD host from the re-rendered host and OSD specs.
 *   leaving:  no servers on the host (refused otherwise: stackgate migrates none), `openstack compute service set
 *             --disable`, `kolla-ansible stop --yes-i-really-really-mean-it --limit <old>` against the inventory the
 *             lab was deployed with, then the host's Neutron agents and compute service deleted (Nova deletes its
 *             resource provider), its OVN chassis deleted, an OSD host drained and removed by cephadm, the VM deleted.
 * The previous spec is the one `up` recorded when it went through (.stackgate/<lab>/lima/applied-spec.json), with a
 * copy of the inventory it deployed (applied-inventory/), which `stop --limit` needs once the node left the render.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type LabNode } from '../../helpers/lab/model.ts';
import type { LabSpec } from '../../helpers/lab/spec.ts';
import { quote } from '../../helpers/node/quote.ts';
import { nodeChange, scaleRefusals } from '../local/change.ts';
import { repoPath } from '../render/common.ts';
import { diskDevices } from '../render/lima.ts';
import { limaPaths, type LimaPaths } from './paths.ts';
import { buildPlan, commandLine, type PlanOptions, type Step } from './plan.ts';
import { fingerprint, type RunState } from './run.ts';

export const appliedFile = (p: LimaPaths) => join(p.lima, 'applied-spec.json');
export const appliedInventory = (p: LimaPaths) => join(p.lima, 'applied-inventory');

/** After an `up` that went through: the spec and the inventory the lab now runs, for the next `up` to compare. */
export function recordApplied(lab: Lab, cwd: string): void {
  const p = limaPaths(lab);
  mkdirSync(join(cwd, p.lima), { recursive: true });
  const record = { file: repoPath(lab.file), spec: lab.spec };
  writeFileSync(join(cwd, appliedFile(p)), `${JSON.stringify(record, null, 2)}\n`);
  rmSync(join(cwd, appliedInventory(p)), { recursive: true, force: true });
  cpSync(join(cwd, p.render, 'kolla/inventory'), join(cwd, appliedInventory(p)), { recursive: true });
}

export function appliedLab(lab: Lab, cwd: string): Lab | undefined {
  const file = join(cwd, appliedFile(limaPaths(lab)));
  if (!existsSync(file)) return undefined;
  return new Lab((JSON.parse(readFileSync(file, 'utf8')) as { spec: LabSpec }).spec, lab.file);
}

/** The spec without what a scale step may change: its nodes, the networks' attach lists, the OSD list. */
function beyondNodes(spec: LabSpec): Record<string, unknown> {
  const s = structuredClone(spec) as LabSpec & Record<string, unknown>;
  const rest: Record<string, unknown> = { ...s, nodes: undefined };
  for (const net of Object.values(s.networks)) delete net.attach;
  if (s.storage?.ceph) s.storage.ceph.osds = [];
  return rest;
}

/** Why `up` will not scale the running lab from `before` to `after` (empty when it will). */
export function limaScaleRefusals(before: Lab, after: Lab): string[] {
  const a = beyondNodes(before.spec);
  const b = beyondNodes(after.spec);
  const differs = (k: string) => JSON.stringify(a[k]) !== JSON.stringify(b[k]);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(differs);
  const mixed = `lab ${after.name}: the spec changes ${keys.join(', ')} besides its nodes: scale the lab in an up of its ` +
    'own (nodes only), then change the rest';
  return [...(keys.length ? [mixed] : []), ...scaleRefusals(before, after)];
}

const shell = (node: string, ...argv: string[]) => ['limactl', 'shell', '--workdir=/', node, 'sudo', ...argv];
const sh = (script: string) => ['sh', '-c', script];

/** What every scale step is built from: paths, the cloud's credentials, the Kolla and OpenStack clients. */
function tools(before: Lab, after: Lab) {
  const p = limaPaths(after);
  const c = after.spec.credentials ?? {};
  const clouds = c.cloudsFile ? repoPath(after.path(c.cloudsFile)) : join(p.kolla, 'clouds.yaml');
  const ceph = before.ceph?.deployer === 'cephadm' && before.storagePhase >= 2 ? before.ceph : undefined;
  return {
    p,
    cloud: { OS_CLOUD: c.cloud ?? 'kolla-admin', OS_CLIENT_CONFIG_FILE: clouds },
    osc: join(p.venv, 'bin/openstack'),
    kollaEnv: { ANSIBLE_CONFIG: join(p.render, 'kolla/ansible.cfg'), OBJC_DISABLE_INITIALIZE_FORK_SAFETY: 'YES' },
    /** kolla-ansible against an inventory (the rendered one, or the one the lab was deployed with), limited. */
    ka: (inventory: string, sub: string, limit: readonly LabNode[], ...extra: string[]) => [
      join(p.venv, 'bin/kolla-ansible'), sub, '-i', join(inventory, 'multinode'),
      '-i', join(p.kolla, 'inventory/kolla-groups'), '--configdir', p.kolla, ...extra,
      '--limit', limit.map((n) => n.name).join(','),
    ],
    control: before.nodesWithRole('control')[0]!,
    cephadm: ceph ? before.node(ceph.mons[0]!) : undefined,
  };
}

type Add = (group: string, what: string, title: string, rest: Omit<Step, 'id' | 'phase' | 'group' | 'title'>) => void;

/** Kolla's "removing existing compute nodes", and cephadm's host removal, for the nodes that leave. */
function leaving(before: Lab, after: Lab, add: Add): void {
  const { p, cloud, osc, ka, kollaEnv, control, cephadm } = tools(before, after);
  const change = nodeChange(before, after);
  for (const n of change.computeLeaving) {
    const h = quote(n.hostname);
    add('scale-in', `servers:${n.name}`, `no servers on ${n.hostname} (stackgate migrates none)`, {
      argv: sh(
        `s=$(${osc} server list --all-projects --host ${h} -f value -c ID -c Name -c Status); test -z "$s" || ` +
          `{ echo "compute node ${n.name} still hosts: $s; migrate them ` +
          '(openstack server migrate --live-migration) or delete them"; exit 1; }',
      ),
      env: cloud,
    });
    add('scale-in', `disable:${n.name}`, `nova-compute on ${n.hostname} disabled`, {
      argv: [osc, 'compute', 'service', 'set', '--disable', '--disable-reason', `leaves lab ${after.name}`, n.hostname,
        'nova-compute'],
      env: cloud,
    });
  }
  if (change.removed.length) {
    add('scale-in', 'stop', `Kolla's containers stopped on ${change.removed.map((n) => n.name).join(', ')}`, {
      argv: ka(appliedInventory(p), 'stop', change.removed, '--yes-i-really-really-mean-it'),
      env: kollaEnv,
      reads: [appliedInventory(p)],
    });
  }
  for (const n of change.computeLeaving) {
    const h = quote(n.hostname);
    const v253 = '--os-compute-api-version 2.53';
    add('scale-in', `agents:${n.name}`, `Neutron agents of ${n.hostname} deleted`, {
      argv: sh(`${osc} network agent list --host ${h} -f value -c ID | xargs -r ${osc} network agent delete`),
      env: cloud,
    });
    add('scale-in', `compute-service:${n.name}`, `compute service of ${n.hostname} deleted (and its resource provider)`, {
      argv: sh(`${osc} compute service list ${v253} --host ${h} -f value -c ID | ` +
        `xargs -r ${osc} compute service delete ${v253}`),
      env: cloud,
    });
    add('scale-in', `chassis:${n.name}`, `OVN chassis ${n.hostname} deleted from the southbound DB`, {
      argv: shell(control.name, 'docker', 'exec', 'ovn_sb_db', 'ovn-sbctl', '--if-exists', 'chassis-del', n.hostname),
    });
  }
  const ceph = (...argv: string[]) => shell(cephadm!.name, 'cephadm', 'shell', '--', 'ceph', ...argv);
  for (const n of cephadm ? change.removed.filter((x) => before.ceph?.osds.some((o) => o.node === x.name)) : []) {
    const h = n.hostname;
    add('scale-in', `ceph-drain:${n.name}`, `cephadm drains ${h} (its OSDs out and removed)`, {
      argv: ceph('orch', 'host', 'drain', h),
    });
    const pending = `s=$(cephadm shell -- ceph orch osd rm status) || exit 1; echo "$s" | grep -qF ${quote(h)} && exit 1; exit 0`;
    add('scale-in', `ceph-drained:${n.name}`, `no OSD removal pending on ${h}`, {
      argv: shell(cephadm!.name, 'sh', '-c', pending),
      retry: { attempts: 60, delaySeconds: 20 },
    });
    add('scale-in', `ceph-host-rm:${n.name}`, `${h} removed from the cluster`, { argv: ceph('orch', 'host', 'rm', h) });
  }
}

/**
 * Not in Kolla's page, which limits deploy to the new hosts: Prometheus on the monitoring nodes scrapes the hosts of
 * its inventory, so its configuration follows the change only when its own hosts are deployed again (tag prometheus).
 */
function prometheusTargets(before: Lab, after: Lab, group: string, add: Add): void {
  const { p, ka, kollaEnv } = tools(before, after);
  const monitoring = after.spec.monitoring ? after.nodesWithRole('monitoring') : [];
  if (monitoring.length === 0) return;
  const on = monitoring.map((n) => n.name).join(', ');
  add(group, 'prometheus-targets', `Prometheus on ${on} scrapes the new set of hosts`, {
    argv: ka(join(p.render, 'kolla/inventory'), 'deploy', monitoring, '--tags', 'prometheus'),
    env: kollaEnv,
  });
}

/** Kolla's "adding new compute nodes": bootstrap, pull, prechecks and deploy limited to the new nodes; discovery. */
function joining(before: Lab, after: Lab, add: Add): void {
  const { p, cloud, osc, ka, kollaEnv, control } = tools(before, after);
  const added = nodeChange(before, after).added;
  const names = added.map((n) => n.name).join(',');
  for (const sub of ['bootstrap-servers', 'pull', 'prechecks', 'deploy']) {
    const argv = ka(join(p.render, 'kolla/inventory'), sub, added);
    add('scale-out', sub, `kolla-ansible ${sub} --limit ${names}`, { argv, env: kollaEnv });
  }
  const computes = added.filter((n) => n.roles.includes('compute'));
  if (computes.length === 0) return;
  add('scale-out', 'discover-hosts', 'cell1 maps the new compute hosts (Kolla’s deploy does it too; idempotent)', {
    argv: shell(control.name, 'docker', 'exec', 'nova_conductor', 'nova-manage', 'cell_v2', 'discover_hosts', '--by-service'),
  });
  for (const n of computes) {
    add('scale-out', `compute-up:${n.name}`, `nova-compute on ${n.hostname} up`, {
      argv: sh(`${osc} compute service list --service nova-compute --host ${quote(n.hostname)} -f value -c State | ` +
        'grep -qx up'),
      env: cloud,
      retry: { attempts: 30, delaySeconds: 10 },
    });
  }
}

/** The steps that scale the running lab from `before` to `after`, in order; one phase, run with their own state. */
export function buildScalePlan(before: Lab, after: Lab, options: PlanOptions = {}): Step[] {
  const { p, cephadm } = tools(before, after);
  const change = nodeChange(before, after);
  const full = buildPlan(after, options);
  const steps: Step[] = [];
  const add: Add = (group, what, title, rest) => steps.push({ id: `${group}:${what}`, phase: 1, group, title, ...rest });
  /** Steps of the full plan, as they are (same IDs): the new nodes' VMs, the re-rendered DNS zones, cephadm's specs. */
  const reuse = (keep: (s: Step) => boolean) => steps.push(...full.filter(keep).map((s) => ({ ...s, phase: 1 as const })));
  const disks = new Set(change.added.flatMap((n) => diskDevices(n).map((d) => `disks:${d.name}`)));
  const ofAdded = (s: Step) => change.added.some((n) => s.id.endsWith(`:${n.name}`)) || disks.has(s.id);

  reuse((s) => s.group === 'preflight' && s.phase === 1);
  if (change.computeLeaving.length || change.added.some((n) => n.roles.includes('compute'))) {
    const pip = [join(p.venv, 'bin/pip'), 'install', '-q', 'python-openstackclient'];
    add('scale', 'openstackclient', 'the OpenStack client in the Kolla venv', { argv: pip });
  }
  leaving(before, after, add);
  if (change.removed.length) prometheusTargets(before, after, 'scale-in', add);
  for (const n of change.removed) {
    add('scale-in', `vm-stop:${n.name}`, `${n.name} stopped`, { argv: ['limactl', 'stop', n.name] });
    add('scale-in', `vm-delete:${n.name}`, `${n.name} deleted`, { argv: ['limactl', 'delete', '--force', n.name] });
    for (const d of diskDevices(n)) {
      add('scale-in', `disk:${d.name}`, `disk ${d.name} deleted`, { argv: ['limactl', 'disk', 'delete', d.name] });
    }
  }
  reuse((s) => ['disks', 'vms', 'ssh'].includes(s.group) && ofAdded(s));
  reuse((s) => s.group === 'dns');
  reuse((s) => s.group === 'host-iscsi' && ofAdded(s));
  if (change.added.length === 0) return steps;
  joining(before, after, add);
  prometheusTargets(before, after, 'scale-out', add);
  if (cephadm && change.added.some((n) => after.ceph?.osds.some((o) => o.node === n.name))) {
    const specs = ['cephadm:mkdir', 'cephadm:copy', 'ceph-hosts:apply', 'osds:apply', 'osds:up'];
    reuse((s) => specs.includes(s.id) || (s.group === 'ceph-hosts' && ofAdded(s)));
  }
  return steps;
}

/** The scale plan as `lab plan` prints it, before the full plan of a first `up`. */
export function formatScalePlan(before: Lab, after: Lab, steps: readonly Step[]): string {
  const c = nodeChange(before, after);
  const names = (l: readonly LabNode[]) => l.map((n) => n.name).join(', ') || 'none';
  const lines = [
    `lab ${after.name}: the running lab changes nodes (joining: ${names(c.added)}; leaving: ${names(c.removed)}); ` +
      `up runs these ${steps.length} steps, not the full plan (Kolla-Ansible's adding-and-removing-hosts):`,
  ];
  let group = '';
  for (const s of steps) {
    if (s.group !== group) lines.push(`  ${(group = s.group)}`);
    const notes = [s.retry ? `retried up to ${s.retry.attempts}× every ${s.retry.delaySeconds} s` : '', s.always ? 'every time' : '']
      .filter(Boolean);
    lines.push(`    ${s.id.padEnd(30)} ${commandLine(s)}${notes.length ? `   [${notes.join(', ')}]` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * After the scale steps went through, the full plan's record says what the lab now is: every step done before (or
 * run by the scale steps) is done at its current fingerprint, so the next plain `up` does not redeploy every host
 * with the new inventory; steps of nodes that left are forgotten.
 */
export function adoptScale(
  full: readonly Step[], state: RunState, ran: readonly string[], cwd: string, at = new Date(),
): RunState {
  const done: RunState['done'] = {};
  for (const s of full) {
    const was = state.done[s.id];
    if (s.always || (!was && !ran.includes(s.id))) continue;
    done[s.id] = { at: at.toISOString(), seconds: was?.seconds ?? 0, fingerprint: fingerprint(s, cwd) };
  }
  return { done };
}

