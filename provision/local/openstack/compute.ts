/** nova-compute on every compute node (libvirt with guests, else Nova's fake driver), mapped into cell1. */
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import type { Cloud } from '../../../helpers/openstack/cloud.ts';
import { computeInventories } from '../../../helpers/openstack/placement.ts';
import { viaVip } from '../api.ts';
import { daemon, type Component, type Condition, type Daemon, type ReadyContext, type UpContext } from '../component.ts';
import { once } from '../exec.ts';
import type { LabPaths } from '../paths.ts';
import { waitUntil } from '../sh.ts';
import { adminApi, guestsRun, hasService, layout, openstackContext, type OpenstackContext } from './common.ts';
import { virsh } from './libvirt.ts';
import { novaConf, novaDir, novaManage } from './nova.ts';

/** nova-compute's directory (its nova.conf): on a node that also runs the control services, a directory of its own. */
export const novaComputeDir = (lab: Lab, paths: LabPaths, node: LabNode) =>
  (node.name === layout(lab).control.name ? `${novaDir(paths, node)}-compute` : novaDir(paths, node));

/**
 * Guests' taps brought up again when they are down. Neutron Zed's OVN driver gives an ovs VIF no datapath_type, so
 * os-vif ensures br-int with the kernel datapath at every plug; with no OVS kernel module here ovs-vswitchd rebuilds
 * br-int (ovn-controller sets netdev back at once) and restores each port's flags as it first saw them: a guest's tap
 * that libvirt brought up in between went down for good (ovs-vswitchd: "error sending … Network is down"; the guest
 * never answered SSH). A stand-in for the kernel datapath this machine lacks, not a fix of anything a real lab has.
 */
const TAP_GUARD = [
  'while :; do',
  'for dev in $(ip -o link show 2>/dev/null | sed -n "s/^[0-9]*: \\(tap[^:@]*\\)[:@].*/\\1/p"); do',
  'if [ -z "$(ip -o link show dev "$dev" up 2>/dev/null)" ]; then',
  'ip link set dev "$dev" up 2>/dev/null && echo "tap up again: $dev";',
  'fi;',
  'done;',
  'sleep 1;',
  'done',
].join(' ');

function renderCompute(c: OpenstackContext, cn: LabNode): Daemon {
  const cdir = novaDir(c.paths, cn);
  const own = novaComputeDir(c.lab, c.paths, cn);
  const conf = novaConf(c, cn, 'compute').replaceAll(`${cdir}/`, `${own}/`).replace(`state_path = ${cdir}\n`, `state_path = ${own}\n`);
  return daemon(cn, 'nova-compute', {
    argv: ['/usr/bin/nova-compute', '--config-file', `${own}/nova.conf`],
    user: 'nova',
    files: [{ path: `${own}/nova.conf`, content: conf, owner: 'nova', mode: 0o640 }],
    dirs: [{ path: own, owner: 'nova' }, { path: `${own}/lock`, owner: 'nova' }, { path: `${own}/instances`, owner: 'nova' }],
  });
}

/** Nova's guests defined in libvirt that Nova does not know, from `virsh list --all --uuid --name` lines. */
export function strangers(listing: string, known: ReadonlySet<string>): { uuid: string; name: string }[] {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  return listing
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .map((w) => ({ uuid: w.find((x) => uuid.test(x)) ?? '', name: w.find((x) => x.startsWith('instance-')) ?? '' }))
    .filter((d) => d.uuid && d.name && !known.has(d.uuid));
}

/**
 * libvirt keeps domain definitions past `lab down --purge` (the node's libvirt dir, before it the host's
 * /etc/libvirt/qemu); Nova numbers its instances anew with a new database, so a leftover instance-0000000N refuses
 * the boot of a new server with its name ("domain already exists"). nova-compute starts with no domain Nova does
 * not know, on every compute node's own libvirtd.
 */
async function removeStrangers(c: UpContext): Promise<string> {
  const { lab, paths } = c;
  const api = await adminApi(c);
  const nova = `${viaVip(lab, 'nova')}${lab.spec.services!.nova!.path ?? '/v2.1'}`;
  const r = await api.call<{ servers: { id: string }[] }>('GET', `${nova}/servers?all_tenants=1&limit=1000`);
  const known = new Set(r.body.servers.map((x) => x.id));
  const gone: string[] = [];
  for (const node of layout(lab).compute) {
    const v = virsh(paths, node);
    for (const d of strangers(await v(['list', '--all', '--uuid', '--name']), known)) {
      await v(['destroy', d.uuid]).catch(() => undefined);
      await v(['undefine', d.uuid]);
      gone.push(`${d.name} on ${node.name}`);
    }
  }
  return gone.length ? `undefined ${gone.join(', ')}` : 'none';
}

/** Wait on the API until nova-compute runs on every compute node, then map the hosts (each nova-manage call costs seconds). */
async function discoverHosts(c: UpContext): Promise<string> {
  const { lab, paths } = c;
  const compute = layout(lab).compute;
  return once(paths, 'hosts-mapped', compute.map((n) => n.hostname).join(','), async () => {
    const nm = novaManage(c);
    const api = await adminApi(c);
    const nova = `${viaVip(lab, 'nova')}${lab.spec.services!.nova!.path ?? '/v2.1'}`;
    const short = (h: string) => h.split('.')[0];
    // os-services spans the cells; os-hypervisors shows only mapped hosts.
    await waitUntil('nova-compute up on every compute node', 120_000, async () => {
      type Service = { host: string; state: string };
      const r = await api.call<{ services: Service[] }>('GET', `${nova}/os-services?binary=nova-compute`, undefined, [200, 503]);
      const up = (r.body.services ?? []).filter((x) => x.state === 'up').map((x) => short(x.host));
      const missing = compute.filter((n) => !up.includes(short(n.hostname))).map((n) => n.hostname);
      return missing.length ? `not up: ${missing.join(', ')}` : true;
    });
    await waitUntil('compute hosts mapped', 120_000, async () => {
      await nm(['cell_v2', 'discover_hosts', '--verbose']);
      const hosts = await nm(['cell_v2', 'list_hosts']);
      return compute.every((n) => hosts.includes(` ${n.hostname} `)) ? true : 'not all mapped';
    });
  });
}

async function novaReady(lab: Lab, cloud: () => Promise<Cloud>): Promise<true | string> {
  const c = await cloud();
  type Service = { host: string; state: string; status: string };
  const seen = (await c.get<{ services: Service[] }>('compute', '/os-services?binary=nova-compute')).body.services;
  const problems: string[] = [];
  for (const node of lab.novaComputeNodes) {
    const s = seen.find((x) => x.host === node.hostname || x.host.split('.')[0] === node.hostname);
    if (!s) problems.push(`no nova-compute service on ${node.hostname}`);
    else if (s.state !== 'up' || s.status !== 'enabled') problems.push(`nova-compute on ${s.host} is ${s.state}/${s.status}`);
  }
  if (problems.length) return problems.join('; ');
  const bad = (await computeInventories(lab, c)).flatMap((p) => p.problems);
  return bad.length ? bad.join('; ') : true;
}


export const novaCompute: Component = {
  name: 'nova-compute',
  after: ['nova', 'libvirt', 'ovn-controller', 'neutron'],
  needed: (lab) => hasService(lab, 'nova') && layout(lab).compute.length > 0,
  // genisoimage builds config drives (Nova's mkisofs_cmd): no Debian package of Nova depends on it, Kolla's
  // nova-compute image carries it.
  packages: (lab) => ['nova-compute', ...(guestsRun(lab) ? ['nova-compute-qemu', 'genisoimage'] : [])],
  render: (ctx) => {
    const c = openstackContext(ctx);
    const guard = (n: LabNode) => (guestsRun(c.lab) ? [daemon(n, 'tap-guard', { argv: ['/bin/sh', '-c', TAP_GUARD] })] : []);
    return c.layout.compute.flatMap((n) => [renderCompute(c, n), ...guard(n)]);
  },
  bootstrap: async (c) => {
    if (guestsRun(c.lab)) await c.step('libvirt domains Nova does not know', () => removeStrangers(c));
  },
  configure: async (c) => void (await c.step('compute hosts mapped to cell1 (discover_hosts)', () => discoverHosts(c))),
  ready: ({ lab, cloud }: ReadyContext): Condition[] => [
    { what: 'every nova-compute service up and its hypervisor in Placement', probe: () => novaReady(lab, cloud) },
  ],
  keeps: ({ lab, paths }) => layout(lab).compute.map((n) => `${novaComputeDir(lab, paths, n)}/instances`),
};

