/** What a node's operating system says about itself: release, size, containers. Read over SSH; never asserts. */
import type { LabNode } from '../lab/model.ts';
import type { NodeShell } from './ssh.ts';

export interface OsRelease {
  readonly id: string;
  readonly versionId: string;
  readonly pretty: string;
}

export function parseOsRelease(text: string): OsRelease {
  const v = Object.fromEntries(
    text
      .split('\n')
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!.replace(/^"(.*)"$/, '$1')]),
  );
  return { id: v.ID ?? '', versionId: v.VERSION_ID ?? '', pretty: v.PRETTY_NAME ?? v.ID ?? 'unknown' };
}

export async function nodeOs(shell: NodeShell): Promise<OsRelease> {
  return parseOsRelease(await shell.out('cat /etc/os-release'));
}

/** vCPUs and memory within what a VM reports for its configured size, and each declared disk present at its size. */
export async function nodeSize(shell: NodeShell, node: LabNode): Promise<string[]> {
  const [cpus, mem, disks] = await Promise.all([shell.out('nproc'), shell.out("awk '/^MemTotal:/ {print $2}' /proc/meminfo"), shell.out('lsblk -b -d -n -o NAME,SIZE')]);
  const findings: string[] = [];
  if (Number(cpus) !== node.size.vcpus) findings.push(`${cpus.trim()} vCPUs, the spec says ${node.size.vcpus}`);
  const gib = Number(mem) / 1024 / 1024;
  // The kernel keeps some memory for itself: MemTotal of a 32 GiB VM is a little under 32 GiB.
  if (gib < node.size.memoryGiB * 0.9 || gib > node.size.memoryGiB * 1.02) findings.push(`${gib.toFixed(1)} GiB memory, the spec says ${node.size.memoryGiB} GiB`);
  const sizes = new Map(disks.split('\n').map((l) => l.trim().split(/\s+/)).map(([name, bytes]) => [`/dev/${name}`, Number(bytes) / 2 ** 30]));
  for (const d of node.disks.filter((x) => x.device)) {
    const size = sizes.get(d.device!);
    if (size === undefined) findings.push(`disk ${d.name} (${d.device}) is missing`);
    else if (Math.abs(size - d.sizeGiB) > 0.5) findings.push(`disk ${d.name} (${d.device}) is ${size.toFixed(1)} GiB, the spec says ${d.sizeGiB} GiB`);
  }
  return findings;
}

export interface Container {
  readonly name: string;
  readonly state: string;
  readonly status: string;
  readonly restart: string;
}

async function containers(shell: NodeShell): Promise<Container[]> {
  const out = await shell.out("docker ps -a --format '{{.Names}}' | xargs -r docker inspect --format '{{.Name}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.HostConfig.RestartPolicy.Name}}'");
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name = '', state = '', status = '', restart = ''] = l.split('|');
      return { name: name.replace(/^\//, ''), state, status, restart };
    });
}

/**
 * Kolla's restart policy is unless-stopped; anything else does not come back after a reboot. Zero containers prove
 * nothing: every container the node's roles bring (KOLLA_ROLE_CONTAINERS) must be there to be judged.
 */
export function restartFindings(seen: readonly Container[], node: LabNode): string[] {
  const names = new Set(seen.map((c) => c.name));
  const missing = node.roles.flatMap((role) => (KOLLA_ROLE_CONTAINERS[role] ?? []).filter((n) => !names.has(n)).map((n) => `role ${role}: no container ${n} whose restart policy could be judged`));
  const wrong = seen.filter((c) => !['unless-stopped', 'always'].includes(c.restart)).map((c) => `${c.name} has restart policy ${c.restart || 'none'}`);
  return [...new Set(missing), ...wrong];
}

export async function restartPolicies(shell: NodeShell, node: LabNode): Promise<{ containers: number; findings: string[] }> {
  const seen = await containers(shell);
  return { containers: seen.length, findings: restartFindings(seen, node) };
}

/** Containers each role brings on a Kolla node: the ones whose absence means the role is not deployed there. */
export const KOLLA_ROLE_CONTAINERS: Readonly<Record<string, readonly string[]>> = {
  control: ['keystone', 'glance_api', 'nova_api', 'nova_scheduler', 'nova_conductor', 'placement_api', 'neutron_server', 'cinder_api', 'cinder_scheduler'],
  network: ['ovn_controller', 'openvswitch_vswitchd'],
  compute: ['nova_compute', 'nova_libvirt', 'ovn_controller', 'openvswitch_vswitchd'],
  storage: ['cinder_volume'],
  loadbalancer: ['haproxy', 'keepalived'],
  database: ['mariadb'],
  messaging: ['rabbitmq'],
  monitoring: ['prometheus_server'],
};

export async function containerFindings(shell: NodeShell, node: LabNode): Promise<string[]> {
  const seen = await containers(shell);
  const byName = new Map(seen.map((c) => [c.name, c]));
  const findings: string[] = [];
  for (const role of node.roles) {
    for (const name of KOLLA_ROLE_CONTAINERS[role] ?? []) if (!byName.has(name)) findings.push(`role ${role}: no container ${name}`);
  }
  for (const c of seen) {
    if (c.state !== 'running') findings.push(`${c.name} is ${c.state}`);
    else if (c.status === 'unhealthy') findings.push(`${c.name} is unhealthy`);
  }
  return findings;
}
