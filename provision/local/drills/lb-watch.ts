/**
 * The background half of the load-balancer drills whose fault lands on what a run makes (its member's security
 * group, its health monitor): started detached by the drill's inject, ended by its revert (by its pid), it watches
 * the cloud every two seconds and does the harm as soon as the run's object exists. Usage (tsx):
 *   lb-watch.ts <lab.yaml> sg-close|sg-close-when-stopped|hm-delete <member what, e.g. member-2> <port>
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { loadLab } from '../../../helpers/lab/load.ts';
import { Cloud } from '../../../helpers/openstack/cloud.ts';
import { LB } from '../../../helpers/openstack/loadbalancer.ts';

export type WatchMode = 'sg-close' | 'sg-close-when-stopped' | 'hm-delete';

type Rule = { id: string; direction: string; protocol: string | null; port_range_min: number | null; port_range_max: number | null };

/** The run's member security group and server are named sg-<run>-lb-<member>-secgroup and sg-<run>-lb-<member>. */
async function closeMemberPort(c: Cloud, member: string, port: number, onlyStopped: boolean): Promise<void> {
  const groups = (await c.get<{ security_groups: { id: string; name: string; security_group_rules: Rule[] }[] }>('network', '/v2.0/security-groups')).body.security_groups;
  for (const g of groups.filter((x) => new RegExp(`^sg-[a-z0-9]+-lb-${member}-secgroup$`).test(x.name))) {
    if (onlyStopped) {
      const server = g.name.replace(/-secgroup$/, '');
      const found = (await c.get<{ servers: { status: string }[] }>('compute', `/servers/detail?name=${encodeURIComponent(`^${server}$`)}`)).body.servers;
      if (found[0]?.status !== 'SHUTOFF') continue;
    }
    const open = g.security_group_rules.filter((r) => r.direction === 'ingress' && r.protocol === 'tcp' && r.port_range_min !== null && r.port_range_min <= port && (r.port_range_max ?? 0) >= port);
    for (const r of open) await c.delete('network', `/v2.0/security-group-rules/${r.id}`, { ok: [204, 404] });
  }
}

/** The run's health monitor (sg-<run>-lb-monitor), deleted once every member of its pool is ONLINE. */
async function deleteMonitor(c: Cloud): Promise<void> {
  const monitors = (await c.get<{ healthmonitors: { id: string; name: string; pools: { id: string }[]; provisioning_status: string }[] }>(LB, '/v2/lbaas/healthmonitors')).body.healthmonitors;
  for (const hm of monitors.filter((m) => /^sg-[a-z0-9]+-lb-monitor$/.test(m.name) && m.provisioning_status === 'ACTIVE')) {
    const pool = hm.pools[0]?.id;
    if (!pool) continue;
    const members = (await c.get<{ members: { operating_status: string }[] }>(LB, `/v2/lbaas/pools/${pool}/members`)).body.members;
    if (members.length === 0 || members.some((m) => m.operating_status !== 'ONLINE')) continue;
    await c.delete(LB, `/v2/lbaas/healthmonitors/${hm.id}`, { ok: [204, 404, 409] });
  }
}

async function main(): Promise<void> {
  const [file, mode, member, port] = process.argv.slice(2) as [string, WatchMode, string, string];
  const lab = loadLab(file);
  let cloud: Cloud | undefined;
  for (;;) {
    try {
      cloud ??= await Cloud.connect(lab);
      if (mode === 'hm-delete') await deleteMonitor(cloud);
      else await closeMemberPort(cloud, member, Number(port), mode === 'sg-close-when-stopped');
    } catch {
      // A new session on the next round (Keystone not answering yet, a token that expired).
      await cloud?.close();
      cloud = undefined;
    }
    await sleep(2000);
  }
}

if (process.argv[1]?.endsWith('lb-watch.ts')) void main();
