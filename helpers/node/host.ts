/** What a node's operating system says about itself: release, size, containers. Read over SSH; never asserts. */
import type { Lab, LabNode } from '../lab/model.ts';
import { containers, missingContainers } from './boot.ts';
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

export async function containerFindings(shell: NodeShell, lab: Lab, node: LabNode): Promise<string[]> {
  const seen = await containers(shell, lab);
  const findings = missingContainers(seen, node);
  for (const c of seen) {
    if (c.state !== 'running') findings.push(`${c.name} is ${c.state}`);
    else if (c.status === 'unhealthy') findings.push(`${c.name} is unhealthy`);
  }
  return findings;
}
