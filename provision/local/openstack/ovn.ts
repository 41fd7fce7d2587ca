/**
 * OVN for Neutron: the NB/SB databases and northd on the OVN central node (Kolla: the control nodes); on every chassis
 * (network and compute nodes) ovsdb-server with the chassis settings, then ovs-vswitchd and ovn-controller.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ovnSouthbound } from '../../../helpers/lab/defaults.ts';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { ovnClusterOf, type OvnDb } from '../../../helpers/ha/ovn.ts';
import { daemon, type Component, type Condition, type Daemon, type ReadyContext, type UpContext } from '../component.ts';
import { netnsName, underlayName, hostVethName, type LabPaths } from '../paths.ts';
import { run } from '../sh.ts';
import { agents, ovnAgentFindings } from '../../../helpers/openstack/neutron.ts';
import { guestsRun, hasService, layout, openstackContext, tunnelAddress, type OpenstackContext, type OpenstackLayout } from './common.ts';

export const ovnCentralRun = (paths: LabPaths, node: LabNode) => `${paths.run}/${node.name}-ovn`;
export const ovsRun = (paths: LabPaths, node: LabNode) => `${paths.run}/${node.name}-ovs`;
export const ovsDb = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'openvswitch', 'conf.db');
export const ovnDb = (paths: LabPaths, node: LabNode, which: 'nb' | 'sb') => paths.node(node.name, 'ovn', `ovn${which}_db.db`);

/** Where a compute node's ovsdb-server listens for os-vif: its own 127.0.0.1 (the node's namespace has its own loopback). */
export const OVSDB_LOCAL_PORT = 6640;

/** Every member of the spec's OVN RAFT cluster (ovnCluster) at its client port for the database, comma-separated. */
export function ovnClusterRemote(lab: Lab, db: OvnDb): string | undefined {
  const c = ovnClusterOf(lab);
  return c?.nodes.map((n) => `tcp:${n.apiAddress}:${c.clientPort[db]}`).join(',');
}

/** The northbound DB: the spec's RAFT cluster (every member), else the OVN central node's. */
export const ovnNbRemote = (lab: Lab, l: OpenstackLayout): string =>
  ovnClusterRemote(lab, 'OVN_Northbound') ?? `tcp:${l.ovnCentral.apiAddress}:6641`;

/**
 * The southbound DB: the spec's RAFT cluster (every member), else as the spec places it (neutron.ovnSouthbound);
 * this provider serves it over plain TCP only.
 */
export function ovnSbRemote(lab: Lab, l: OpenstackLayout): string {
  const cluster = ovnClusterRemote(lab, 'OVN_Southbound');
  if (cluster) return cluster;
  const sb = ovnSouthbound(lab);
  if (sb.scheme !== 'tcp') throw new Error(`lab ${lab.name}: the local provider serves OVN's southbound DB over tcp only, the spec asks for ${sb.scheme} (neutron.ovnSouthbound.scheme)`);
  return `tcp:${l.ovnCentral.apiAddress}:${sb.port}`;
}

function renderCentral(c: OpenstackContext): Daemon[] {
  const node = c.layout.ovnCentral;
  const run = ovnCentralRun(c.paths, node);
  const env = ['/usr/bin/env', `OVN_RUNDIR=${run}`, `OVS_RUNDIR=${run}`];
  const db = (which: 'nb' | 'sb', p: number) =>
    daemon(node, `ovn-${which}-db`, {
      argv: [
        ...env, '/usr/sbin/ovsdb-server', ovnDb(c.paths, node, which), `--remote=punix:${run}/ovn${which}_db.sock`,
        `--remote=ptcp:${p}:${node.apiAddress}`, `--pidfile=${run}/ovn${which}_db.pid`, `--unixctl=${run}/ovn${which}_db.ctl`,
        '--no-chdir',
      ],
      dirs: [{ path: run }, { path: dirname(ovnDb(c.paths, node, which)) }],
      health: [{ kind: 'tcp', host: node.apiAddress!, port: p }],
    });
  return [
    db('nb', 6641),
    db('sb', ovnSouthbound(c.lab).port),
    daemon(node, 'ovn-northd', {
      argv: [
        ...env, '/usr/bin/ovn-northd', `--ovnnb-db=unix:${run}/ovnnb_db.sock`, `--ovnsb-db=unix:${run}/ovnsb_db.sock`,
        `--pidfile=${run}/ovn-northd.pid`, '--no-chdir',
      ],
      dirs: [{ path: run }],
    }),
  ];
}

/** Extra ovsdb-server remotes of a chassis: on a compute node running guests, TCP on the node's loopback (the UNIX socket is root's). */
function guestRemotes(c: OpenstackContext, node: LabNode): string[] {
  return guestsRun(c.lab) && c.layout.compute.some((n) => n.name === node.name) ? [`--remote=ptcp:${OVSDB_LOCAL_PORT}:127.0.0.1`] : [];
}

const chassisEnv = (c: OpenstackContext, n: LabNode) => {
  const r = ovsRun(c.paths, n);
  return ['/usr/bin/env', `OVS_RUNDIR=${r}`, `OVN_RUNDIR=${r}`, `OVS_DBDIR=${dirname(ovsDb(c.paths, n))}`];
};

function renderOvsdb(c: OpenstackContext, n: LabNode): Daemon {
  const r = ovsRun(c.paths, n);
  return daemon(n, 'ovsdb-server', {
    argv: [
      ...chassisEnv(c, n), '/usr/sbin/ovsdb-server', ovsDb(c.paths, n), `--remote=punix:${r}/db.sock`, ...guestRemotes(c, n),
      `--pidfile=${r}/ovsdb-server.pid`, `--unixctl=${r}/ovsdb-server.ctl`, '--no-chdir',
    ],
    dirs: [{ path: r }, { path: dirname(ovsDb(c.paths, n)) }],
  });
}

function renderController(c: OpenstackContext, n: LabNode): Daemon[] {
  const r = ovsRun(c.paths, n);
  return [
    daemon(n, 'ovs-vswitchd', {
      argv: [...chassisEnv(c, n), '/usr/sbin/ovs-vswitchd', `unix:${r}/db.sock`, `--pidfile=${r}/ovs-vswitchd.pid`, `--unixctl=${r}/ovs-vswitchd.ctl`, '--no-chdir'],
      dirs: [{ path: r }],
    }),
    daemon(n, 'ovn-controller', {
      argv: [...chassisEnv(c, n), '/usr/bin/ovn-controller', `unix:${r}/db.sock`, `--pidfile=${r}/ovn-controller.pid`, '--no-chdir'],
      dirs: [{ path: r }],
    }),
  ];
}

/** The external_ids ovn-controller reads on a chassis (ovs-vsctl set open . …). */
export function chassisSettings(lab: Lab, l: OpenstackLayout, node: LabNode): Record<string, string> {
  const nspec = lab.spec.neutron;
  const gateway = l.network.some((n) => n.name === node.name);
  return {
    'system-id': node.hostname,
    hostname: node.hostname,
    'ovn-remote': ovnSbRemote(lab, l),
    'ovn-encap-type': nspec?.tenantNetworkType === 'vxlan' ? 'vxlan' : 'geneve',
    'ovn-encap-ip': tunnelAddress(lab, node),
    'ovn-bridge-datapath-type': 'netdev',
    'ovn-bridge': 'br-int',
    ...(gateway ? { 'ovn-bridge-mappings': `${nspec?.physnet ?? 'physnet1'}:${nspec?.bridge ?? 'br-ex'}`, 'ovn-cms-options': 'enable-chassis-as-gw' } : {}),
  };
}

/** The external bridge of a network node and the interface it takes (the spec's neutron-external NIC). */
export function externalBridge(lab: Lab, node: LabNode): { bridge: string; nic: string } | undefined {
  const nic = node.nics.find((n) => n.use === 'neutron-external');
  return nic ? { bridge: lab.spec.neutron?.bridge ?? 'br-ex', nic: nic.name } : undefined;
}

async function createDb(file: string, schema: string): Promise<boolean> {
  if (existsSync(file)) return false;
  mkdirSync(dirname(file), { recursive: true });
  await run('ovsdb-tool', ['create', file, schema]);
  return true;
}

async function configureChassis(c: UpContext): Promise<string> {
  const { lab, paths } = c;
  const l = layout(lab);
  for (const n of l.chassis) {
    const vsctl = (args: string[]) => run('ovs-vsctl', [`--db=unix:${ovsRun(paths, n)}/db.sock`, '--timeout=20', ...args]);
    await vsctl(['--no-wait', 'init']);
    const settings = Object.entries(chassisSettings(lab, l, n)).map(([k, v]) => `external_ids:${k}="${v}"`);
    await vsctl(['--no-wait', 'set', 'open', '.', ...settings]);
    const ext = l.network.some((x) => x.name === n.name) ? externalBridge(lab, n) : undefined;
    if (ext) {
      await vsctl([
        '--no-wait', '--may-exist', 'add-br', ext.bridge, '--', 'set', 'bridge', ext.bridge, 'datapath_type=netdev',
        '--', '--may-exist', 'add-port', ext.bridge, ext.nic,
      ]);
    }
  }
  return `${l.chassis.length} chassis configured`;
}

export const ovnCentral: Component = {
  name: 'ovn-central',
  // A spec with an OVN RAFT cluster (ovnCluster) has the databases and northd there (infra/ovn-raft.ts).
  needed: (lab) => hasService(lab, 'neutron') && !lab.spec.ovnCluster,
  packages: () => ['ovn-central'],
  render: (ctx) => renderCentral(openstackContext(ctx)),
  bootstrap: async ({ lab, paths, step }) => {
    const node = layout(lab).ovnCentral;
    await step('NB and SB databases', async () => {
      const made = [];
      for (const w of ['nb', 'sb'] as const) if (await createDb(ovnDb(paths, node, w), `/usr/share/ovn/ovn-${w}.ovsschema`)) made.push(w);
      return made.length ? `created ${made.join(', ')}` : 'present';
    });
  },
  keeps: ({ lab, paths }) => [dirname(ovnDb(paths, layout(lab).ovnCentral, 'nb'))],
};

export const openvswitch: Component = {
  name: 'openvswitch',
  needed: (lab) => hasService(lab, 'neutron') && layout(lab).chassis.length > 0,
  packages: () => ['openvswitch-switch'],
  render: (ctx) => {
    const c = openstackContext(ctx);
    return c.layout.chassis.map((n) => renderOvsdb(c, n));
  },
  bootstrap: async ({ lab, paths, step }) => {
    await step('databases', async () => {
      const made = [];
      const schema = '/usr/share/openvswitch/vswitch.ovsschema';
      for (const n of layout(lab).chassis) if (await createDb(ovsDb(paths, n), schema)) made.push(n.name);
      return made.length ? `created on ${made.join(', ')}` : 'present';
    });
  },
  configure: async (c) => void (await c.step('chassis settings and external bridges', () => configureChassis(c))),
  keeps: ({ lab, paths }) => layout(lab).chassis.map((n) => dirname(ovsDb(paths, n))),
};


/** TX checksum offload off on the host's end of each network node's external veth (see OVNMETA_TX_CSUM). */
export async function externalTxChecksumOff(lab: Lab, network: readonly LabNode[]): Promise<string> {
  if (!guestsRun(lab)) return 'no guests';
  const done: string[] = [];
  for (const node of network) {
    for (const nic of node.nics.filter((n) => n.use === 'neutron-external')) {
      const dev = hostVethName(lab, node, nic);
      await run('ethtool', ['-K', dev, 'tx', 'off']);
      done.push(dev);
    }
  }
  return done.length ? `TX checksum offload off on ${done.join(', ')}` : 'no external veth';
}


/**
 * Neutron Zed reads a chassis' bridge mappings and CMS options (enable-chassis-as-gw) from the southbound Chassis'
 * external_ids; OVN 23.03's ovn-controller writes them to other_config only. Without them Neutron finds no gateway
 * candidate and lists every chassis, so a router's gateway port can land on a compute node without br-ex and no
 * floating IP answers. Mirror the keys into external_ids (ovn-controller leaves them alone).
 */
export async function mirrorChassisOptions(sbRemote: string, ns: string, chassis: readonly { name: string; settings: Readonly<Record<string, string>> }[]): Promise<string> {
  const keys = ['ovn-bridge-mappings', 'ovn-cms-options'];
  const sb = (args: string[]) => run('ip', ['netns', 'exec', ns, 'ovn-sbctl', `--db=${sbRemote}`, '--timeout=20', ...args]);
  const done: string[] = [];
  for (const c of chassis) {
    const deadline = Date.now() + 60_000;
    while (!(await sb(['--bare', '--columns=name', 'find', 'chassis', `name=${c.name}`])).trim()) {
      if (Date.now() > deadline) throw new Error(`chassis ${c.name} did not register in the southbound database within 60 s`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const set = keys.filter((k) => c.settings[k]).map((k) => `external_ids:${k}="${c.settings[k]}"`);
    const unset = keys.filter((k) => !c.settings[k]);
    if (set.length) await sb(['set', 'chassis', c.name, ...set]);
    for (const k of unset) await sb(['remove', 'chassis', c.name, 'external_ids', k]);
    if (set.length) done.push(`${c.name}: ${keys.filter((k) => c.settings[k]).join(', ')}`);
  }
  return done.length ? done.join('; ') : 'no chassis options to mirror';
}

/**
 * OVS's userspace datapath sends Geneve natively: it looks the remote tunnel address up in its route table and sends
 * out of the OVS bridge named like the route's device. The tunnel address sits on the node's tunnel NIC (a veth,
 * no OVS bridge), so every packet between chassis was dropped. Keep the kernel's view of the design (the NIC name,
 * its address, MTU) but make that name an OVS bridge: the veth is renamed <nic>-phy and becomes the bridge's port,
 * the bridge's internal port takes the NIC's name and address. Idempotent; `lab up` restores the address should
 * ovs-vswitchd have recreated the internal port.
 */
export async function tunnelNicOnBridge(lab: Lab, paths: LabPaths, chassis: readonly LabNode[]): Promise<string> {
  if (!guestsRun(lab)) return 'no guests';
  const net = lab.networkFor('tunnel');
  if (!net) return 'no tunnel network';
  const notes: string[] = [];
  for (const node of chassis) {
    const nic = node.nics.find((n) => n.network === net.name && n.address);
    if (!nic) continue;
    const ns = netnsName(lab, node);
    const phy = underlayName(nic.name);
    const vsctl = (args: string[]) => run('ovs-vsctl', [`--db=unix:${ovsRun(paths, node)}/db.sock`, '--timeout=20', ...args]);
    const ipn = (args: string[]) => run('ip', ['-n', ns, ...args]);
    const links = JSON.parse(await ipn(['-j', 'addr', 'show'])) as { ifname: string; mtu: number; flags: string[]; linkinfo?: { info_kind?: string }; addr_info: { family: string; local: string; prefixlen: number }[] }[];
    const kind = JSON.parse(await ipn(['-j', '-d', 'link', 'show'])) as { ifname: string; linkinfo?: { info_kind?: string } }[];
    const isVeth = (name: string) => kind.find((k) => k.ifname === name)?.linkinfo?.info_kind === 'veth';
    if (isVeth(nic.name)) {
      // Fresh from the topology step: rename the veth, hand the name to the bridge.
      await ipn(['link', 'set', nic.name, 'down']);
      await ipn(['link', 'set', nic.name, 'name', phy]);
      await ipn(['addr', 'flush', 'dev', phy]);
      await ipn(['link', 'set', phy, 'up']);
      notes.push(`${node.name}: ${nic.name} → ${phy}`);
    }
    await vsctl(['--may-exist', 'add-br', nic.name, '--', 'set', 'bridge', nic.name, 'datapath_type=netdev', '--', '--may-exist', 'add-port', nic.name, phy, '--', 'set', 'interface', nic.name, `mtu_request=${nic.mtu}`]);
    const want = `${nic.address}/${nic.prefix}`;
    for (let i = 0; i < 40 && !(JSON.parse(await ipn(['-j', 'link', 'show'])) as { ifname: string }[]).some((l) => l.ifname === nic.name); i++) await new Promise((r) => setTimeout(r, 250));
    const now = (JSON.parse(await ipn(['-j', 'addr', 'show', 'dev', nic.name])) as typeof links)[0];
    if (!now?.addr_info.some((a) => a.family === 'inet' && `${a.local}/${a.prefixlen}` === want)) await ipn(['addr', 'replace', want, 'dev', nic.name]);
    await ipn(['link', 'set', nic.name, 'mtu', String(nic.mtu), 'up']);
    if (!links.some((l) => l.ifname === phy) && !notes.some((n) => n.startsWith(`${node.name}:`))) notes.push(`${node.name}: ${nic.name} bridge present`);
  }
  return notes.join('; ') || 'tunnel NICs on OVS bridges';
}


/**
 * The tunnel NIC, an OVS bridge's internal port, shows the carrier of the cable under it (as a Linux bridge would),
 * and keeps its address: ovs-vswitchd makes the port anew when it starts (after a reboot), as a node's network
 * configuration would address it at boot.
 */
function tunnelCarrier(lab: Lab, node: LabNode): Daemon | undefined {
  const tunnel = lab.networkFor('tunnel');
  const nic = tunnel && node.nics.find((n) => n.network === tunnel.name && n.address);
  if (!nic) return undefined;
  // The names are the script's arguments ($1 the tunnel NIC, $2 its peer, $3 its address, $4 its MTU), never its text.
  const loop = [
    'while :; do',
    'if [ -e "/sys/class/net/$1" ] && [ -e "/sys/class/net/$2" ] && ! ip -4 -o addr show dev "$1" | grep -qF "inet $3 "; then',
    'ip addr replace "$3" dev "$1" && ip link set "$1" mtu "$4" up && echo "$1 address $3 (the node\'s network config)";',
    'fi;',
    'if [ -e "/sys/class/net/$2" ] && have=$(cat "/sys/class/net/$1/carrier" 2>/dev/null); then',
    'if [ "$(cat "/sys/class/net/$2/carrier" 2>/dev/null)" = 1 ]; then want=1; else want=0; fi;',
    'if [ "$want" != "$have" ]; then if [ "$want" = 1 ]; then c=on; else c=off; fi; ip link set "$1" carrier $c && echo "$1 carrier $c (as $2)"; fi;',
    'fi;',
    'sleep 1;',
    'done',
  ].join(' ');
  const args = [nic.name, underlayName(nic.name), `${nic.address}/${nic.prefix}`, String(nic.mtu)];
  return daemon(node, 'tunnel-carrier', { argv: ['/bin/sh', '-c', loop, 'tunnel-carrier', ...args] });
}

async function wireChassis(c: UpContext): Promise<void> {
  const { lab, paths, step } = c;
  const l = layout(lab);
  if (guestsRun(lab)) {
    await step('full checksums into the userspace datapath (external veth)', () => externalTxChecksumOff(lab, l.network));
    await step('tunnel NICs on OVS bridges (native Geneve of the userspace datapath)', () => tunnelNicOnBridge(lab, paths, l.chassis));
  }
  const chassis = l.chassis.map((n) => ({ name: n.hostname, settings: chassisSettings(lab, l, n) }));
  await step('chassis options where Neutron Zed reads them (southbound external_ids)', () =>
    mirrorChassisOptions(ovnSbRemote(lab, l), netnsName(lab, l.ovnCentral), chassis));
}

function agentsAlive({ lab, cloud }: ReadyContext): Condition[] {
  if (lab.spec.neutron?.backend !== 'ovn') return [];
  return [{ what: 'Neutron reports every OVN agent alive', probe: async () => {
    const seen = ovnAgentFindings(lab, await agents(await cloud()));
    return seen.length ? seen.join('; ') : true;
  } }];
}

export const ovnController: Component = {
  name: 'ovn-controller',
  after: ['openvswitch', 'ovn-central'],
  needed: (lab) => hasService(lab, 'neutron') && layout(lab).chassis.length > 0,
  packages: () => ['ovn-host', 'openvswitch-switch', 'ethtool'],
  render: (ctx) => {
    const c = openstackContext(ctx);
    const carriers = guestsRun(c.lab) ? c.layout.chassis.map((n) => tunnelCarrier(c.lab, n)) : [];
    return [...c.layout.chassis.flatMap((n) => renderController(c, n)), ...carriers.filter((d): d is Daemon => !!d)];
  },
  configure: wireChassis,
  ready: agentsAlive,
};

