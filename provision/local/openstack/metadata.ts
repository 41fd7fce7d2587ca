/**
 * The metadata path of guests: Nova's metadata API on the control node (on each, behind HAProxy, where several share
 * it: metadataViaVip), the OVN metadata agent on each compute chassis.
 */
import { daemon, type Component, type Daemon, type LabContext, type UpContext } from '../component.ts';
import { head, ini } from '../config.ts';
import { ensureNodeNetns, removeNodeNetns } from '../node-netns.ts';
import { netnsName } from '../paths.ts';
import { run } from '../sh.ts';
import { endProcesses } from '../exec.ts';
import type { Lab } from '../../../helpers/lab/model.ts';
import {
  caForServices, guestsRun, hasService, layout, metadataViaVip, NOVA_METADATA_PORT, openstackContext, uwsgi,
} from './common.ts';
import { neutronDir } from './neutron.ts';
import { novaControlConf, novaDir } from './nova.ts';
import { ovnSbRemote, ovsRun } from './ovn.ts';

/**
 * OVS's userspace datapath (all this kernel allows) reads frames from veths and taps with AF_PACKET and forwards a
 * checksum that the sender left to the NIC (CHECKSUM_PARTIAL) as it is: wrong on the wire, so the guest drops the
 * metadata proxy's TCP answers. Every sender into br-int/br-ex must compute its checksums: the guest image does
 * (virtio_net csum=0), the metadata agent's veths get TX checksum offload off as they appear (this loop), the host's
 * veth onto the external network too (externalTxChecksumOff). `ip netns list` lists the node's own /run/netns (the loop
 * runs with `mounts: 'node-netns'`, as the agent): the namespaces of this node's agent, never another node's.
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

function renderMetadata(ctx: LabContext): Daemon[] {
  const c = openstackContext(ctx);
  const { lab, paths } = c;
  const l = c.layout;
  const out: Daemon[] = [];
  const viaVip = metadataViaVip(lab);
  for (const control of viaVip ? l.controls : [l.control]) {
    const ndir = novaDir(paths, control);
    const api = uwsgi(c, control, {
      service: 'nova-metadata-api', user: 'nova', wsgiFile: '/usr/bin/nova-metadata-wsgi', port: NOVA_METADATA_PORT,
      dir: ndir, env: { OS_NOVA_CONFIG_DIR: ndir, OS_NOVA_CONFIG_FILES: '/etc/nova/api-paste.ini;nova.conf' },
    });
    const nconf = novaControlConf(c, control);
    out.push({ ...api, files: [...api.files, nconf], dirs: [...api.dirs, { path: `${ndir}/lock`, owner: 'nova' }] });
  }
  // The VIP's address, not its name: the agent keeps the host's resolver (mounts: 'node-netns'), which knows no lab
  // name (seen: "Temporary failure in name resolution" on every request, while guests booted from their config drive).
  // The VIP's certificate names the address too.
  const nova = viaVip
    ? {
      nova_metadata_host: viaVip.vip.address, nova_metadata_port: NOVA_METADATA_PORT,
      nova_metadata_protocol: viaVip.tls ? 'https' : 'http', auth_ca_cert: caForServices(paths),
    }
    : {
      nova_metadata_host: l.control.apiAddress, nova_metadata_port: NOVA_METADATA_PORT, nova_metadata_protocol: 'http',
    };
  for (const node of l.compute) {
    const dir = `${neutronDir(paths, node)}-metadata`;
    const r = ovsRun(paths, node);
    const conf = ini(
      {
        DEFAULT: {
          use_stderr: true,
          host: node.hostname,
          state_path: dir,
          ...nova,
          metadata_proxy_shared_secret: c.secrets.metadataSecret,
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
      // The agent's namespaces must be visible to the commands it runs later (not only in a private mount namespace),
      // in a /run/netns of the node's own: two nodes' agents both make ovnmeta-<network> for a network both host a
      // guest on, and in one shared /run/netns the second one's veth collided in the first one's namespace.
      mounts: 'node-netns',
    });
    out.push({ ...daemon(node, 'ovnmeta-tx-csum', { argv: ['/bin/sh', '-c', OVNMETA_TX_CSUM] }), mounts: 'node-netns' });
  }
  return out;
}

/**
 * Metadata namespaces on the host's own list that hang off the lab's nodes (a veth of a node leads into them): what
 * an agent made before each node had its own /run/netns. Afterwards nothing would tie them to this lab.
 */
async function hostNamespaces(lab: Lab): Promise<string[]> {
  const found = new Set<string>();
  for (const node of lab.nodes) {
    const ns = netnsName(lab, node);
    const ids = await run('ip', ['-n', ns, '-j', 'netns', 'list-id']).catch(() => '[]');
    for (const id of JSON.parse(ids || '[]') as { nsid: number; name?: string }[]) if (id.name?.startsWith('ovnmeta-')) found.add(id.name);
  }
  return [...found];
}

async function removeHostNamespaces(lab: Lab): Promise<string[]> {
  const names = await hostNamespaces(lab);
  for (const name of names) {
    await endProcesses(name, true);
    await run('ip', ['netns', 'delete', name]);
  }
  return names;
}

/** Each compute node's /run/netns, made before its agent starts; the host's leftovers of an older lab removed first. */
async function makeNodeNetns({ lab, paths, step }: UpContext): Promise<void> {
  await step('the host\'s metadata namespaces of an older layout', async () => {
    const gone = await removeHostNamespaces(lab);
    return gone.length ? `removed ${gone.join(', ')}` : 'none';
  });
  await step('a /run/netns of its own for each compute node', async () => {
    for (const node of layout(lab).compute) await ensureNodeNetns(paths, node.name);
    return layout(lab).compute.map((n) => paths.netns(n.name)).join(', ');
  });
}

/**
 * The agent's namespaces (ovnmeta-<network>, each compute node's in its own /run/netns) hang off the lab's nodes: end
 * what runs in them (haproxy) and remove them, then each node's /run/netns, before the nodes go.
 */
async function removeNamespaces({ lab, paths }: LabContext): Promise<string> {
  const removed: string[] = [];
  for (const node of lab.nodes) for (const name of await removeNodeNetns(paths, node.name)) removed.push(`${node.name}/${name}`);
  removed.push(...(await removeHostNamespaces(lab)));
  return removed.length ? `removed ${removed.join(', ')}` : 'no metadata namespaces';
}

export const metadata: Component = {
  name: 'metadata',
  after: ['nova', 'neutron', 'ovn-controller'],
  needed: (lab) => guestsRun(lab) && hasService(lab, 'neutron') && layout(lab).compute.length > 0,
  packages: () => ['neutron-ovn-metadata-agent', 'sudo', 'ethtool'],
  render: renderMetadata,
  bootstrap: makeNodeNetns,
  stop: removeNamespaces,
};

