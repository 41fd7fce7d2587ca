/**
 * Every command `lab up` runs for a lima lab, in order, grouped by phase: pure data from the spec, so `lab plan`
 * prints it and the runner executes it. All commands run in the repository root; kolla-ansible and its
 * ansible-playbook come from the lab's venv, which the runner puts first on PATH.
 */
import { dirname, join } from 'node:path';
import type { Lab } from '../../helpers/lab/model.ts';
import { renderZones } from '../local/infra/bind.ts';
import { dnsNodes } from '../local/infra/roles.ts';
import { kollaImageFacts } from '../../helpers/lab/kolla.ts';
import { bootstrapNode, cephClientCommands, cephHosts, cephPoolCommands, cephSettingCommands, keyringName, kollaCephFiles as cephFileMap } from '../render/ceph.ts';
import { sshPort, volumeGroup } from '../../helpers/lab/defaults.ts';
import { quote } from '../../helpers/node/quote.ts';
import { repoPath, sshUser } from '../render/common.ts';
import { kollaImageBuild, renderKollaConfig } from '../render/kolla.ts';
import { diskDevices, limaNetworks } from '../render/lima.ts';
import { kollaCephFiles, kollaGroups, mergeNetworks, type RunContext } from './internal.ts';
import { limaPaths } from './paths.ts';

export type Phase = 1 | 2;
export type { RunContext };

export interface Step {
  /** Stable ID, `<group>:<what>`; `--from` takes an ID or a group. */
  readonly id: string;
  readonly phase: Phase;
  readonly group: string;
  readonly title: string;
  readonly argv?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** stdout goes to this file (mode 0600: keyrings, ceph.conf), relative to the repository root. */
  readonly stdoutTo?: string;
  /** Needs the terminal (sudo asks for a password). */
  readonly interactive?: boolean;
  readonly retry?: { readonly attempts: number; readonly delaySeconds: number };
  /** Runs every time (never recorded as done): the preflight gate. */
  readonly always?: boolean;
  /** A file operation stackgate does itself, described for the plan. */
  readonly internal?: { readonly describe: string; readonly run: (ctx: RunContext) => Promise<string | void> };
  /**
   * Files and folders in the repository the step reads: each must exist when it starts (the render or an earlier
   * step made it), and their contents are part of the step's fingerprint, so a changed input runs it again.
   */
  readonly reads?: readonly string[];
  /** Files and folders in the repository the step makes (stdoutTo aside); a later step's reads come from here. */
  readonly writes?: readonly string[];
  /** The command makes the folders of what it writes (pip installing into the venv). */
  readonly makesFolders?: boolean;
}

export interface PlanOptions {
  /** Leave out the preflight gate (an explicit override by the user). */
  readonly skipPreflight?: boolean;
}

/** The group names of each phase, in order (the issue's sequence; DNS comes before Kolla, which needs its FQDNs). */
export const GROUPS: Record<Phase, readonly string[]> = {
  1: [
    'preflight', 'networks', 'disks', 'ssh-key', 'vms', 'ssh', 'dns', 'lvm', 'kolla-venv', 'kolla-config', 'certificates', 'bootstrap-servers',
    'host-iscsi', 'images', 'prechecks', 'deploy', 'post-deploy',
  ],
  2: ['preflight', 'cephadm', 'ceph-hosts', 'osds', 'pools-keys', 'kolla-ceph', 'reconfigure'],
};

/**
 * Typical minutes of each group on the design's host (Apple M2 Max, 3 VMs under QEMU/HVF, a home connection): the
 * plan's estimate. Estimates from upstream job timings and the amount of work, not measured by stackgate on a Mac.
 */
export const GROUP_MINUTES: Record<string, number> = {
  preflight: 0.2, networks: 1, disks: 0.1, 'ssh-key': 0.1, vms: 10, ssh: 0.5, dns: 2, lvm: 0.1, 'kolla-venv': 4, 'kolla-config': 0.3,
  certificates: 0.5, 'bootstrap-servers': 6, 'host-iscsi': 0.1, images: 90, prechecks: 3, deploy: 40, 'post-deploy': 1,
  cephadm: 4, 'ceph-hosts': 2, osds: 5, 'pools-keys': 1, 'kolla-ceph': 0.1, reconfigure: 25,
};

/** Lima's sudoers file for socket_vmnet (paths.sudoers of Lima's default networks.yaml). */
export const LIMA_SUDOERS = '/private/etc/sudoers.d/lima';

/** Units of the host's own iSCSI initiator on Ubuntu (package open-iscsi). */
const HOST_ISCSI_UNITS = 'iscsid.socket iscsid.service open-iscsi.service';
/** Where kolla-build lives on the registry node. */
const KOLLA_BUILD_VENV = '/opt/stackgate/kolla-build';

const shell = (node: string, ...argv: string[]) => ['limactl', 'shell', '--workdir=/', node, 'sudo', ...argv];
const cephadm = (node: string, ...argv: string[]) => shell(node, 'cephadm', 'shell', '--', ...argv);

export function buildPlan(lab: Lab, options: PlanOptions = {}): Step[] {
  const p = limaPaths(lab);
  const R = p.render;
  const steps: Step[] = [];
  const add = (phase: Phase, group: string, what: string, title: string, rest: Omit<Step, 'id' | 'phase' | 'group' | 'title'>) =>
    steps.push({ id: what ? `${group}:${what}` : group, phase, group, title, ...rest });
  // Ansible forks workers; macOS's Objective-C runtime aborts a forked child that initialises a class unless told not to.
  const kollaEnv = { ANSIBLE_CONFIG: join(R, 'kolla/ansible.cfg'), OBJC_DISABLE_INITIALIZE_FORK_SAFETY: 'YES' };
  const upstream = join(p.venv, 'share/kolla-ansible');
  const template = join(upstream, 'etc_examples/kolla/passwords.yml');
  const overrides = renderKollaConfig(lab).length > 0;
  // What every kolla-ansible command reads (globals.d and the Ceph files join in phase 2).
  const kollaInputs = [
    join(R, 'kolla/ansible.cfg'), join(R, 'kolla/inventory/multinode'), join(R, 'kolla/inventory/host_vars'), join(p.kolla, 'inventory/kolla-groups'),
    join(p.kolla, 'globals.yml'), p.passwords, ...(overrides ? [join(R, 'kolla/config')] : []),
  ];
  const inventory = ['-i', join(R, 'kolla/inventory/multinode'), '-i', join(p.kolla, 'inventory/kolla-groups')];
  const ka = (sub: string, ...extra: string[]) => [join(p.venv, 'bin/kolla-ansible'), sub, ...inventory, '--configdir', p.kolla, ...extra];
  const preflight = (phase: Phase) => {
    if (options.skipPreflight) return;
    add(phase, 'preflight', `phase${phase}`, `the preflight layer passes for ${lab.name}`, {
      argv: ['npx', 'vitest', 'run', '--project', 'preflight'],
      env: { STACKGATE_LAB: repoPath(lab.file) },
      always: true,
    });
  };

  // ---------------------------------------------------------------- phase 1
  preflight(1);
  add(1, 'networks', 'config', 'Lima has its networks.yaml', { argv: ['limactl', 'network', 'list'] });
  add(1, 'networks', 'merge', 'the lab networks are in networks.yaml', {
    internal: {
      describe: `merge ${join(R, 'lima/networks.yaml')} (${limaNetworks(lab).map((n) => n.name).join(', ')}) into $LIMA_HOME/_config/networks.yaml`,
      run: mergeNetworks(join(R, 'lima/networks.yaml')),
    },
    reads: [join(R, 'lima/networks.yaml')],
  });
  add(1, 'networks', 'sudoers-render', 'sudoers for socket_vmnet', { argv: ['limactl', 'sudoers'], stdoutTo: join(p.lima, 'sudoers') });
  add(1, 'networks', 'sudoers-install', 'sudoers installed (asks for your password)', {
    argv: ['sudo', 'install', '-o', 'root', '-m', '0440', join(p.lima, 'sudoers'), LIMA_SUDOERS],
    interactive: true,
    reads: [join(p.lima, 'sudoers')],
  });
  add(1, 'networks', 'sudoers-check', 'sudoers current', { argv: ['limactl', 'sudoers', '--check'] });
  for (const node of lab.nodes) {
    for (const d of diskDevices(node)) {
      add(1, 'disks', d.name, `raw disk ${d.name} (${d.sizeGiB} GiB, ${d.use}) for ${node.name}`, {
        argv: ['limactl', 'disk', 'create', d.name, '--size', `${d.sizeGiB}GiB`, '--format', 'raw'],
      });
    }
  }
  const sshDirs = [...new Set([dirname(p.sshKey), dirname(p.knownHosts)])];
  add(1, 'ssh-key', 'dir', 'folder of the lab key and known_hosts', { argv: ['install', '-d', '-m', '0700', ...sshDirs], writes: sshDirs });
  add(1, 'ssh-key', 'pair', 'the lab SSH key pair (kept when present)', {
    argv: ['sh', '-c', `test -f ${p.sshKey} || ssh-keygen -q -t ed25519 -N '' -C stackgate-${lab.name} -f ${p.sshKey}`],
    writes: [p.sshKey, `${p.sshKey}.pub`],
  });
  for (const node of lab.nodes) {
    const file = join(R, `lima/${node.name}.yaml`);
    add(1, 'vms', `create:${node.name}`, `Lima instance ${node.name}`, {
      argv: ['limactl', 'create', `--name=${node.name}`, '--tty=false', file],
      reads: [file],
    });
  }
  for (const node of lab.nodes) {
    add(1, 'vms', `start:${node.name}`, `${node.name} booted`, { argv: ['limactl', 'start', '--tty=false', '--timeout=15m', node.name] });
  }
  for (const node of lab.nodes) {
    add(1, 'vms', `key:${node.name}`, `lab key on ${node.name}`, {
      argv: ['limactl', 'copy', `${p.sshKey}.pub`, `${node.name}:/tmp/stackgate.pub`],
      reads: [`${p.sshKey}.pub`],
    });
    const home = sshUser(lab) === 'root' ? '/root' : `/home/${sshUser(lab)}`;
    add(1, 'vms', `authorize:${node.name}`, `lab key authorized for ${sshUser(lab)} on ${node.name}`, {
      argv: shell(
        node.name,
        'sh',
        '-c',
        `install -d -m 0700 ${home}/.ssh && touch ${home}/.ssh/authorized_keys && ` +
          `(grep -qxF "$(cat /tmp/stackgate.pub)" ${home}/.ssh/authorized_keys || cat /tmp/stackgate.pub >> ${home}/.ssh/authorized_keys) && ` +
          `chown -R ${sshUser(lab)} ${home}/.ssh && chmod 0600 ${home}/.ssh/authorized_keys`,
      ),
    });
  }
  for (const node of lab.nodes) {
    add(1, 'ssh', node.name, `SSH to ${node.name} at ${node.managementAddress}`, {
      argv: [
        'ssh', '-i', p.sshKey, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'StrictHostKeyChecking=accept-new',
        '-o', `UserKnownHostsFile=${p.knownHosts}`, ...(sshPort(lab) === 22 ? [] : ['-p', String(sshPort(lab))]), `${sshUser(lab)}@${node.managementAddress}`, 'true',
      ],
      retry: { attempts: 30, delaySeconds: 10 },
      reads: [p.sshKey],
      writes: [p.knownHosts],
    });
  }
  for (const node of dnsNodes(lab)) {
    const dir = join(R, `bind/${node.name}`);
    const zones = renderZones(lab, node).map((z) => join(dir, 'zones', z.file));
    add(1, 'dns', `install:${node.name}`, `BIND installed on ${node.name}`, {
      argv: shell(node.name, 'sh', '-c', 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bind9'),
    });
    add(1, 'dns', `mkdir:${node.name}`, 'upload folder', { argv: ['limactl', 'shell', '--workdir=/', node.name, 'mkdir', '-p', '/tmp/stackgate-bind'] });
    add(1, 'dns', `copy:${node.name}`, `BIND config and zones to ${node.name}`, {
      argv: ['limactl', 'copy', join(dir, 'named.conf.options'), join(dir, 'named.conf.local'), ...zones, `${node.name}:/tmp/stackgate-bind/`],
      reads: [join(dir, 'named.conf.options'), join(dir, 'named.conf.local'), ...zones],
    });
    add(1, 'dns', `apply:${node.name}`, `BIND serves ${lab.spec.dns?.domain ?? 'the lab zones'} on ${node.name}`, {
      argv: shell(
        node.name,
        'sh',
        '-c',
        'install -m 0644 /tmp/stackgate-bind/named.conf.options /tmp/stackgate-bind/named.conf.local /etc/bind/ && install -d /etc/bind/zones && ' +
          'install -m 0644 /tmp/stackgate-bind/db.* /etc/bind/zones/ && named-checkconf -z && systemctl restart named',
      ),
    });
  }
  for (const backend of lab.cinderBackends.filter((b) => b.driver === 'lvm' && b.phase <= 1)) {
    for (const host of backend.hosts ?? []) {
      const disk = diskDevices(lab.node(host)).find((d) => d.use === 'lvm');
      if (!disk) continue;
      const vg = volumeGroup(backend);
      add(1, 'lvm', host, `volume group ${vg} on ${host} ${disk.device}`, { argv: shell(host, 'sh', '-c', `vgs ${vg} >/dev/null 2>&1 || vgcreate ${vg} ${disk.device}`) });
    }
  }
  add(1, 'kolla-venv', 'create', 'Python venv for Kolla-Ansible', { argv: ['python3', '-m', 'venv', p.venv], writes: [p.venv] });
  add(1, 'kolla-venv', 'pip', 'pip current', { argv: [join(p.venv, 'bin/pip'), 'install', '--upgrade', 'pip'] });
  add(1, 'kolla-venv', 'install', `kolla-ansible stable/${lab.release}`, {
    argv: [join(p.venv, 'bin/pip'), 'install', `git+https://opendev.org/openstack/kolla-ansible@stable/${lab.release}`],
    writes: [join(upstream, 'ansible/inventory/multinode'), template],
    makesFolders: true,
  });
  add(1, 'kolla-venv', 'install-deps', 'Ansible Galaxy collections', { argv: [join(p.venv, 'bin/kolla-ansible'), 'install-deps'] });
  const configDirs = [join(p.kolla, 'config'), join(p.kolla, 'inventory')];
  add(1, 'kolla-config', 'dirs', 'Kolla config dir', { argv: ['mkdir', '-p', ...configDirs], writes: configDirs });
  add(1, 'kolla-config', 'globals', 'globals.yml (phase 1)', {
    argv: ['cp', join(R, 'kolla/globals.yml'), join(p.kolla, 'globals.yml')],
    reads: [join(R, 'kolla/globals.yml')],
    writes: [join(p.kolla, 'globals.yml')],
  });
  if (overrides) {
    add(1, 'kolla-config', 'overrides', 'config/ overrides', {
      argv: ['cp', '-R', `${join(R, 'kolla/config')}/.`, join(p.kolla, 'config')],
      reads: [join(R, 'kolla/config')],
    });
  }
  add(1, 'kolla-config', 'passwords', 'passwords.yml template (kept when present)', {
    argv: ['sh', '-c', `test -f ${p.passwords} || install -m 0600 ${template} ${p.passwords}`],
    reads: [template],
    writes: [p.passwords],
  });
  add(1, 'kolla-config', 'genpwd', 'passwords generated (kolla-genpwd fills only empty ones)', {
    argv: [join(p.venv, 'bin/kolla-genpwd'), '-p', p.passwords],
    reads: [p.passwords],
  });
  add(1, 'kolla-config', 'inventory', "Kolla's service groups", {
    internal: {
      describe: `write ${join(p.kolla, 'inventory/kolla-groups')}: the [*:children] sections of ${join(p.venv, 'share/kolla-ansible/ansible/inventory/multinode')} for groups the rendered inventory does not define`,
      run: kollaGroups(p, lab),
    },
    reads: [join(upstream, 'ansible/inventory/multinode')],
    writes: [join(p.kolla, 'inventory/kolla-groups')],
  });
  const kollaAnsible = (sub: string) => add(1, sub, '', `kolla-ansible ${sub}`, { argv: ka(sub), env: kollaEnv, reads: kollaInputs });
  kollaAnsible('certificates');
  kollaAnsible('bootstrap-servers');
  // Kolla runs iscsid in a container on its iscsid hosts (compute, storage); a host iscsid would hold the same socket.
  // bootstrap-servers removes open-iscsi on Ubuntu (ansible-collection-kolla packages role): this step confirms it.
  if (lab.cinderBackends.some((b) => b.driver === 'lvm')) {
    for (const node of lab.nodes.filter((n) => n.roles.includes('compute') || n.roles.includes('storage'))) {
      add(1, 'host-iscsi', node.name, `no host iSCSI daemon on ${node.name} (Kolla's iscsid container owns iSCSI)`, {
        argv: shell(
          node.name, 'sh', '-c', `systemctl disable --now ${HOST_ISCSI_UNITS} 2>/dev/null; ! systemctl is-active --quiet ${HOST_ISCSI_UNITS}`,
        ),
      });
    }
  }
  const build = kollaImageBuild(lab);
  if (build) {
    const n = build.node.name;
    const [address, port] = build.registry.split(':');
    add(1, 'images', 'registry', `image registry on ${n} at ${build.registry} (Kolla's multinode guide)`, {
      argv: shell(
        n, 'sh', '-c',
        `docker inspect registry >/dev/null 2>&1 || docker run -d --network host --name registry --restart=always ` +
          `-e REGISTRY_HTTP_ADDR=${address}:${port} -v registry:/var/lib/registry registry:2`,
      ),
    });
    add(1, 'images', 'kolla', `kolla stable/${lab.release} (kolla-build) in a venv on ${n}`, {
      argv: shell(
        n, 'sh', '-c',
        `DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv git && python3 -m venv ${KOLLA_BUILD_VENV} && ` +
          `${KOLLA_BUILD_VENV}/bin/pip install -q git+https://opendev.org/openstack/kolla@stable/${lab.release}`,
      ),
    });
    add(1, 'images', 'build', `Kolla images :${build.tag} built on ${n} and pushed to ${build.registry}`, {
      argv: shell(n, `${KOLLA_BUILD_VENV}/bin/kolla-build`, ...build.argv),
    });
    add(1, 'images', 'check', `the registry serves keystone:${build.tag}`, {
      argv: shell(
        n, 'sh', '-c', `curl -fsS http://${build.registry}/v2/${kollaImageFacts().namespace}/keystone/tags/list | grep -qF '"${build.tag}"'`,
      ),
    });
  }
  for (const sub of ['prechecks', 'deploy', 'post-deploy']) kollaAnsible(sub);

  // ---------------------------------------------------------------- phase 2
  if (lab.ceph) {
    preflight(2);
    const { node: mon, monIp } = bootstrapNode(lab);
    const m = mon.name;
    const files = ['bootstrap.conf', 'hosts.yaml', 'services.yaml', 'osd-spec.yaml'];
    add(2, 'cephadm', 'install', `cephadm on ${m}`, { argv: shell(m, 'sh', '-c', 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q cephadm') });
    add(2, 'cephadm', 'mkdir', 'upload folder', { argv: ['limactl', 'shell', '--workdir=/', m, 'mkdir', '-p', '/tmp/stackgate-ceph'] });
    add(2, 'cephadm', 'copy', `cephadm specs to ${m}`, {
      argv: ['limactl', 'copy', ...files.map((f) => join(R, 'ceph', f)), `${m}:/tmp/stackgate-ceph/`],
      reads: files.map((f) => join(R, 'ceph', f)),
    });
    const replication = lab.networkFor('storage-replication');
    add(2, 'cephadm', 'bootstrap', `Ceph bootstrapped on ${m} (MON ${monIp})`, {
      argv: shell(
        m, 'cephadm', 'bootstrap', '--mon-ip', monIp, ...(replication ? ['--cluster-network', replication.cidr.text] : []),
        '--config', '/tmp/stackgate-ceph/bootstrap.conf', '--skip-monitoring-stack', '--skip-dashboard', '--ssh-user', 'root',
      ),
    });
    add(2, 'ceph-hosts', 'pubkey', "the cluster's SSH key", { argv: ['limactl', 'shell', '--workdir=/', m, 'cat', '/etc/ceph/ceph.pub'], stdoutTo: join(p.ceph, 'ceph.pub') });
    for (const h of cephHosts(lab).filter((h) => h.name !== m)) {
      add(2, 'ceph-hosts', `key:${h.name}`, `cluster key to ${h.name}`, {
        argv: ['limactl', 'copy', join(p.ceph, 'ceph.pub'), `${h.name}:/tmp/ceph.pub`],
        reads: [join(p.ceph, 'ceph.pub')],
      });
      add(2, 'ceph-hosts', `authorize:${h.name}`, `cluster key authorized for root on ${h.name}`, {
        argv: shell(h.name, 'sh', '-c', 'install -d -m 0700 /root/.ssh && touch /root/.ssh/authorized_keys && (grep -qxF "$(cat /tmp/ceph.pub)" /root/.ssh/authorized_keys || cat /tmp/ceph.pub >> /root/.ssh/authorized_keys)'),
      });
    }
    const apply = (file: string) => shell(m, 'cephadm', 'shell', '--mount', `/tmp/stackgate-ceph/${file}:/mnt/${file}`, '--', 'ceph', 'orch', 'apply', '-i', `/mnt/${file}`);
    add(2, 'ceph-hosts', 'apply', `hosts ${cephHosts(lab).map((h) => h.hostname).join(', ')} in the cluster`, { argv: apply('hosts.yaml') });
    add(2, 'ceph-hosts', 'services', 'MON and MGR placement', { argv: apply('services.yaml') });
    for (const [i, argv] of cephSettingCommands(lab).entries()) add(2, 'osds', `config-${i + 1}`, argv.slice(1).join(' '), { argv: cephadm(m, ...argv) });
    add(2, 'osds', 'apply', 'OSD service spec', { argv: apply('osd-spec.yaml') });
    const osds = lab.ceph.osds.length;
    add(2, 'osds', 'up', `${osds} OSDs up`, {
      argv: shell(m, 'sh', '-c', `cephadm shell -- ceph osd stat -f json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["num_up_osds"] >= ${osds} else 1)'`),
      retry: { attempts: 60, delaySeconds: 10 },
    });
    for (const argv of cephPoolCommands(lab)) {
      const pool = argv[0] === 'rbd' ? argv[3] : argv[4];
      const what = argv[0] === 'rbd' ? 'init' : argv[3] === 'create' ? 'pool' : argv[3] === 'set' ? 'size' : 'application';
      add(2, 'pools-keys', `${what}:${pool ?? '?'}`, argv.join(' '), { argv: cephadm(m, ...argv) });
    }
    for (const c of cephClientCommands(lab)) {
      add(2, 'pools-keys', c.client, `keyring of ${c.client}`, { argv: cephadm(m, ...c.argv), stdoutTo: join(p.ceph, keyringName(c.client)) });
    }
    add(2, 'pools-keys', 'ceph.conf', 'minimal ceph.conf', { argv: cephadm(m, 'ceph', 'config', 'generate-minimal-conf'), stdoutTo: join(p.ceph, 'ceph.conf') });
    add(2, 'kolla-ceph', 'files', "ceph.conf and keyrings where Kolla's external-Ceph guide wants them", {
      internal: {
        describe: `copy from ${p.ceph} into ${join(p.kolla, 'config')} as ${join(R, 'ceph/kolla-files.json')} lists (leading tabs stripped from ceph.conf)`,
        run: kollaCephFiles(p, lab),
      },
      reads: [...new Set(cephFileMap(lab).map((f) => join(p.ceph, f.from)))],
      writes: cephFileMap(lab).map((f) => join(p.kolla, f.to)),
    });
    add(2, 'kolla-ceph', 'dirs', 'globals.d', { argv: ['mkdir', '-p', join(p.kolla, 'globals.d')], writes: [join(p.kolla, 'globals.d')] });
    const overlay = join(R, 'kolla/globals.d/phase2-ceph.yml');
    add(2, 'kolla-ceph', 'globals', 'phase-2 overlay (external Ceph)', {
      argv: ['cp', overlay, join(p.kolla, 'globals.d/phase2-ceph.yml')],
      reads: [overlay],
      writes: [join(p.kolla, 'globals.d/phase2-ceph.yml')],
    });
    add(2, 'reconfigure', '', 'kolla-ansible reconfigure', { argv: ka('reconfigure'), env: kollaEnv, reads: [...kollaInputs, overlay, p.ceph] });
  }
  const ids = new Set<string>();
  for (const s of steps) {
    if (ids.has(s.id)) throw new Error(`plan: step ID ${s.id} twice`);
    ids.add(s.id);
  }
  return steps;
}


export function commandLine(step: Step): string {
  if (step.internal) return `(stackgate) ${step.internal.describe}`;
  const env = Object.entries(step.env ?? {}).map(([k, v]) => `${k}=${quote(v)} `).join('');
  return `${env}${(step.argv ?? []).map(quote).join(' ')}${step.stdoutTo ? ` > ${step.stdoutTo}` : ''}`;
}

/** Typical minutes of a set of steps (each group counted once per phase). */
export function estimateMinutes(steps: readonly Step[]): number {
  const groups = new Set(steps.map((s) => `${s.phase}:${s.group}`));
  return [...groups].reduce((sum, g) => sum + (GROUP_MINUTES[g.slice(2)] ?? 0), 0);
}

const minutes = (m: number) => (m < 1 ? '< 1 min' : m < 90 ? `≈ ${Math.round(m)} min` : `≈ ${(m / 60).toFixed(1)} h`);

/**
 * What a plan needs that nothing provides: a step reading a repository file that neither the render (`rendered`,
 * paths relative to the repository root) nor an earlier step makes, or writing into a folder that does not exist
 * yet. Internal steps and stdoutTo create their folders themselves.
 */
export function planGaps(steps: readonly Step[], rendered: readonly string[], renderDir: string): string[] {
  const made: string[] = [...rendered];
  const exists = (path: string) => made.some((m) => m === path || m.startsWith(`${path}/`)) || `${renderDir}/`.startsWith(`${path}/`);
  const gaps: string[] = [];
  for (const s of steps) {
    for (const r of s.reads ?? []) if (!exists(r)) gaps.push(`step ${s.id} reads ${r}, which neither the render nor an earlier step makes`);
    if (!s.internal && !s.makesFolders) {
      for (const w of s.writes ?? []) if (!exists(dirname(w))) gaps.push(`step ${s.id} writes ${w} into ${dirname(w)}, which does not exist yet`);
    }
    made.push(...(s.writes ?? []), ...(s.stdoutTo ? [s.stdoutTo] : []));
  }
  return gaps;
}

/** The plan as `lab plan` prints it. */
export function formatPlan(lab: Lab, steps: readonly Step[]): string {
  const p = limaPaths(lab);
  const lines = [
    `lab ${lab.name}: ${steps.length} steps (run in the repository root, ${join(p.venv, 'bin')} first on PATH; state in ${p.stateFile})`,
    `estimate for a first run: ${minutes(estimateMinutes(steps))} (typical minutes per group below; not measured by stackgate)`,
  ];
  for (const phase of [1, 2] as const) {
    const inPhase = steps.filter((s) => s.phase === phase);
    if (inPhase.length === 0) continue;
    lines.push('', `phase ${phase}${phase === 1 ? ' (VMs, Kolla-Ansible, LVM)' : ' (Ceph by cephadm, Kolla reconfigure)'}, ${minutes(estimateMinutes(inPhase))}`);
    let group = '';
    for (const s of inPhase) {
      if (s.group !== group) {
        group = s.group;
        lines.push(`  ${group}  (${minutes(GROUP_MINUTES[group] ?? 0)})`);
      }
      const notes = [s.retry ? `retried up to ${s.retry.attempts}× every ${s.retry.delaySeconds} s` : '', s.interactive ? 'interactive' : '', s.always ? 'every time' : '']
        .filter(Boolean)
        .join(', ');
      lines.push(`    ${s.id.padEnd(30)} ${commandLine(s)}${notes ? `   [${notes}]` : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
