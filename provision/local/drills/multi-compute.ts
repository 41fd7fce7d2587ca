/**
 * Fault drills of a lab with two or more compute nodes running guests (the bundled four-node lab): the first compute
 * node's libvirtd refusing the other nodes' migration connections, and Geneve dropped between the first two compute
 * chassis. None on a lab with one compute node (embedded: there is nothing to migrate to and no east-west between
 * nodes). The decisions each drill violates are the ones the lab's own record maps the check to (four-node: FN-19,
 * FN-20). Run them with the lab named: STACKGATE_LAB=four-node STACKGATE_DRILLS=… (drills.live.ts).
 */
import { existsSync } from 'node:fs';
import { loadDecisions } from '../../../helpers/gate/decisions.ts';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { guestsRun, layout, tunnelAddress } from '../openstack/common.ts';
import { migrationListener } from '../openstack/libvirt.ts';
import { ovsRun } from '../openstack/ovn.ts';
import { labPaths, netnsName } from '../paths.ts';
import { run, tryRun } from '../sh.ts';
import type { Drill } from './drill.ts';

/** The decisions of the lab's record that name the check (the drill's failures must name one of them). */
const decisionsOf = (lab: Lab, checkId: string) => loadDecisions(lab).forCheck(checkId).map((d) => d.id);

/** The compute nodes the run's guests are on where a drill between two of them applies; none where there is one. */
function computePair(lab: Lab): [LabNode, LabNode] | undefined {
  const compute = layout(lab).compute;
  return guestsRun(lab) && compute.length >= 2 ? [compute[0]!, compute[1]!] : undefined;
}

const MIGRATION_REJECT = 'stackgate drill compute-migration-listener-closed';

/** The rule (without -I/-C/-D) that closes a node's libvirtd TCP port to everyone, ahead of its migration chain. */
export const migrationRejectRule = (port: number) => [
  'INPUT', '-p', 'tcp', '--dport', String(port), '-m', 'comment', '--comment', MIGRATION_REJECT,
  '-j', 'REJECT', '--reject-with', 'tcp-reset',
];

/**
 * compute.live-migration moves the last compute node's guest to the first compute node: that node's libvirtd answers
 * no migration connection (its TCP port reset in the node's namespace), so the source's libvirtd cannot reach it and
 * Nova rolls the migration back, the server staying where it was.
 */
function migrationListenerClosed(lab: Lab): Drill | undefined {
  const pair = computePair(lab);
  const target = pair?.[0];
  const listener = target && migrationListener(lab, target);
  if (!pair || !target || !listener) return undefined;
  const rule = migrationRejectRule(listener.port);
  const inNode = (op: '-C' | '-I' | '-D') => ['netns', 'exec', netnsName(lab, target), 'iptables', '-w', op, ...rule];
  const present = async () => (await tryRun('ip', inNode('-C'))).code === 0;
  return {
    name: 'compute-migration-listener-closed',
    description: `libvirtd on ${target.name} resets every connection to its port ${listener.address}:${listener.port}`,
    decisions: decisionsOf(lab, 'compute.live-migration'),
    checks: ['compute.live-migration'],
    // The check's message: "live migration of server sg-…-vm-<last> on <last> to <target>: …, not on <target host>".
    object: `to ${target.name}`,
    async inject() {
      if (!(await present())) await run('ip', inNode('-I'));
    },
    async revert() {
      while (await present()) {
        const r = await tryRun('ip', inNode('-D'));
        if (r.code !== 0) throw new Error(`drill compute-migration-listener-closed: iptables -D on ${target.name}: ${r.out}`);
      }
    },
  };
}

/** A cookie that marks the drill's flows, so that revert removes exactly them. */
export const GENEVE_DROP_COOKIE = '0x5367ee01';
const GENEVE_PORT = 6081;

/**
 * The flows that drop Geneve between two chassis on one of them: its tunnel bridge (the userspace datapath sends and
 * receives Geneve through it, not through the kernel's IP stack, so iptables never sees these packets) drops what
 * comes from the peer's tunnel address and what it would send there.
 */
export function geneveDropFlows(peerTunnelAddress: string): string[] {
  const base = `cookie=${GENEVE_DROP_COOKIE},priority=65000,udp,tp_dst=${GENEVE_PORT}`;
  return [`${base},nw_src=${peerTunnelAddress},actions=drop`, `${base},nw_dst=${peerTunnelAddress},actions=drop`];
}

/**
 * Geneve between the first two compute chassis dropped on the second one, in its own namespace: guests on the two
 * nodes no longer reach each other over the tenant network, while both still reach the network node (router,
 * floating IPs) and the APIs.
 */
function geneveBetweenComputesDropped(lab: Lab): Drill | undefined {
  const pair = computePair(lab);
  const net = lab.networkFor('tunnel');
  if (!pair || !net || lab.spec.neutron?.backend !== 'ovn') return undefined;
  const [a, b] = pair;
  const bridge = b.nics.find((n) => n.network === net.name && n.address)?.name;
  if (!bridge) return undefined;
  const socket = `${ovsRun(labPaths(lab.name), b)}/${bridge}.mgmt`;
  const ofctl = (command: string, arg: string) => run('ovs-ofctl', [command, `unix:${socket}`, arg]);
  return {
    name: 'compute-geneve-between-computes-dropped',
    description: `${b.name}'s tunnel bridge ${bridge} drops Geneve (UDP ${GENEVE_PORT}) from and to ${a.name}'s tunnel `
      + `address ${tunnelAddress(lab, a)}`,
    decisions: decisionsOf(lab, 'compute.east-west'),
    checks: ['compute.east-west'],
    // Every east-west finding names both guests with their nodes: "from guest … on <a> to guest … on <b> at …".
    object: ` on ${b.name}`,
    async inject() {
      for (const flow of geneveDropFlows(tunnelAddress(lab, a))) await ofctl('add-flow', flow);
    },
    async revert() {
      // Flows live in ovs-vswitchd only: with its bridge gone (lab down, OVS restarted) there is nothing to remove.
      if (existsSync(socket)) await ofctl('del-flows', `cookie=${GENEVE_DROP_COOKIE}/-1`);
    },
  };
}

export const multiComputeDrillsFor = (lab: Lab): Drill[] =>
  [migrationListenerClosed(lab), geneveBetweenComputesDropped(lab)].filter((d) => d !== undefined);
