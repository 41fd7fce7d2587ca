/**
 * Scaling a running embedded lab. `lab up` records the spec it brought the lab to (applied-spec.json); the next `up`
 * compares the spec with it (change.ts). A node that joins needs nothing here: its namespace, wiring and daemons
 * come from the usual walk, which starts only what is new and restarts only what reads a changed file. A node that
 * leaves is drained first, as Kolla's "removing existing compute nodes" does: refused while servers run on it (the
 * operator migrates or deletes them, as Kolla's guide has them do before the removal), nova-compute disabled,
 * its OSDs taken out and emptied, its programs stopped, its namespace and wiring removed; once the control plane
 * runs, its compute service, resource provider, host mapping, OVN chassis, Neutron agents and OSDs are forgotten.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type LabNode } from '../../helpers/lab/model.ts';
import type { LabSpec } from '../../helpers/lab/spec.ts';
import { providerOfHost } from '../../helpers/openstack/placement.ts';
import { Api, passwordAuth, viaVip } from './api.ts';
import { cephCli, cephDue, cephJson, osdBlock, osdDir } from './ceph/common.ts';
import type { Daemon, LabContext } from './component.ts';
import type { NodeChange } from './change.ts';
import { layout, openstackEnabled, openstackSecrets } from './openstack/common.ts';
import { novaManage } from './openstack/nova.ts';
import { ovnSbRemote } from './openstack/ovn.ts';
import { removeNodeNetns } from './node-netns.ts';
import { netnsName, type LabPaths } from './paths.ts';
import { run, waitUntil, type Progress } from './sh.ts';
import { stopPrograms } from './supervisor.ts';
import { destroyTopology, planTopology } from './topology.ts';

// ---------------------------------------------------------------- the spec the lab was brought to

export const appliedFile = (paths: LabPaths) => join(paths.root, 'applied-spec.json');

/** Written when `up` went through: what the next `up` compares the spec with. */
export function recordApplied(lab: Lab, paths: LabPaths): void {
  writeFileSync(appliedFile(paths), `${JSON.stringify({ file: lab.file, spec: lab.spec }, null, 2)}\n`);
}

/** The lab as the last complete `up` left it (its spec, read against this spec's folder); undefined before any. */
export function appliedLab(lab: Lab, paths: LabPaths): Lab | undefined {
  if (!existsSync(appliedFile(paths))) return undefined;
  const { spec } = JSON.parse(readFileSync(appliedFile(paths), 'utf8')) as { spec: LabSpec };
  return new Lab(spec, lab.file);
}

export class ScaleRefused extends Error {
  override name = 'ScaleRefused';
}

// ---------------------------------------------------------------- the cloud, as admin

const COMPUTE_253 = { 'openstack-api-version': 'compute 2.53' };

interface Admin {
  readonly api: Api;
  readonly nova: string;
  readonly placement: string;
  readonly neutron: string;
}

async function withAdmin<T>(lab: Lab, paths: LabPaths, fn: (a: Admin) => Promise<T>): Promise<T> {
  const api = new Api(readFileSync(paths.caCert, 'utf8'));
  try {
    const auth = passwordAuth('admin', openstackSecrets(paths).adminPassword, 'admin');
    const t = await api.call('POST', `${viaVip(lab, 'keystone')}/v3/auth/tokens`, auth);
    api.token = String(t.headers['x-subject-token']);
    const nova = `${viaVip(lab, 'nova')}${lab.spec.services?.nova?.path ?? '/v2.1'}`;
    return await fn({ api, nova, placement: viaVip(lab, 'placement'), neutron: `${viaVip(lab, 'neutron')}/v2.0` });
  } finally {
    await api.close();
  }
}

interface Service {
  id: string;
  host: string;
  status: string;
  state: string;
}

async function services(a: Admin, host: string): Promise<Service[]> {
  const url = `${a.nova}/os-services?binary=nova-compute&host=${host}`;
  return (await a.api.call<{ services: Service[] }>('GET', url, undefined, [200], COMPUTE_253)).body.services;
}

/** Servers Nova places on a host, in any state, as `name (id, status)`. */
async function serversOn(a: Admin, host: string): Promise<string[]> {
  type S = { id: string; name: string; status: string };
  const r = await a.api.call<{ servers: S[] }>('GET', `${a.nova}/servers/detail?all_tenants=1&host=${host}`);
  return r.body.servers.map((s) => `${s.name} (${s.id}, ${s.status})`);
}

function refuseGuests(node: LabNode, servers: readonly string[]): void {
  if (servers.length === 0) return;
  throw new ScaleRefused(
    `compute node ${node.name} cannot leave: ${servers.length} server(s) still on host ${node.hostname}: ` +
      `${servers.join(', ')}. Move them to another compute node (openstack server migrate --live-migration ` +
      `--host <host>) or delete them, then run lab up again`,
  );
}

// ---------------------------------------------------------------- draining, while the lab runs

/** Programs of a node, from the lab as rendered before the change; nova-compute and the OVN agent first. */
export function nodePrograms(daemons: readonly Daemon[], node: string): string[] {
  const first = ['nova-compute', 'neutron-ovn-metadata-agent', 'ovn-controller'];
  const mine = daemons.filter((d) => d.node === node);
  const rank = (d: Daemon) => (first.includes(d.service) ? first.indexOf(d.service) : first.length);
  return [...mine].sort((a, b) => rank(a) - rank(b)).map((d) => d.program);
}

/** Out, then wait until the placement groups are active+clean again elsewhere. */
async function emptyOsd(before: Lab, paths: LabPaths, id: number): Promise<string> {
  const ceph = cephCli(before, paths);
  await ceph(['osd', 'out', String(id)]);
  let seen = '';
  await waitUntil(`placement groups active+clean without osd.${id}`, 600_000, async () => {
    type Status = { pgmap: { num_pgs: number; pgs_by_state?: { state_name: string; count: number }[] } };
    const s = await cephJson<Status>(ceph, ['-s']);
    const clean = (s.pgmap.pgs_by_state ?? []).find((x) => x.state_name === 'active+clean')?.count ?? 0;
    seen = `${clean}/${s.pgmap.num_pgs} active+clean`;
    return clean === s.pgmap.num_pgs ? true : seen;
  });
  return `osd.${id} out, ${seen}`;
}

/**
 * Before anything of the lab changes: refuse while servers run on a leaving compute node, else disable its
 * nova-compute (no new server lands there); empty the leaving OSDs; stop the leaving programs; remove the namespaces,
 * veths and state of the nodes that leave.
 */
export async function drain(
  before: Lab, ctx: LabContext, change: NodeChange, daemons: readonly Daemon[], p: Progress,
): Promise<void> {
  const { paths } = ctx;
  if (change.computeLeaving.length && openstackEnabled(before)) {
    const names = change.computeLeaving.map((n) => n.name).join(', ');
    await p.step(`scale-in: no servers on ${names}; nova-compute disabled`, () =>
      withAdmin(before, paths, async (a) => {
        for (const node of change.computeLeaving) refuseGuests(node, await serversOn(a, node.hostname));
        const disabled: string[] = [];
        for (const node of change.computeLeaving) {
          for (const s of (await services(a, node.hostname)).filter((x) => x.status !== 'disabled')) {
            const body = { status: 'disabled', disabled_reason: `stackgate: ${node.name} leaves lab ${before.name}` };
            await a.api.call('PUT', `${a.nova}/os-services/${s.id}`, body, [200], COMPUTE_253);
            disabled.push(s.host);
          }
        }
        return disabled.length ? `disabled on ${disabled.join(', ')}` : 'none to disable';
      }),
    );
  }
  // Only a Ceph that runs (its storage phase reached) has OSDs to empty and purge.
  const osdsLeaving = cephDue(before) ? change.osdsLeaving : [];
  for (const o of osdsLeaving) {
    await p.step(`scale-in: osd.${o.id} on ${o.node} emptied`, () => emptyOsd(before, paths, o.id));
  }
  const leaving = new Set([...change.removed.map((n) => n.name)]);
  const stopped = [
    ...[...leaving].flatMap((n) => nodePrograms(daemons, n)),
    ...osdsLeaving.filter((o) => !leaving.has(o.node)).map((o) => `${o.node}-ceph-osd-${o.id}`),
    ...change.computeLeaving.filter((n) => !leaving.has(n.name)).map((n) => `${n.name}-nova-compute`),
  ];
  if (stopped.length) await p.step(`scale-in: ${stopped.length} programs stopped`, () => stopPrograms(paths, stopped));
  for (const node of change.removed) {
    await p.step(`scale-in: ${node.name}'s namespace, wiring and state removed`, () => removeNode(before, paths, node));
  }
}

/**
 * A leaving node's namespace (and anything still in it), its own /run/netns (the metadata agent's namespaces, and its
 * shared mount, which `lab down` looks for only on the spec's nodes), its veths, /etc/netns files, state dir and host key.
 */
export async function removeNode(before: Lab, paths: LabPaths, node: LabNode): Promise<string> {
  const netns = await removeNodeNetns(paths, node.name);
  const whole = planTopology(before);
  const mine = {
    ...whole,
    bridges: [],
    namespaces: whole.namespaces.filter((n) => n.node === node.name),
    veths: whole.veths.filter((v) => v.node === node.name),
  };
  const removed = await destroyTopology(mine);
  const state = [paths.node(node.name), paths.hostKey(node.name), `${paths.hostKey(node.name)}.pub`];
  for (const f of state) rmSync(f, { recursive: true, force: true });
  return netns.length ? `${removed}; its /run/netns with ${netns.join(', ')}` : removed;
}

// ---------------------------------------------------------------- forgetting, once the control plane runs

/**
 * What the cloud still knows of the leaving nodes, removed once the control plane runs (after a `lab down` too): the
 * compute service (Nova deletes its compute node record), the resource provider and host mapping where Nova left
 * them, the OVN chassis and the Neutron agents of the host, and the OSDs' entries in the cluster.
 */
export async function forget(before: Lab, ctx: LabContext, change: NodeChange, p: Progress): Promise<void> {
  const { lab, paths } = ctx;
  if (change.computeLeaving.length && openstackEnabled(lab)) {
    const names = change.computeLeaving.map((n) => n.name).join(', ');
    await p.step(`scale-in: Nova and Placement forget ${names}`, () =>
      withAdmin(lab, paths, async (a) => {
        for (const node of change.computeLeaving) refuseGuests(node, await serversOn(a, node.hostname));
        const gone: string[] = [];
        for (const node of change.computeLeaving) gone.push(...(await forgetCompute(a, ctx, node)));
        return gone.join(', ') || 'nothing left to forget';
      }),
    );
    // A node that stays a chassis (a network node that was also a compute node) keeps its chassis and agents.
    const unchassised = change.computeLeaving.filter((n) => !layout(lab).chassis.some((c) => c.name === n.name));
    if (lab.spec.neutron?.backend === 'ovn' && unchassised.length) {
      await p.step(`scale-in: OVN chassis and Neutron agents of ${unchassised.map((n) => n.name).join(', ')} removed`, () =>
        withAdmin(lab, paths, async (a) => {
          const gone = await Promise.all(unchassised.map((n) => forgetChassis(a, lab, n)));
          return gone.join('; ');
        }));
    }
  }
  const osdsLeaving = cephDue(before) && cephDue(lab) ? change.osdsLeaving : [];
  if (osdsLeaving.length) {
    const ceph = cephCli(lab, paths);
    const osds = osdsLeaving.map((o) => `osd.${o.id}`).join(', ');
    await p.step(`scale-in: ${osds} purged from the cluster`, async () => {
      for (const o of osdsLeaving) {
        await ceph(['osd', 'purge', String(o.id), '--yes-i-really-mean-it']);
        // Its store goes too (the node may stay): an OSD made later with this id starts from `ceph osd new` again.
        const node = before.node(o.node);
        for (const f of [osdDir(paths, node, o.id), `${osdDir(paths, node, o.id)}.uuid`, osdBlock(paths, node, o.id)]) {
          rmSync(f, { recursive: true, force: true });
        }
      }
      return 'purged';
    });
  }
}

/** The cell a host is mapped to, from `nova-manage cell_v2 list_hosts` (| Cell Name | Cell UUID | Hostname |). */
export function cellOfHost(listing: string, hostname: string): string | undefined {
  const cells = (line: string) => line.split('|').map((x) => x.trim());
  const row = listing.split('\n').find((l) => cells(l)[3] === hostname);
  return row ? cells(row)[2] : undefined;
}

async function forgetCompute(a: Admin, ctx: LabContext, node: LabNode): Promise<string[]> {
  const gone: string[] = [];
  for (const s of await services(a, node.hostname)) {
    await a.api.call('DELETE', `${a.nova}/os-services/${s.id}`, undefined, [204, 404], COMPUTE_253);
    gone.push(`compute service ${s.host}`);
  }
  type Rp = { uuid: string; name: string };
  const rps = (await a.api.call<{ resource_providers: Rp[] }>('GET', `${a.placement}/resource_providers`)).body
    .resource_providers;
  const rp = providerOfHost(rps, node.hostname);
  if (rp) {
    await a.api.call('DELETE', `${a.placement}/resource_providers/${rp.uuid}`, undefined, [204, 404]);
    gone.push(`resource provider ${rp.name}`);
  }
  const nm = novaManage(ctx);
  const cell = cellOfHost(await nm(['cell_v2', 'list_hosts']), node.hostname);
  if (cell) {
    await nm(['cell_v2', 'delete_host', '--cell_uuid', cell, '--host', node.hostname]);
    gone.push(`host mapping ${node.hostname}`);
  }
  return gone;
}

async function forgetChassis(a: Admin, lab: Lab, node: LabNode): Promise<string> {
  const l = layout(lab);
  const ns = netnsName(lab, l.ovnCentral);
  const sbctl = ['ovn-sbctl', `--db=${ovnSbRemote(lab, l)}`, '--timeout=20'];
  await run('ip', ['netns', 'exec', ns, ...sbctl, '--if-exists', 'chassis-del', node.hostname]);
  type Agent = { id: string; agent_type: string };
  const url = `${a.neutron}/agents?host=${node.hostname}`;
  const agents = (await a.api.call<{ agents: Agent[] }>('GET', url)).body.agents;
  for (const x of agents) await a.api.call('DELETE', `${a.neutron}/agents/${x.id}`, undefined, [204, 404]);
  return `chassis ${node.hostname}${agents.length ? `, agents ${agents.map((x) => x.agent_type).join(', ')}` : ''}`;
}
