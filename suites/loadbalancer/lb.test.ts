import { afterAll, expect } from 'vitest';
import { check, type CheckContext } from '../../helpers/gate/check.ts';
import { Ledger } from '../../helpers/gate/ledger.ts';
import { addSecret } from '../../helpers/gate/redact.ts';
import { LB_STATUS_SLACK_SECONDS } from '../../helpers/lab/defaults.ts';
import { Cloud } from '../../helpers/openstack/cloud.ts';
import { LbTenant } from '../../helpers/openstack/lb-tenant.ts';
import {
  distributionFindings, httpGet, sendRequests, statusLines, statusTree, survivorFindings, tallyText, vipFindings,
} from '../../helpers/openstack/loadbalancer.ts';
import { sshKeyPair } from '../../helpers/openstack/tenant.ts';
import { transitionsText, waitFor } from '../../helpers/openstack/wait.ts';

// One tenant for the file, with a session of its own: nothing is shared with another file's tenant or the run's
// shared guest (the health monitor's address would take the metadata service away from their guests).
let made: Promise<LbTenant> | undefined;
let stopped: number | undefined;

function scenario({ lab, needs, notApplicable, requires }: CheckContext): Promise<LbTenant> {
  if (!lab.spec.loadbalancer) notApplicable(`lab ${lab.name}: the spec has no loadbalancer section`);
  requires('guest-dataplane');
  made ??= (async () => {
    const cloud = await Cloud.connect(lab);
    const key = sshKeyPair('stackgate-lb');
    addSecret(key.privateKeyPem);
    const t = new LbTenant(lab, cloud, new Ledger(lab.name, undefined, 'lb'), key);
    t.prepare();
    return t;
  })();
  return needs(`a Keystone session for lab ${lab.name} (compute.keystone-token tells why)`, made);
}

afterAll(async () => {
  const t = await made?.catch(() => undefined);
  if (!t) return;
  const left = await t.ledger.cleanup();
  await t.cloud.close();
  if (left.length) throw new Error(`the loadbalancer layer's resources could not be removed (they stay in the ledger): ${left.join('; ')}`);
}, 900_000);

/** What a failure of Octavia says, with the objects' state history; a hint where the provider never answered. */
function octaviaFailure(t: LbTenant, error: Error): Error {
  // Seen with the driver agent stopped: objects left PENDING_*, or (Zed, OVN provider 3.0.0) a POST that never answers.
  const stuck = /PENDING_|no HTTP answer/.test(error.message)
    ? ' — the provider driver reported no outcome: is octavia-driver-agent (its status listener) running?'
    : '';
  const history = t.history.length ? `; history: ${t.history.join(' | ')}` : '';
  return new Error(`Octavia (provider ${t.plan.provider}): ${error.message}${stuck}${history}`);
}

const members = (t: LbTenant) => t.indexes.map((i) => t.memberName(i));

check('lb.provisioning', 'A load balancer with a listener, a pool, a health monitor and its members reaches ACTIVE, every member ONLINE', async (ctx) => {
  const t = await scenario(ctx);
  await ctx.needs(`the member servers ${members(t).join(', ')} (compute.server-boot)`, t.servers());
  await ctx.needs(`every member serving its name over HTTP (SSH with the key from the config drive or metadata)`, t.serving());
  const built = await t.built().catch((e: Error) => {
    throw octaviaFailure(t, e);
  });
  const lines = await t.online().catch(async (e: Error) => {
    const now = await statusTree(t.cloud, built.lb.id).then(statusLines, () => []);
    await ctx.attach('status tree', now.join('\n'));
    throw octaviaFailure(t, new Error(`${e.message}; now: ${now.join('; ')}`));
  });
  await ctx.attach('status tree', lines.join('\n'));
  await ctx.attach('state history', t.history.join('\n'));
  const p = t.plan;
  const lb = built.lb;
  const wrong = [
    ...(lb.provider === p.provider ? [] : [`load balancer ${lb.name} runs on provider ${lb.provider}, the spec says ${p.provider}`]),
    ...lines.filter((l) => !/: ACTIVE\/(ONLINE|NO_MONITOR)$/.test(l)).map((l) => `${l} (want ACTIVE/ONLINE)`),
  ];
  expect(wrong, `Octavia's load balancer ${lb.name}`).toEqual([]);
  // Bounded by the servers (their build timeout), SSH (180 s) and each Octavia object (provisioningSeconds).
}, { timeout: 1_800_000 });

check('lb.vip-not-in-pool', "The load balancer's VIP is an address of its tenant subnet, clear of every VIP of the lab", async (ctx) => {
  const t = await scenario(ctx);
  const lb = await ctx.needs('the load balancer (lb.provisioning)', t.loadBalancer());
  const { subnet } = await t.network();
  expect(vipFindings(ctx.lab, lb, subnet.cidr, false), `load balancer ${lb.name}'s VIP ${lb.vip_address}`).toEqual([]);
});

check('lb.distribution', "Requests to the load balancer's floating IP reach every member, as the spec's algorithm spreads them", async (ctx) => {
  const t = await scenario(ctx);
  const built = await ctx.needs('the load balancer with its members (lb.provisioning)', t.built());
  const fip = await ctx.needs("the VIP's floating IP", t.vipFloatingIp());
  const address = fip.floating_ip_address;
  const where = `load balancer ${built.lb.name} at ${address}:${t.plan.port} (VIP ${built.lb.vip_address}, ${t.plan.algorithm})`;
  // OVN maps the floating IP onto the load balancer once its provider agent sees the association.
  const first = await waitFor(() => httpGet(address, t.plan.port, 3000), {
    what: where,
    timeoutMs: 90_000,
    intervalMs: 1000,
    state: (r) => (r.body !== undefined ? 'answers' : (r.error ?? 'no answer')),
    done: (r) => r.body !== undefined,
  }).catch((e: Error) => e);
  if (first instanceof Error) throw new Error(`${where}: no answer within 90 s (${first.message})`);
  const tally = await sendRequests(address, t.plan.port, t.plan.requests, members(t));
  await ctx.attach('answers by member', tallyText(tally));
  const findings = distributionFindings(t.plan, tally, where);
  // A member OVN left out while Octavia still called it ONLINE, or one its monitor took out: say which it was.
  const now = findings.length ? await statusTree(t.cloud, built.lb.id).then(statusLines, () => []) : [];
  expect(findings.map((f) => (now.length ? `${f}; Octavia now: ${now.join('; ')}` : f)), 'requests through the load balancer').toEqual([]);
}, { timeout: 300_000 });

check('lb.member-failover', "A member whose server stops leaves the pool within the health monitor's bound, and the survivors take every request", async (ctx) => {
  const t = await scenario(ctx);
  await ctx.needs('every member ONLINE (lb.provisioning)', t.online());
  const fip = await ctx.needs("the VIP's floating IP (lb.distribution)", t.vipFloatingIp());
  const i = t.plan.members - 1;
  const name = t.memberName(i);
  await ctx.needs(`member server ${name} stopped (Nova os-stop)`, t.stopMember(i));
  stopped = i;
  const hm = t.plan.healthMonitor;
  const bound = t.plan.failoverSeconds;
  const why = `delay ${hm.delay} s × ${hm.maxRetriesDown} failed probes + ${hm.timeout} s timeout + ${LB_STATUS_SLACK_SECONDS} s`;
  const left = await t.memberBecomes(i, ['ERROR', 'OFFLINE'], bound).catch(async (e: Error & { transitions?: never }) => {
    const tree = await statusTree(t.cloud, (await t.built()).lb.id).then(statusLines, () => []);
    throw new Error(`member ${name}: still in the pool ${bound} s after its server stopped (bound: ${why}): ${e.message}; now: ${tree.join('; ')}`);
  });
  await ctx.attach('member transitions', `${transitionsText(left.transitions)} (${left.seconds.toFixed(1)} s)`);
  const where = `load balancer at ${fip.floating_ip_address}:${t.plan.port} after member ${name} went ${left.member.operating_status}`;
  const tally = await sendRequests(fip.floating_ip_address, t.plan.port, t.plan.requests, members(t));
  await ctx.attach('answers by member', tallyText(tally));
  expect(survivorFindings(tally, name, where), 'requests after the failover').toEqual([]);
}, { timeout: 600_000 });

check('lb.member-recovery', 'The stopped member, started again, is ONLINE within the same bound and receives requests again', async (ctx) => {
  const t = await scenario(ctx);
  const i = stopped;
  if (i === undefined) return ctx.blocked('no member was stopped (lb.member-failover did not get that far)');
  const name = t.memberName(i);
  const fip = await ctx.needs("the VIP's floating IP (lb.distribution)", t.vipFloatingIp());
  await ctx.needs(`member server ${name} started again (Nova os-start)`, t.startMember(i));
  // Its SSH key comes from the config drive (or the metadata service) again: a member that came back without it fails.
  const served = await t.startHttpd(i).catch((e: Error) => e);
  if (served instanceof Error) {
    const server = (await t.servers())[i]!;
    const console = await t.consoleLog(server.id).catch(() => '');
    await ctx.attach(`console of ${name}`, console);
    const said = console.split('\n').filter((l) => l.includes('stackgate-guest:')).slice(-4).join('; ');
    throw new Error(`member ${name}: started again, but SSH to it failed (${served.message}); its console: ${said || 'nothing'}`);
  }
  const back = await t.memberBecomes(i, ['ONLINE'], t.plan.failoverSeconds).catch((e: Error) => {
    throw new Error(`member ${name}: serving again, but not ONLINE within ${t.plan.failoverSeconds} s: ${e.message}`);
  });
  await ctx.attach('member transitions', `${transitionsText(back.transitions)} (${back.seconds.toFixed(1)} s)`);
  stopped = undefined;
  const where = `load balancer at ${fip.floating_ip_address}:${t.plan.port} after member ${name} came back`;
  const tally = await sendRequests(fip.floating_ip_address, t.plan.port, t.plan.requests, members(t));
  await ctx.attach('answers by member', tallyText(tally));
  expect(distributionFindings(t.plan, tally, where), 'requests after the recovery').toEqual([]);
}, { timeout: 900_000 });
