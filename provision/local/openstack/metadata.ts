/** The metadata path of guests: Nova's metadata API on the control node, the OVN metadata agent on each compute chassis. */
import { daemon, type Component, type Daemon, type LabContext } from '../component.ts';
import { head, ini } from '../config.ts';
import { netnsName } from '../paths.ts';
import { run } from '../sh.ts';
import { endProcesses } from '../exec.ts';
import type { Lab } from '../../../helpers/lab/model.ts';
import { guestsRun, hasService, layout, openstackContext, uwsgi } from './common.ts';
import { neutronDir } from './neutron.ts';
import { novaControlConf, novaDir } from './nova.ts';
import { ovnSbRemote, ovsRun } from './ovn.ts';

export const NOVA_METADATA_PORT = 8775;

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

function renderMetadata(ctx: LabContext): Daemon[] {
  const c = openstackContext(ctx);
  const { lab, paths } = c;
  const l = c.layout;
  const out: Daemon[] = [];
  const control = l.control;
  const ndir = novaDir(paths, control);
  const api = uwsgi(c, control, {
    service: 'nova-metadata-api', user: 'nova', wsgiFile: '/usr/bin/nova-metadata-wsgi', port: NOVA_METADATA_PORT, dir: ndir,
    env: { OS_NOVA_CONFIG_DIR: ndir, OS_NOVA_CONFIG_FILES: '/etc/nova/api-paste.ini;nova.conf' },
  });
  const nconf = novaControlConf(c);
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
      // The agent's namespaces must be visible to the commands it runs later (not only in a private mount namespace).
      mounts: 'host',
    });
    out.push({ ...daemon(node, 'ovnmeta-tx-csum', { argv: ['/bin/sh', '-c', OVNMETA_TX_CSUM] }), mounts: 'host' });
  }
  return out;
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

/** The agent's namespaces hang off the lab's nodes: end what runs in them (haproxy) and remove them before the nodes go. */
async function removeNamespaces({ lab }: LabContext): Promise<string> {
  const names = await metadataNamespaces(lab);
  for (const name of names) {
    await endProcesses(name, true);
    await run('ip', ['netns', 'delete', name]);
  }
  return names.length ? `removed ${names.join(', ')}` : 'no metadata namespaces';
}

export const metadata: Component = {
  name: 'metadata',
  after: ['nova', 'neutron', 'ovn-controller'],
  needed: (lab) => guestsRun(lab) && hasService(lab, 'neutron') && layout(lab).compute.length > 0,
  packages: () => ['neutron-ovn-metadata-agent', 'sudo', 'ethtool'],
  render: renderMetadata,
  stop: removeNamespaces,
};

