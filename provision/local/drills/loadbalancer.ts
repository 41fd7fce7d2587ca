/**
 * Fault drills of Octavia (the embedded-lb lab): its API or driver agent stopped, the ovn provider left out of the
 * enabled drivers, and — through a watcher started by inject (lb-watch.ts), since the objects are the run's own —
 * a member's security group closed to the listener's port, or the health monitor deleted once the pool is ONLINE.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../../../helpers/lab/load.ts';
import { loadBalancer } from '../../../helpers/lab/defaults.ts';
import type { Lab } from '../../../helpers/lab/model.ts';
import { ApiError } from '../../../helpers/openstack/cloud.ts';
import { memberWhat } from '../../../helpers/openstack/lb-tenant.ts';
import { LB } from '../../../helpers/openstack/loadbalancer.ts';
import { waitFor } from '../../../helpers/openstack/wait.ts';
import { hasService, layout, openstackSecrets } from '../openstack/common.ts';
import { OCTAVIA, octaviaDir } from '../openstack/octavia.ts';
import { labPaths, netnsName } from '../paths.ts';
import { tryRun } from '../sh.ts';
import { alive, editDrill, supervisorctl, withCloud, type Drill } from './drill.ts';
import type { WatchMode } from './lb-watch.ts';

const BLOCKED_BY_PROVISIONING = ['lb.vip-not-in-pool', 'lb.distribution', 'lb.member-failover', 'lb.member-recovery'];
const program = (lab: Lab, service: string) => `${layout(lab).control.name}-${service}`;

/** What Octavia's API answers through HAProxy (a status, or why nothing answered), without throwing. */
async function octaviaStatus(lab: Lab): Promise<number | string> {
  return withCloud(lab, async (c) => {
    try {
      return (await c.get(LB, '/v2/lbaas/providers', { timeoutMs: 5000 })).status;
    } catch (error) {
      return error instanceof ApiError ? error.status : (error as Error).message;
    }
  });
}

const untilOctavia = (lab: Lab, want: (s: number | string) => boolean, what: string) =>
  waitFor(() => octaviaStatus(lab), { what: `Octavia's API (${what})`, timeoutMs: 120_000, intervalMs: 2000, state: String, done: want });

function apiStopped(): Drill {
  return {
    name: 'lb-octavia-api-stopped',
    description: 'octavia-api stopped on the control node: HAProxy has no load-balancer backend',
    decisions: ['LB-01'],
    checks: ['lb.provisioning'],
    blocked: BLOCKED_BY_PROVISIONING,
    object: 'Octavia',
    async inject(lab) {
      await supervisorctl(lab, 'stop', program(lab, 'octavia-api'));
      await untilOctavia(lab, (s) => s !== 200, 'no longer answering');
    },
    async revert(lab) {
      await supervisorctl(lab, 'start', program(lab, 'octavia-api'));
      await untilOctavia(lab, (s) => s === 200, 'answering again');
    },
  };
}

/**
 * Load balancers the stopped agent left in PENDING_*: nothing answers for them, Octavia refuses to delete them, so
 * they go to ERROR in its database (what an operator does), and the next run's reaper deletes them.
 */
async function unstick(lab: Lab): Promise<void> {
  const control = layout(lab).control;
  const sql = "UPDATE load_balancer SET provisioning_status = 'ERROR' WHERE name LIKE 'sg-%' AND provisioning_status LIKE 'PENDING%'";
  await tryRun('ip', ['netns', 'exec', netnsName(lab, control), 'mysql', '-h', control.apiAddress!, '-u', OCTAVIA, OCTAVIA, '-e', sql], {
    env: { MYSQL_PWD: openstackSecrets(labPaths(lab.name)).db[OCTAVIA]! },
  });
}

function driverAgentStopped(): Drill {
  return {
    name: 'lb-driver-agent-stopped',
    description: "octavia-driver-agent stopped: the OVN provider's status reports reach no listener",
    decisions: ['LB-01'],
    checks: ['lb.provisioning'],
    blocked: BLOCKED_BY_PROVISIONING,
    object: 'octavia-driver-agent',
    slow: "lb.provisioning waits out its bound (loadbalancer.provisioningSeconds, 300 s) for the load balancer's ACTIVE",
    async inject(lab) {
      await supervisorctl(lab, 'stop', program(lab, 'octavia-driver-agent'));
    },
    async revert(lab) {
      await supervisorctl(lab, 'start', program(lab, 'octavia-driver-agent'));
      await unstick(lab);
    },
  };
}

/** octavia.conf with the amphora driver as the only one enabled (and the default). */
export const withoutOvnProvider = (text: string) => text
  .replace(/^enabled_provider_drivers = .*$/m, 'enabled_provider_drivers = amphora:The Octavia Amphora driver')
  .replace(/^default_provider_driver = ovn$/m, 'default_provider_driver = amphora');

function providerNotEnabled(lab: Lab): Drill {
  const conf = join(octaviaDir(labPaths(lab.name), layout(lab).control), 'octavia.conf');
  return editDrill(
    {
      name: 'lb-provider-not-enabled',
      description: 'octavia.conf enables the amphora driver only (enabled_provider_drivers without ovn)',
      decisions: ['LB-01'],
      checks: ['lb.provisioning'],
      blocked: BLOCKED_BY_PROVISIONING,
      object: 'ovn',
    },
    () => [{
      file: conf,
      edit: withoutOvnProvider,
    }],
    async (l) => {
      await supervisorctl(l, 'restart', program(l, 'octavia-api'));
      await untilOctavia(l, (s) => s === 200, 'answering after its restart');
    },
  );
}

/** The lab's fixes of the OVN provider left out (octavia_ovn_fixes.py emptied): the provider as Debian 12 ships it. */
function providerUnfixed(lab: Lab): Drill {
  const module = join(octaviaDir(labPaths(lab.name), layout(lab).control), 'octavia_ovn_fixes.py');
  return editDrill(
    {
      name: 'lb-provider-stable-fixes-absent',
      description: "the OVN provider without its stable/zed fixes (Debian 12's 3.0.0: LP #1999813, LP #1997418)",
      decisions: ['LB-01', 'LB-04'],
      checks: ['lb.provisioning', 'lb.member-failover'],
      object: 'load balancer',
    },
    () => [{ file: module, edit: () => '# drill lb-provider-stable-fixes-absent: the provider as Debian 12 ships it\n' }],
    async (l) => {
      await supervisorctl(l, 'restart', program(l, 'octavia-api'));
      await supervisorctl(l, 'restart', program(l, 'octavia-driver-agent'));
      await untilOctavia(l, (s) => s === 200, 'answering after its restart');
    },
  );
}

const watcherScript = join(dirname(fileURLToPath(import.meta.url)), 'lb-watch.ts');
const pidFile = (lab: Lab, name: string) => join(labPaths(lab.name).root, 'drills', `${name}.pid`);

/** A drill whose harm a watcher does to the run's own objects while it is in place (lb-watch.ts). */
function watched(meta: Omit<Drill, 'inject' | 'revert'>, mode: WatchMode, member: string): Drill {
  return {
    ...meta,
    async inject(lab) {
      const file = pidFile(lab, meta.name);
      if (existsSync(file) && alive(Number(readFileSync(file, 'utf8')))) return;
      mkdirSync(dirname(file), { recursive: true });
      const port = String(loadBalancer(lab)?.port ?? 80);
      const child = spawn(join(repoRoot, 'node_modules/.bin/tsx'), [watcherScript, lab.file, mode, member, port], { detached: true, stdio: 'ignore' });
      child.unref();
      writeFileSync(file, `${child.pid}\n`);
    },
    async revert(lab) {
      const file = pidFile(lab, meta.name);
      if (!existsSync(file)) return;
      const pid = Number(readFileSync(file, 'utf8'));
      // The watcher's own process group (detached): tsx and the node it runs.
      if (pid > 0 && alive(pid)) process.kill(-pid, 'SIGTERM');
      rmSync(file, { force: true });
    },
  };
}

/** The last member: the one lb.member-failover stops and lb.member-recovery starts again. */
const lastMember = (lab: Lab) => memberWhat((loadBalancer(lab)?.members ?? 2) - 1);

function memberPortClosed(lab: Lab): Drill {
  const member = lastMember(lab);
  return watched(
    {
      name: 'lb-member-port-closed',
      description: `the security group of the run's ${member} loses its rule for the listener's port as soon as it exists`,
      // Measured: the member stays ONLINE (OVN's health probes seem to pass the port's ACLs), so the health monitor
      // never notices while clients cannot reach it: half the requests fail, before the failover and after it.
      decisions: ['LB-03', 'LB-04'],
      checks: ['lb.distribution', 'lb.member-recovery'],
      object: 'load balancer',
    },
    'sg-close',
    member,
  );
}

function memberPortClosedWhileDown(lab: Lab): Drill {
  const member = lastMember(lab);
  return watched(
    {
      name: 'lb-member-port-closed-while-down',
      description: `the security group of the run's ${member} loses its rule for the listener's port once its server is stopped`,
      decisions: ['LB-04'],
      checks: ['lb.member-recovery'],
      object: `lb-${member}`,
    },
    'sg-close-when-stopped',
    member,
  );
}

const monitorDeleted: Drill = watched(
  {
    name: 'lb-health-monitor-deleted',
    description: "the run's health monitor deleted once every member is ONLINE: nothing notices a member go down",
    decisions: ['LB-04'],
    checks: ['lb.member-failover'],
    object: 'still in the pool',
  },
  'hm-delete',
  '',
);

/** The load-balancer drills of a lab whose cloud runs Octavia; none otherwise. */
export function loadbalancerDrillsFor(lab: Lab): Drill[] {
  if (!hasService(lab, OCTAVIA)) return [];
  return [apiStopped(), driverAgentStopped(), providerNotEnabled(lab), providerUnfixed(lab), memberPortClosed(lab), memberPortClosedWhileDown(lab), monitorDeleted];
}
