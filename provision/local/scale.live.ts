// Issue #23, part 3, on the running embedded lab (project `drills`): a guest is booted, then the lab's spec grows by a
// compute node derived from its own addressing (extra-node.ts) and `lab up` brings it in; the new nova-compute is up,
// its hypervisor in Placement, its chassis in OVN, and the network, dns and monitoring layers pass on the grown spec.
// Then `lab up` with the original spec takes the node out again and nothing of it is left (compute service, resource
// provider, chassis, namespace, veths). The guest answers pings and SSH throughout, with no gap above the bound.
// It changes the lab for minutes, so it runs only when asked: STACKGATE_SCALE=1 (nightly; see README "Scaling").
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../helpers/gate/child-run.ts';
import { Ledger } from '../../helpers/gate/ledger.ts';
import { loadLab, repoRoot } from '../../helpers/lab/load.ts';
import type { Lab } from '../../helpers/lab/model.ts';
import { Cloud } from '../../helpers/openstack/cloud.ts';
import { pingOnce } from '../../helpers/openstack/guest.ts';
import { computeInventories, providerOfHost } from '../../helpers/openstack/placement.ts';
import { Tenant } from '../../helpers/openstack/tenant.ts';
import { withExtraCompute, writeSpecCopy } from './extra-node.ts';
import { labPaths, status } from './index.ts';
import { layout } from './openstack/common.ts';
import { ovnSbRemote } from './openstack/ovn.ts';
import { hostVethName, netnsName } from './paths.ts';
import { appliedLab } from './scale.ts';
import { listNetns } from './topology.ts';

const lab = loadLab(process.env.STACKGATE_LAB ?? 'embedded');
const asked = process.env.STACKGATE_SCALE === '1';
const root = process.getuid?.() === 0;
const up = asked && root && lab.provider === 'local' ? (await status(lab)).up : false;
/** The longest the guest may go without answering a ping while the lab scales (STACKGATE_SCALE_MAX_GAP_S). */
const MAX_GAP_MS = Number(process.env.STACKGATE_SCALE_MAX_GAP_S ?? 10) * 1000;
const scratch = join(repoRoot, 'reports/tmp/scale');
const grown = withExtraCompute(lab);
const LAYERS = ['network', 'dns', 'monitoring'];

/** `npm run lab -- up` with a spec file, as the lab owner runs it; its output's tail when it fails. */
async function labUp(file: string): Promise<void> {
  const options = { cwd: repoRoot, reject: false, all: true, timeout: 1_500_000 } as const;
  const r = await execa('npx', ['tsx', 'provision/cli.ts', 'up', '--lab', file], options);
  expect(r.exitCode, `lab up --lab ${file}:\n${String(r.all ?? '').split('\n').slice(-40).join('\n')}`).toBe(0);
}

interface Watch {
  /** Stop and report: the longest time without an answer, pings answered of sent, SSH failures with their times. */
  stop(): Promise<{ longestMs: number; answered: number; sent: number; sshFailures: string[] }>;
}

/** Ping the guest every second and log in over SSH every 15 s, in the background, until stopped. */
function watch(address: string, tenant: Tenant): Watch {
  let running = true;
  let last = Date.now();
  let longestMs = 0;
  let answered = 0;
  let sent = 0;
  const sshFailures: string[] = [];
  const pings = (async () => {
    while (running) {
      const t = Date.now();
      sent++;
      if (await pingOnce(address)) {
        answered++;
        longestMs = Math.max(longestMs, Date.now() - last);
        last = Date.now();
      }
      await sleep(Math.max(0, 1000 - (Date.now() - t)));
    }
    longestMs = Math.max(longestMs, Date.now() - last);
  })();
  const logins = (async () => {
    while (running) {
      const failed = (e: unknown) => sshFailures.push(`${new Date().toISOString()} ${(e as Error).message}`);
      await tenant.guestRuns('true', 20_000, undefined, true).catch(failed);
      for (let i = 0; i < 15 && running; i++) await sleep(1000);
    }
  })();
  return {
    async stop() {
      running = false;
      await Promise.all([pings, logins]);
      return { longestMs, answered, sent, sshFailures };
    },
  };
}

/** The chassis OVN's southbound DB has for a host name ('' when none). */
async function chassisOf(l: Lab, hostname: string): Promise<string> {
  const sbctl = ['ovn-sbctl', `--db=${ovnSbRemote(l, layout(l))}`, '--timeout=20'];
  const find = ['--bare', '--columns=name', 'find', 'chassis', `hostname=${hostname}`];
  return (await execa('ip', ['netns', 'exec', netnsName(l, layout(l).ovnCentral), ...sbctl, ...find])).stdout.trim();
}

type Service = { host: string; state: string; status: string };
const computeServices = async (cloud: Cloud) =>
  (await cloud.get<{ services: Service[] }>('compute', '/os-services?binary=nova-compute')).body.services;
const onHost = (hostname: string) => (s: Service) => s.host.split('.')[0] === hostname;

/** The layers that see nodes, on a spec: the checks that failed, the gate's reasons, the checks that passed. */
async function layers(file: string, scratchDir: string) {
  const args = LAYERS.flatMap((l) => ['--project', l]);
  const run = await runChecks({ lab: file, scratch: scratchDir, args, timeoutMs: 600_000 });
  const results = run.verdict?.results ?? [];
  return {
    failed: results.filter((r) => r.status === 'failed').map((r) => `${r.checkId}: ${r.message}`),
    passed: results.filter((r) => r.status === 'passed').map((r) => r.checkId),
    reasons: run.verdict?.reasons,
    tail: run.output.slice(-3000),
  };
}

/** What is left of a node: its compute service, resource provider, chassis, namespace, veths, state, /run/netns. */
async function traces(l: Lab, nodeLab: Lab, node: string, cloud: Cloud): Promise<string[]> {
  const n = nodeLab.node(node);
  type Rp = { uuid: string; name: string };
  const rps = (await cloud.get<{ resource_providers: Rp[] }>('placement', '/resource_providers')).body.resource_providers;
  const rp = providerOfHost(rps, n.hostname);
  const chassis = await chassisOf(l, n.hostname);
  const links = (await execa('ip', ['-o', 'link', 'show'])).stdout;
  return [
    ...(await computeServices(cloud)).filter(onHost(n.hostname)).map((s) => `compute service ${s.host} (${s.state})`),
    ...(rp ? [`resource provider ${rp.name}`] : []),
    ...(chassis ? [`OVN chassis ${chassis}`] : []),
    ...((await listNetns()).includes(netnsName(l, n)) ? [`namespace ${netnsName(l, n)}`] : []),
    ...n.nics.map((nic) => hostVethName(l, n, nic)).filter((v) => links.includes(` ${v}@`)).map((v) => `veth ${v}`),
    ...(existsSync(labPaths(l.name).node(n.name)) ? [`state ${labPaths(l.name).node(n.name)}`] : []),
    ...(existsSync(labPaths(l.name).netns(n.name)) ? [`its /run/netns ${labPaths(l.name).netns(n.name)}`] : []),
  ];
}

describe.runIf(up)(`scaling the running lab ${lab.name} by ${grown.node}, a guest answering throughout`, () => {
  let cloud: Cloud;
  let tenant: Tenant;
  let file: string;
  let grownLab: Lab;
  let guest: Watch | undefined;
  let address = '';
  const uptime = async () => Number((await tenant.guestRuns('cut -d" " -f1 /proc/uptime')).trim());
  let bootedUptime = 0;
  let bootedAt = 0;

  beforeAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    file = writeSpecCopy(lab, grown.spec, join(scratch, 'spec'));
    grownLab = loadLab(file);
    cloud = await Cloud.connect(lab);
    tenant = new Tenant(lab, cloud, new Ledger(lab.name, undefined, 'scale'));
    address = (await tenant.associate()).floating_ip_address;
    bootedUptime = await uptime();
    bootedAt = Date.now();
    guest = watch(address, tenant);
  }, 900_000);

  afterAll(async () => {
    await guest?.stop();
    // Whatever failed, the lab goes back to its own spec, and the guest and its network go.
    const stillGrown = appliedLab(lab, labPaths(lab.name))?.nodes.some((n) => n.name === grown.node);
    if (stillGrown) await labUp(lab.file).catch(() => undefined);
    await tenant?.closeGuestSessions();
    const left = tenant ? await tenant.ledger.cleanup() : [];
    await cloud?.close();
    expect(left, 'cloud resources the scale test could not remove').toEqual([]);
  }, 1_800_000);

  it(`scale-out: ${grown.node} joins: nova-compute up and in Placement, chassis in OVN, the layers cover it`, async () => {
    await labUp(file);
    const host = grownLab.node(grown.node).hostname;
    const services = await computeServices(cloud);
    const mine = services.filter(onHost(host)).map((s) => `${s.state}/${s.status}`);
    expect(mine, `nova-compute of ${host} (services: ${services.map((s) => s.host).join(', ')})`).toEqual(['up/enabled']);
    const placed = (await computeInventories(grownLab, cloud)).find((p) => p.node === grown.node);
    expect(placed?.problems, `Placement's view of ${grown.node}`).toEqual([]);
    expect(await chassisOf(grownLab, host), `the OVN chassis of ${host}`).not.toBe('');
    const run = await layers(file, join(scratch, 'grown'));
    expect(run.failed, run.tail).toEqual([]);
    expect(run.reasons, `the gate on the grown spec ${file}`).toEqual([]);
    const nodeChecks = ['net.node-interfaces', 'net.ovn-chassis-encap', 'dns.forward-records', 'mon.targets-up'];
    expect(run.passed).toEqual(expect.arrayContaining(nodeChecks));
  }, 1_800_000);

  it(`scale-in: ${grown.node} leaves and nothing of it is left; the original spec's layers pass`, async () => {
    await labUp(lab.file);
    expect(await traces(lab, grownLab, grown.node, cloud), `what is left of ${grown.node} after it left`).toEqual([]);
    const run = await layers(lab.file, join(scratch, 'back'));
    expect(run.failed, run.tail).toEqual([]);
    expect(run.reasons, `the gate on the original spec ${lab.file}`).toEqual([]);
  }, 1_800_000);

  it('the guest answered pings and SSH throughout, with no gap above the bound, and never rebooted', async () => {
    const seen = await guest!.stop();
    guest = undefined;
    const lost = `${seen.sent - seen.answered} of ${seen.sent} pings unanswered`;
    const gap = `the longest time the guest at ${address} did not answer a ping (${lost})`;
    expect(seen.longestMs, gap).toBeLessThanOrEqual(MAX_GAP_MS);
    expect(seen.sshFailures, `SSH logins to the guest at ${address} that failed`).toEqual([]);
    const elapsed = (Date.now() - bootedAt) / 1000;
    const before = `the guest's uptime (${bootedUptime} s when the test began, ${elapsed.toFixed(0)} s ago)`;
    expect(await uptime(), before).toBeGreaterThanOrEqual(bootedUptime + elapsed - 5);
  }, 300_000);
});

describe.runIf(!up)('scaling the running lab', () => {
  it.skip(
    asked
      ? `needs the ${lab.name} lab up and root (npm run lab -- up)`
      : 'runs only when asked: STACKGATE_SCALE=1 (it changes the lab for minutes)',
    () => {},
  );
});
