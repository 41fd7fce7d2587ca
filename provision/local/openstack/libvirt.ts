/** libvirtd and virtlogd beside nova-compute on the compute node, and the libvirt secret RBD volumes open with. */
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { cephConf, clientKeyring } from '../ceph/common.ts';
import { daemon, type Component, type Daemon, type LabContext } from '../component.ts';
import { head } from '../config.ts';
import type { LabPaths } from '../paths.ts';
import { run } from '../sh.ts';
import { guestsRun, layout, novaRbd, openstackSecrets, rbdClient, secretsFile } from './common.ts';
import { novaCephConf } from './nova.ts';
import { ovsRun } from './ovn.ts';

export const libvirtDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'libvirt');

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

function renderLibvirt({ lab, paths }: LabContext): Daemon[] {
  const compute = layout(lab).compute;
  // libvirtd keeps its sockets, domains and virtlogd under /var/run/libvirt and /var/lib/libvirt: one per host.
  if (compute.length > 1) {
    const names = compute.map((n) => n.name).join(', ');
    throw new Error(`lab ${lab.name}: the local provider runs libvirt on one compute node per host; the spec has ${names} (set compute.virtType: fake for more)`);
  }
  const out: Daemon[] = [];
  for (const node of compute) {
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
  return out;
}

async function removeSecret({ paths }: LabContext): Promise<string> {
  const uuid = existsSync(secretsFile(paths)) ? openstackSecrets(paths).rbdSecretUuid : undefined;
  const files = uuid ? [`${uuid}.xml`, `${uuid}.base64`].map((f) => join(LIBVIRT_SECRETS_DIR, f)).filter((f) => existsSync(f)) : [];
  for (const f of files) rmSync(f, { force: true });
  return files.length ? `removed libvirt secret ${uuid}` : 'no libvirt secret';
}

export const libvirt: Component = {
  name: 'libvirt',
  after: ['ceph-pools', 'openvswitch'],
  needed: (lab) => guestsRun(lab) && layout(lab).compute.length > 0,
  packages: () => ['libvirt-daemon-system', 'nova-compute-qemu', 'qemu-utils', 'qemu-block-extra', 'sudo'],
  render: renderLibvirt,
  configure: async (c) => {
    const client = rbdClient(c.lab);
    if (!client) return;
    const { lab, paths } = c;
    await c.step(`libvirt secret for RBD volumes and disks (${client.client})`, () =>
      rbdSecret(lab, paths, layout(lab).compute, openstackSecrets(paths).rbdSecretUuid, cephConf(paths), clientKeyring(paths, client.client)));
  },
  stop: removeSecret,
};

