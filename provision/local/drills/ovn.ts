/**
 * Fault drills of OVN: a chassis that encapsulates from the wrong address, a compute node whose ovn-controller
 * is gone (stopped, its chassis deregistered), and new subnets handed the wrong DNS servers. The node is the spec's
 * last compute node; every value comes from the spec, and a revert puts back what the spec says (or the file as it
 * was), so it needs no memory of the inject.
 */
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { agents } from '../../../helpers/openstack/neutron.ts';
import { waitFor } from '../../../helpers/openstack/wait.ts';
import { chassisEncaps, southbound, type Encap } from '../../../helpers/node/ovn.ts';
import { layout, tunnelAddress } from '../openstack/common.ts';
import { neutronDir } from '../openstack/neutron.ts';
import { ovsRun } from '../openstack/ovn.ts';
import { labPaths, netnsName } from '../paths.ts';
import { run, tryRun, waitUntil } from '../sh.ts';
import { fileDrill, supervisorctl as supervisorctlOrFail, withCloud, type Drill, type FileDrill } from './drill.ts';

const vsctl = (lab: Lab, node: LabNode, ...args: string[]) => run('ovs-vsctl', [`--db=unix:${ovsRun(labPaths(lab.name), node)}/db.sock`, '--timeout=20', ...args]);
const supervisorctl = (lab: Lab, ...args: string[]) => tryRun('supervisorctl', ['-c', labPaths(lab.name).supervisorConf, ...args]);

/** The southbound encaps, read the way the check reads them (ovn-sbctl inside the control node). */
async function encaps(lab: Lab): Promise<Encap[]> {
  const sb = southbound(lab);
  const shell = { out: (cmd: string) => run('ip', ['netns', 'exec', netnsName(lab, sb.node), 'sh', '-c', cmd]) };
  return chassisEncaps(lab, shell, sb);
}

const mine = (node: LabNode, seen: readonly Encap[]) => seen.filter((e) => e.hostname === node.hostname || e.hostname.split('.')[0] === node.hostname);

async function encapIs(lab: Lab, node: LabNode, done: (ips: string[]) => boolean, what: string): Promise<void> {
  await waitFor(async () => mine(node, await encaps(lab)).map((e) => e.ip), {
    what: `${what} of ${node.name} in the southbound DB`,
    timeoutMs: 60_000,
    intervalMs: 1000,
    state: (ips) => ips.join(',') || 'no chassis',
    done,
  });
}

/** The node's management address: on the lab but not the tunnel network, so the encap is plainly wrong. */
function wrongAddress(lab: Lab, node: LabNode): string {
  const tunnel = tunnelAddress(lab, node);
  const other = Object.values(node.addresses).find((a) => a && a !== tunnel);
  if (!other) throw new Error(`drill cannot run on lab ${lab.name}: ${node.name} has no address besides its tunnel address`);
  return other;
}

const encapWrongIp = (node: LabNode): Drill => ({
  name: 'net-ovn-encap-wrong-ip',
  description: "the compute node's OVN chassis encapsulates from its management address instead of its tunnel address (ovn-encap-ip)",
  decisions: ['IFC-02', 'NEU-01'],
  checks: ['net.ovn-chassis-encap'],
  object: `chassis of ${node.name} encapsulates from`,
  async inject(lab) {
    const wrong = wrongAddress(lab, node);
    await vsctl(lab, node, 'set', 'open', '.', `external_ids:ovn-encap-ip="${wrong}"`);
    await encapIs(lab, node, (ips) => ips.includes(wrong), `the encap IP ${wrong}`);
  },
  async revert(lab) {
    const want = tunnelAddress(lab, node);
    await vsctl(lab, node, 'set', 'open', '.', `external_ids:ovn-encap-ip="${want}"`);
    await encapIs(lab, node, (ips) => ips.length > 0 && ips.every((ip) => ip === want), `the encap IP ${want}`);
  },
});

async function controllerAgentAlive(lab: Lab, node: LabNode, alive: boolean): Promise<void> {
  await withCloud(lab, (cloud) =>
    waitFor(async () => (await agents(cloud)).filter((a) => a.agent_type.startsWith('OVN Controller') && a.host.split('.')[0] === node.hostname.split('.')[0]), {
      what: `the OVN controller agent of ${node.name}`,
      timeoutMs: 180_000,
      intervalMs: 2000,
      state: (found) => (found.length ? found.map((a) => `alive=${a.alive}`).join(',') : 'absent'),
      done: (found) => (alive ? found.length > 0 && found.every((a) => a.alive) : found.every((a) => !a.alive)),
    }),
  );
}

const controllerGone = (node: LabNode): Drill => ({
  name: 'net-ovn-controller-gone',
  description: "ovn-controller on the compute node stopped and its chassis deregistered from the southbound DB (as `ovn-appctl exit` leaves it)",
  decisions: ['NEU-01', 'IFC-02'],
  checks: ['net.ovn-agents', 'net.ovn-chassis-encap'],
  object: node.name,
  async inject(lab) {
    await supervisorctl(lab, 'stop', `${node.name}-ovn-controller`);
    const sb = southbound(lab);
    await tryRun('ip', ['netns', 'exec', netnsName(lab, sb.node), 'ovn-sbctl', ...sb.args, '--timeout=10', '--if-exists', 'chassis-del', node.hostname]);
    await encapIs(lab, node, (ips) => ips.length === 0, 'the chassis');
    await controllerAgentAlive(lab, node, false);
  },
  async revert(lab) {
    await supervisorctl(lab, 'start', `${node.name}-ovn-controller`);
    await encapIs(lab, node, (ips) => ips.length > 0, 'the chassis');
    await controllerAgentAlive(lab, node, true);
  },
});

/** An address on the lab that serves no DNS: a node without the dns role, so guests told of it resolve nothing. */
function notADnsServer(lab: Lab): string | undefined {
  const want = lab.spec.neutron?.tenantDnsServers ?? [];
  return lab.nodes.filter((n) => !n.roles.includes('dns')).map((n) => n.apiAddress).find((a) => a && !want.includes(a));
}

/** neutron-server's default DNS servers ([ovn] dns_servers) moved to another address of the lab. */
export function tenantDnsChanged(lab: Lab): FileDrill | undefined {
  const wrong = notADnsServer(lab);
  if (!lab.spec.neutron?.tenantDnsServers || !wrong || !lab.spec.services?.neutron) return undefined;
  const control = layout(lab).control;
  return fileDrill(
    {
      name: 'net-tenant-dns-changed',
      description: `neutron-server on ${control.name} hands subnets without DNS servers ${wrong} ([ovn] dns_servers), not the spec's tenant DNS`,
      // A tenant resolves the cloud's API names through the subnet's DNS: tenant-api-reach (VIP-02) loses them too.
      decisions: ['DNS-05', ...(lab.lacks('guest-dataplane') ? [] : ['VIP-02'])],
      checks: ['net.tenant-dns', ...(lab.lacks('guest-dataplane') ? [] : ['compute.guest-dns', 'compute.tenant-api-reach'])],
      object: wrong, // every failing check names the address it saw instead
    },
    (lab) => ({
      file: `${neutronDir(labPaths(lab.name), layout(lab).control)}/ml2_conf.ini`,
      edit: (text) => text.replace(/^dns_servers = .*$/m, `dns_servers = ${wrong}`),
    }),
    async (lab) => {
      await supervisorctlOrFail(lab, 'restart', `${control.name}-neutron-server`);
      await waitUntil('Neutron answering again', 120_000, () =>
        withCloud(lab, async (c) => (await c.get('network', '/v2.0/networks?limit=1'), true as const)).catch((error: Error) => error.message),
      );
    },
  );
}

/** The drills for the lab's last compute node and its Neutron; none where the lab has no compute node or no OVN. */
export function ovnDrillsFor(lab: Lab): Drill[] {
  const node = lab.nodesWithRole('compute').at(-1);
  if (!node || lab.spec.neutron?.backend !== 'ovn') return [];
  return [encapWrongIp(node), controllerGone(node), tenantDnsChanged(lab)].filter((d) => d !== undefined);
}
