/** What a tenant sees of its guest: the hypervisor it runs on, ping and SSH over its floating IP. */
import { execa } from 'execa';
import { NodeSSH } from 'node-ssh';
import type { Cloud } from './cloud.ts';

export interface Hypervisor {
  readonly hypervisor_hostname: string;
  readonly hypervisor_type: string;
  readonly state: string;
  readonly status: string;
}

export async function hypervisorOf(cloud: Cloud, hostname: string): Promise<Hypervisor | undefined> {
  const all = (await cloud.get<{ hypervisors: Hypervisor[] }>('compute', '/os-hypervisors/detail')).body.hypervisors;
  return all.find((h) => h.hypervisor_hostname === hostname);
}

/** True once an echo reply comes back within the bound (the guest may still be booting). */
export async function reachable(address: string, withinMs: number): Promise<boolean> {
  const until = Date.now() + withinMs;
  do {
    const r = await execa('ping', ['-n', '-c', '1', '-W', '2', address], { reject: false });
    if (r.exitCode === 0) return true;
  } while (Date.now() < until);
  return false;
}

/** Run one command on the guest with the key injected through the metadata service; its stdout. */
export async function sshRuns(address: string, privateKey: string, command: string, user = 'root'): Promise<string> {
  const ssh = new NodeSSH();
  try {
    // A guest's host key is new on every boot: nothing to verify it against but the boot itself.
    await ssh.connect({ host: address, username: user, privateKey, readyTimeout: 30_000 });
    const r = await ssh.execCommand(command);
    return r.stdout.trim();
  } finally {
    ssh.dispose();
  }
}
