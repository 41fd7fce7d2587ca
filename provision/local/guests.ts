/**
 * Real guests in the embedded lab (issue 10), rendered from the lab spec: Nova's libvirt driver with the spec's
 * compute.virtType (qemu: TCG) on the compute nodes, libvirtd and virtlogd beside nova-compute in the compute node's
 * namespace, and the metadata path (nova's metadata API on the control node, neutron-ovn-metadata-agent on each
 * compute chassis). `compute.virtType: fake` keeps Nova's fake driver (no guest, no libvirt, no metadata path).
 * Nothing here touches the machine.
 */
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Lab, LabNode } from '../../helpers/lab/model.ts';
import { hostVethName, netnsName, underlayName, type LabPaths } from './paths.ts';
import { run } from './sh.ts';
import { GUEST_PACKAGES } from './guest.ts';
import { cephConsumer, daemon, ini, neutronDir, novaConf, novaDir, ovnSbRemote, ovsRun, uwsgi, type Ctx } from './openstack.ts';
import type { Daemon } from './render.ts';

export type NovaDriver = 'fake' | 'libvirt';

/** compute.virtType fake → Nova's fake driver; kvm/qemu (or nothing: Nova's default kvm) → libvirt. */
export function novaDriver(lab: Lab): NovaDriver {
  return lab.spec.compute?.virtType === 'fake' ? 'fake' : 'libvirt';
}

/** Whether guests run: the libvirt driver, so the metadata path and the guest image are part of the lab. */
export const guestsRun = (lab: Lab) => novaDriver(lab) === 'libvirt';

export const NOVA_METADATA_PORT = 8775;

/** Debian packages the guest part needs beyond the control plane (libvirt and QEMU come with nova-compute-qemu; qemu-block-extra is QEMU's librbd driver). */
export const GUEST_RUNTIME_PACKAGES = ['neutron-ovn-metadata-agent', 'libvirt-daemon-system', 'qemu-utils', 'qemu-block-extra', 'sudo', 'ethtool'] as const;

/** Packages to install when guests run: the runtime and what the guest image is built from. */
export function guestPackages(lab: Lab): string[] {
  return guestsRun(lab) ? [...GUEST_RUNTIME_PACKAGES, ...GUEST_PACKAGES] : [];
}

export const libvirtDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'libvirt');

/** The Ceph client guests' RBD volumes are opened with (Kolla: the Cinder user), when guests run and Ceph is due. */
export const rbdClient = (lab: Lab) => (guestsRun(lab) ? cephConsumer(lab, 'cinder') : undefined);

/** Nova's instance disks in Ceph when the spec makes Nova a Ceph consumer (pool and user as Kolla's). */
export const novaRbd = (lab: Lab) => (guestsRun(lab) ? cephConsumer(lab, 'nova') : undefined);

/** Nova's ceph.conf on a compute node: the lab's, with the client keyring beside it, readable by nova. */
export const novaCephConf = (paths: LabPaths, node: LabNode) => join(novaDir(paths, node), 'ceph', 'ceph.conf');

/** The usage name of the lab's libvirt secret: libvirt allows one secret per usage on the host. */
const rbdSecretUsage = (lab: Lab, client: string) => `stackgate ${lab.name} ${client}`;

/** Where libvirt (system mode) keeps defined secrets: `lab down` removes the lab's, libvirtd being stopped then. */
export const LIBVIRT_SECRETS_DIR = '/etc/libvirt/secrets';

/**
 * The libvirt secret QEMU opens RBD volumes with: the Cinder client's key under the UUID cinder.conf and nova.conf
 * name (rbd_secret_uuid). libvirt keeps it (ephemeral='no'); defining it again with the same UUID updates it.
 */
export async function rbdSecret(lab: Lab, paths: LabPaths, compute: readonly LabNode[], uuid: string, conf: string, keyring: string): Promise<string> {
  const client = rbdClient(lab);
  if (!client) return 'no RBD client';
  const key = readFileSync(keyring, 'utf8').match(/^\s*key\s*=\s*(\S+)/m)?.[1];
  if (!key) throw new Error(`no key in ${keyring}`);
  const nova = novaRbd(lab);
  if (nova) {
    // rbd import/stat run as nova: a ceph.conf whose keyring nova may read, like Kolla's /etc/ceph in nova_compute.
    const { uid, gid } = { uid: 0, gid: Number((await run('id', ['-g', 'nova'])).trim()) };
    for (const node of compute) {
      const dir = dirname(novaCephConf(paths, node));
      mkdirSync(dir, { recursive: true, mode: 0o750 });
      chownSync(dir, uid, gid);
      const own = join(dir, `ceph.${client.client}.keyring`);
      writeFileSync(own, readFileSync(keyring), { mode: 0o640 });
      chownSync(own, uid, gid);
      writeFileSync(novaCephConf(paths, node), readFileSync(conf, 'utf8').replace(/^keyring = .*\$cluster\.\$name\.keyring$/m, `keyring = ${dir}/$cluster.$name.keyring`), { mode: 0o644 });
    }
  }
  const dir = mkdtempSync(join(paths.root, 'libvirt-secret-'));
  try {
    const usage = rbdSecretUsage(lab, client.client);
    writeFileSync(join(dir, 'secret.xml'), `<secret ephemeral='no' private='no'><uuid>${uuid}</uuid><usage type='ceph'><name>${usage}</name></usage></secret>\n`);
    writeFileSync(join(dir, 'key'), key, { mode: 0o600 });
    const virsh = (args: string[]) => run('virsh', ['-c', 'qemu:///system', ...args]);
    // libvirt keeps secrets host-wide: one with this usage under another UUID (a lab of another checkout, or state
    // that was purged) would refuse ours.
    for (const line of (await virsh(['secret-list'])).split('\n')) {
      const [other, type, ...name] = line.trim().split(/\s+/);
      if (other && other !== uuid && type === 'ceph' && name.join(' ') === usage) await virsh(['secret-undefine', other]);
    }
    await virsh(['secret-define', join(dir, 'secret.xml')]);
    await virsh(['secret-set-value', '--secret', uuid, '--file', join(dir, 'key')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return `${client.client} key as libvirt secret ${uuid}${nova ? `; Nova's disks in pool ${nova.pool}` : ''}`;
}

/** nova.conf of a compute node: the driver and what it needs (libvirt, os-vif's OVS, VIF plugging events). */
export function novaComputeSections(c: Ctx, node: LabNode): Record<string, Record<string, string | number | boolean | undefined>> {
  if (!guestsRun(c.lab)) return { compute: { vif_plugging_is_fatal: false, vif_plugging_timeout: 0 } };
  const cpu = c.lab.spec.compute;
  return {
    // Neutron (OVN) reports the port up once ovn-controller has bound the guest's tap: wait for it, as Kolla does.
    compute: { vif_plugging_is_fatal: true, vif_plugging_timeout: 300 },
    libvirt: {
      virt_type: cpu?.virtType ?? 'kvm',
      // TCG: no host CPU to model; QEMU's default model (qemu64) boots the guest kernel.
      cpu_mode: cpu?.cpuMode ?? (cpu?.virtType === 'qemu' ? 'none' : undefined),
      cpu_models: cpu?.cpuModel,
      connection_uri: 'qemu:///system',
      // RBD volumes (and disks) through librbd, authenticated with the Cinder client's key in a libvirt secret.
      ...(rbdClient(c.lab) ? { rbd_user: rbdClient(c.lab)!.user, rbd_secret_uuid: c.s.rbdSecretUuid } : {}),
      // Instance disks in Ceph (Kolla's nova_backend_ceph): Nova reads its own copy of ceph.conf and the key.
      ...(novaRbd(c.lab) ? { images_type: 'rbd', images_rbd_pool: novaRbd(c.lab)!.pool, images_rbd_ceph_conf: novaCephConf(c.paths, node) } : {}),
    },
    // os-vif (in nova-compute, as nova) talks to the node's own ovsdb-server over the node's loopback, as in Kolla.
    os_vif_ovs: { ovsdb_connection: `tcp:127.0.0.1:${OVSDB_LOCAL_PORT}` },
  };
}

/** Where a compute node's ovsdb-server listens for os-vif: its own 127.0.0.1 (the node's namespace has its own loopback). */
export const OVSDB_LOCAL_PORT = 6640;

/** Extra ovsdb-server remotes of a chassis: on a compute node running guests, TCP on the node's loopback (the UNIX socket is root's). */
export function ovsdbGuestRemotes(c: Ctx, node: LabNode): string[] {
  return guestsRun(c.lab) && c.l.compute.some((n) => n.name === node.name) ? [`--remote=ptcp:${OVSDB_LOCAL_PORT}:127.0.0.1`] : [];
}

/** The DEFAULT compute_driver for a compute node's nova.conf. */
export const computeDriver = (lab: Lab) => (guestsRun(lab) ? 'libvirt.LibvirtDriver' : 'fake.FakeDriver');

/** nova.conf [neutron]: Nova's metadata API answers proxied requests signed with the shared secret. */
export function metadataProxy(c: Ctx): Record<string, string | boolean> {
  return guestsRun(c.lab) ? { service_metadata_proxy: true, metadata_proxy_shared_secret: c.s.metadataSecret } : { service_metadata_proxy: false };
}

const head = (lab: Lab, node: LabNode, what: string) => `# Rendered by stackgate (local provider) for ${lab.name}/${node.name}: ${what}; do not edit.`;

/** libvirtd + virtlogd on each compute node, nova's metadata API, the OVN metadata agent on each compute chassis. */
export function renderGuests(c: Ctx): Daemon[] {
  if (!guestsRun(c.lab)) return [];
  const { lab, paths, l } = c;
  // libvirtd keeps its sockets, domains and virtlogd under /var/run/libvirt and /var/lib/libvirt: one per host.
  if (l.compute.length > 1) throw new Error(`lab ${lab.name}: the local provider runs libvirt on one compute node per host; the spec has ${l.compute.map((n) => n.name).join(', ')} (set compute.virtType: fake for more)`);
  const out: Daemon[] = [];
  for (const node of l.compute) {
    const dir = libvirtDir(paths, node);
    const conf = `${dir}/libvirtd.conf`;
    out.push(
      daemon(node, 'virtlogd', { argv: ['/usr/sbin/virtlogd'], dirs: [{ path: '/var/run/libvirt' }] }),
      daemon(node, 'libvirtd', {
        // libvirt plugs the guest's tap into br-int with ovs-vsctl, which finds the node's ovsdb-server by OVS_RUNDIR.
        argv: ['/usr/bin/env', `OVS_RUNDIR=${ovsRun(paths, node)}`, '/usr/sbin/libvirtd', '--config', conf],
        files: [
          {
            path: conf,
            content: [
              head(lab, node, 'libvirtd.conf'),
              // nova-compute (group libvirt) connects over the UNIX socket; no polkit here.
              'unix_sock_group = "libvirt"',
              'unix_sock_ro_perms = "0777"',
              'unix_sock_rw_perms = "0770"',
              'auth_unix_ro = "none"',
              'auth_unix_rw = "none"',
              'log_outputs = "3:stderr"',
              '',
            ].join('\n'),
          },
        ],
        dirs: [{ path: dir }, { path: '/var/run/libvirt' }],
      }),
    );
  }
  const control = l.control;
  const ndir = novaDir(paths, control);
  const api = uwsgi(c, control, 'nova-metadata-api', 'nova', '/usr/bin/nova-metadata-wsgi', NOVA_METADATA_PORT, { OS_NOVA_CONFIG_DIR: ndir, OS_NOVA_CONFIG_FILES: '/etc/nova/api-paste.ini;nova.conf' }, ndir);
  const nconf = { path: `${ndir}/nova.conf`, content: novaConf(c, control, 'control'), owner: 'nova', mode: 0o640 };
  out.push({ ...api, files: [...api.files, nconf], dirs: [...api.dirs, { path: `${ndir}/lock`, owner: 'nova' }] });
  for (const node of l.compute) {
    const dir = `${neutronDir(paths, node)}-metadata`;
    const r = ovsRun(paths, node);
    const conf = ini(
      {
        DEFAULT: {
          use_stderr: true,
          host: node.hostname,
          state_path: dir,
          nova_metadata_host: control.apiAddress,
          nova_metadata_port: NOVA_METADATA_PORT,
          nova_metadata_protocol: 'http',
          metadata_proxy_shared_secret: c.s.metadataSecret,
          metadata_workers: 1,
        },
        agent: { root_helper: 'sudo' },
        ovs: { ovsdb_connection: `unix:${r}/db.sock` },
        ovn: { ovn_sb_connection: ovnSbRemote(lab, l), ovsdb_connection_timeout: 180 },
        oslo_concurrency: { lock_path: `${dir}/lock` },
      },
      head(lab, node, 'neutron_ovn_metadata_agent.ini'),
    );
    out.push({
      ...daemon(node, 'neutron-ovn-metadata-agent', {
        // Root (as the agent's privsep and rootwrap would be): it creates the ovnmeta-<network> namespaces, their veths
        // on br-int and the haproxy in each.
        argv: ['/usr/bin/env', `OVS_RUNDIR=${r}`, '/usr/bin/neutron-ovn-metadata-agent', '--config-file', `${dir}/neutron_ovn_metadata_agent.ini`],
        files: [{ path: `${dir}/neutron_ovn_metadata_agent.ini`, content: conf, mode: 0o600 }],
        dirs: [{ path: dir }, { path: `${dir}/lock` }, { path: `${dir}/external/pids` }],
      }),
      // The agent's namespaces must be visible to the commands it runs later (not only in a private mount namespace).
      mounts: 'host',
    });
    out.push({ ...daemon(node, 'ovnmeta-tx-csum', { argv: ['/bin/sh', '-c', OVNMETA_TX_CSUM] }), mounts: 'host' });
  }
  // The tunnel NIC is an OVS bridge's internal port (tunnelNicOnBridge): it shows the carrier of the cable under it,
  // as a Linux bridge would, so a tunnel link that loses its carrier still shows on the NIC the design names.
  const tunnel = lab.networkFor('tunnel');
  for (const node of l.chassis) {
    const nic = tunnel && node.nics.find((n) => n.network === tunnel.name && n.address);
    if (!nic) continue;
    const phy = underlayName(nic.name);
    // The names are the script's arguments ($1 the tunnel NIC, $2 its peer), never part of its text.
    const loop = [
      'while :; do',
      'if [ -e "/sys/class/net/$2" ] && have=$(cat "/sys/class/net/$1/carrier" 2>/dev/null); then',
      'if [ "$(cat "/sys/class/net/$2/carrier" 2>/dev/null)" = 1 ]; then want=1; else want=0; fi;',
      'if [ "$want" != "$have" ]; then if [ "$want" = 1 ]; then c=on; else c=off; fi; ip link set "$1" carrier $c && echo "$1 carrier $c (as $2)"; fi;',
      'fi;',
      'sleep 1;',
      'done',
    ].join(' ');
    out.push(daemon(node, 'tunnel-carrier', { argv: ['/bin/sh', '-c', loop, 'tunnel-carrier', nic.name, phy] }));
  }
  return out;
}

/**
 * OVS's userspace datapath (all this kernel allows) reads frames from veths and taps with AF_PACKET and forwards a
 * checksum that the sender left to the NIC (CHECKSUM_PARTIAL) as it is: wrong on the wire, so the guest drops the
 * metadata proxy's TCP answers. Every sender into br-int/br-ex must compute its checksums: the guest image does
 * (virtio_net csum=0), the metadata agent's veths get TX checksum offload off as they appear (this loop), the host's
 * veth onto the external network too (externalTxChecksumOff).
 */
const OVNMETA_TX_CSUM = [
  'while :; do',
  'for ns in $(ip netns list | sed -n "s/^\\(ovnmeta-[^ ]*\\).*/\\1/p"); do',
  'for dev in $(ip -n "$ns" -o link show type veth | sed -n "s/^[0-9]*: \\([^@:]*\\).*/\\1/p"); do',
  'if ip netns exec "$ns" ethtool -k "$dev" 2>/dev/null | grep -q "^tx-checksumming: on"; then',
  'ip netns exec "$ns" ethtool -K "$dev" tx off >/dev/null 2>&1 && echo "TX checksum offload off: $ns $dev";',
  'fi;',
  'done;',
  'done;',
  'sleep 2;',
  'done',
].join(' ');

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
    if (!now?.addr_info.some((a) => a.family === 'inet' && `${a.local}/${a.prefixlen}` === want)) await ipn(['addr', 'add', want, 'dev', nic.name]);
    await ipn(['link', 'set', nic.name, 'mtu', String(nic.mtu), 'up']);
    if (!links.some((l) => l.ifname === phy) && !notes.some((n) => n.startsWith(`${node.name}:`))) notes.push(`${node.name}: ${nic.name} bridge present`);
  }
  return notes.join('; ') || 'tunnel NICs on OVS bridges';
}

/**
 * The metadata agent's namespaces (ovnmeta-<network>) that hang off the lab's nodes: a veth of a node leads into
 * them. They are created on the host's namespace list, so `lab down` removes them before the nodes go (afterwards
 * nothing would tie them to this lab).
 */
export async function metadataNamespaces(lab: Lab): Promise<string[]> {
  const found = new Set<string>();
  for (const node of lab.nodes) {
    const ns = netnsName(lab, node);
    const ids = await run('ip', ['-n', ns, '-j', 'netns', 'list-id']).catch(() => '[]');
    for (const id of JSON.parse(ids || '[]') as { nsid: number; name?: string }[]) if (id.name?.startsWith('ovnmeta-')) found.add(id.name);
  }
  return [...found];
}

