/**
 * Fault drills of the compute layer: nova-compute stopped, Glance stopped, the external network deleted, wrong
 * credentials, and a resource an earlier run leaked. Each inject waits until the cloud shows the fault (Nova marks
 * the compute service down, HAProxy answers 503), each revert until it is healthy again. Backups live in the lab's
 * state folder, so a revert after a crash needs no memory of the inject.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ledgerDir, Ledger } from '../../../helpers/gate/ledger.ts';
import { configDrive } from '../../../helpers/lab/defaults.ts';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { ApiError } from '../../../helpers/openstack/cloud.ts';
import { loadCredentials } from '../../../helpers/openstack/credentials.ts';
import { horizonBase } from '../../../helpers/openstack/horizon.ts';
import { providerOfHost } from '../../../helpers/openstack/placement.ts';
import { KINDS } from '../../../helpers/openstack/resources.ts';
import { waitFor } from '../../../helpers/openstack/wait.ts';
import { guestsRun, layout } from '../openstack/common.ts';
import { novaCompute, novaComputeDir } from '../openstack/compute.ts';
import { horizon, horizonLoginPage, horizonSettings } from '../openstack/horizon.ts';
import { cloudsFile } from '../openstack/keystone.ts';
import { externalBridge, ovsRun } from '../openstack/ovn.ts';
import { labPaths, netnsName } from '../paths.ts';
import { run, tryRun, waitUntil } from '../sh.ts';
import { programStatus } from '../supervisor.ts';
import { editDrill, notEnabledAtBoot, novaComputeReports, supervisorctl, withCloud, type Drill } from './drill.ts';
import { glanceNoAuth, restartNovaCompute } from './storage.ts';


function firstWith(lab: Lab, role: 'compute' | 'control'): LabNode {
  const node = lab.nodesWithRole(role)[0];
  if (!node) throw new Error(`lab ${lab.name} has no ${role} node`);
  return node;
}

/** Wait until Nova reports the node's nova-compute in `state` (it notices a stopped service after service_down_time). */
async function computeServiceIs(lab: Lab, node: LabNode, state: 'up' | 'down'): Promise<void> {
  await withCloud(lab, (c) =>
    waitFor(async () => (await novaComputeReports(c)).find((s) => s.host === node.hostname)?.state ?? 'absent', {
      what: `nova-compute on ${node.name}`,
      timeoutMs: 180_000,
      intervalMs: 2000,
      state: (s) => s,
      done: (s) => s === state,
    }),
  );
}

const novaComputeStopped: Drill = {
  name: 'compute-nova-compute-stopped',
  description: 'nova-compute stopped on the compute node (and reported down by Nova)',
  decisions: ['CMP-04', 'CMP-05'],
  checks: ['compute.server-boot'],
  object: 'down',
  async inject(lab) {
    const node = firstWith(lab, 'compute');
    await supervisorctl(lab, 'stop', `${node.name}-nova-compute`);
    await computeServiceIs(lab, node, 'down');
  },
  async revert(lab) {
    const node = firstWith(lab, 'compute');
    await supervisorctl(lab, 'start', `${node.name}-nova-compute`);
    await computeServiceIs(lab, node, 'up');
  },
};

/** The node's resource provider in Placement, found as the check finds it. */
const providerOf = (lab: Lab, node: LabNode) =>
  withCloud(lab, async (c) => providerOfHost((await c.get<{ resource_providers: { uuid: string; name: string }[] }>('placement', '/resource_providers')).body.resource_providers, node.hostname));

/**
 * The compute node's resource provider gone from Placement, as after a botched re-install, with nova-compute
 * stopped so that it cannot register it again: the scheduler has nowhere to place a server.
 */
const providerGone = (lab: Lab): Drill => ({
  name: 'compute-provider-gone',
  description: `the resource provider of ${firstWith(lab, 'compute').hostname} deleted from Placement while its nova-compute is stopped`,
  decisions: ['CMP-04', 'CMP-05'],
  checks: ['compute.placement-inventory', 'compute.server-boot'],
  object: firstWith(lab, 'compute').hostname,
  async inject(lab) {
    const node = firstWith(lab, 'compute');
    await supervisorctl(lab, 'stop', `${node.name}-nova-compute`);
    await computeServiceIs(lab, node, 'down');
    const rp = await providerOf(lab, node);
    if (rp) await withCloud(lab, (c) => c.delete('placement', `/resource_providers/${rp.uuid}`));
  },
  async revert(lab) {
    const node = firstWith(lab, 'compute');
    await supervisorctl(lab, 'start', `${node.name}-nova-compute`);
    await computeServiceIs(lab, node, 'up');
    // nova-compute registers its provider and inventory as it starts.
    await waitFor(() => providerOf(lab, node), { what: `the resource provider of ${node.hostname}`, timeoutMs: 120_000, intervalMs: 2000, state: (rp) => (rp ? rp.uuid : 'absent'), done: (rp) => rp !== undefined });
  },
});

/** What HAProxy answers for the image service on its public VIP, without throwing. */
async function imageStatus(lab: Lab): Promise<number | string> {
  return withCloud(lab, async (c) => {
    try {
      return (await c.get('image', '/v2/images?limit=1', { timeoutMs: 5000 })).status;
    } catch (error) {
      return error instanceof ApiError ? error.status : (error as Error).message;
    }
  });
}

async function untilImage(lab: Lab, want: (s: number | string) => boolean, what: string): Promise<void> {
  await waitFor(() => imageStatus(lab), { what: `the image API (${what})`, timeoutMs: 60_000, intervalMs: 1000, state: String, done: want });
}

const glanceStopped: Drill = {
  name: 'compute-glance-stopped',
  description: 'glance-api stopped on the control node: HAProxy has no image backend',
  decisions: ['CMP-03', 'CMP-01'],
  checks: ['compute.glance-image', 'compute.token-accepted'],
  object: ':9292',
  async inject(lab) {
    await supervisorctl(lab, 'stop', `${firstWith(lab, 'control').name}-glance-api`);
    await untilImage(lab, (s) => s !== 200, 'no longer answering');
  },
  async revert(lab) {
    await supervisorctl(lab, 'start', `${firstWith(lab, 'control').name}-glance-api`);
    await untilImage(lab, (s) => s === 200, 'answering again');
  },
};

interface SavedNetwork {
  network: Record<string, unknown>;
  subnets: Record<string, unknown>[];
}

const savedExternal = (lab: Lab) => join(labPaths(lab.name).root, 'drills', 'external-network.json');

const externalNetworkDeleted: Drill = {
  name: 'compute-external-network-deleted',
  description: "the external provider network (and its subnet) deleted from Neutron",
  decisions: ['NEU-01', 'NEU-03', 'NEU-02', 'CMP-04'],
  checks: ['net.external-network', 'compute.neutron-tenant', 'compute.floating-ip-range'],
  object: 'public',
  async inject(lab) {
    const name = lab.spec.neutron?.externalNetwork?.name ?? 'public';
    await withCloud(lab, async (c) => {
      const net = (await c.get<{ networks: Record<string, unknown>[] }>('network', `/v2.0/networks?name=${name}`)).body.networks[0];
      if (!net) return;
      const subnets = (await c.get<{ subnets: Record<string, unknown>[] }>('network', `/v2.0/subnets?network_id=${String(net.id)}`)).body.subnets;
      const file = savedExternal(lab);
      mkdirSync(join(file, '..'), { recursive: true });
      if (!existsSync(file)) writeFileSync(file, JSON.stringify({ network: net, subnets } satisfies SavedNetwork, null, 2));
      await c.delete('network', `/v2.0/networks/${String(net.id)}`, { ok: [204, 404] });
    });
  },
  async revert(lab) {
    const file = savedExternal(lab);
    if (!existsSync(file)) return;
    const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedNetwork;
    await withCloud(lab, async (c) => {
      const name = String(saved.network.name);
      let net = (await c.get<{ networks: { id: string }[] }>('network', `/v2.0/networks?name=${name}`)).body.networks[0];
      if (!net) {
        const keep = ['name', 'router:external', 'shared', 'provider:network_type', 'provider:physical_network', 'mtu', 'description'];
        net = (await c.post<{ network: { id: string } }>('network', '/v2.0/networks', { network: Object.fromEntries(keep.filter((k) => k in saved.network).map((k) => [k, saved.network[k]])) })).body.network;
      }
      const have = (await c.get<{ subnets: unknown[] }>('network', `/v2.0/subnets?network_id=${net.id}`)).body.subnets;
      if (have.length === 0) {
        for (const s of saved.subnets) {
          const keep = ['name', 'ip_version', 'cidr', 'gateway_ip', 'enable_dhcp', 'allocation_pools', 'dns_nameservers', 'host_routes', 'description'];
          await c.post('network', '/v2.0/subnets', { subnet: { network_id: net.id, ...Object.fromEntries(keep.filter((k) => k in s).map((k) => [k, s[k]])) } });
        }
      }
    });
    rmSync(file);
  },
};

const cloudsBackup = (lab: Lab) => `${cloudsFile(lab, labPaths(lab.name))}.drill-backup`;

const wrongCredentials: Drill = {
  name: 'compute-wrong-credentials',
  description: "the password of the spec's cloud in clouds.yaml replaced by a wrong one",
  decisions: ['CMP-01'],
  checks: ['compute.keystone-token'],
  // The failure names the clouds.yaml cloud the credentials came from (the embedded spec's credentials.cloud).
  object: 'cloud embedded-admin',
  async inject(lab) {
    const file = cloudsFile(lab, labPaths(lab.name));
    const backup = cloudsBackup(lab);
    if (!existsSync(backup)) writeFileSync(backup, readFileSync(file), { mode: 0o600 });
    const doc = parse(readFileSync(backup, 'utf8')) as { clouds: Record<string, { auth: { password: string } }> };
    const cloud = loadCredentials(lab).source.split(' cloud ').pop()!;
    doc.clouds[cloud]!.auth.password = 'not-the-password';
    writeFileSync(file, stringify(doc), { mode: 0o600 });
  },
  async revert(lab) {
    const backup = cloudsBackup(lab);
    if (!existsSync(backup)) return;
    writeFileSync(cloudsFile(lab, labPaths(lab.name)), readFileSync(backup), { mode: 0o600 });
    rmSync(backup);
  },
};

/** A project beside the spec's, where the admin user is admin too: a token scoped to it works, but not where the spec says. */
const OTHER_PROJECT = 'sg-drill-other-project';
const otherProjectBackup = (lab: Lab) => `${cloudsFile(lab, labPaths(lab.name))}.drill-other-project`;

async function otherProject(lab: Lab, create: boolean): Promise<void> {
  await withCloud(lab, async (c) => {
    const found = (await c.get<{ projects: { id: string }[] }>('identity', `/v3/projects?name=${OTHER_PROJECT}`)).body.projects[0];
    if (!create) {
      if (found) {
        await c.request('identity', 'PATCH', `/v3/projects/${found.id}`, { body: { project: { enabled: false } } });
        await c.delete('identity', `/v3/projects/${found.id}`);
      }
      return;
    }
    const id = found?.id ?? (await c.post<{ project: { id: string } }>('identity', '/v3/projects', { project: { name: OTHER_PROJECT, domain_id: 'default' } })).body.project.id;
    const role = (await c.get<{ roles: { id: string }[] }>('identity', '/v3/roles?name=admin')).body.roles[0];
    if (!role) throw new Error('drill compute-token-other-project: Keystone has no role admin');
    await c.put('identity', `/v3/projects/${id}/users/${c.userId}/roles/${role.id}`, undefined, { ok: [200, 204] });
  });
}

const tokenOtherProject: Drill = {
  name: 'compute-token-other-project',
  description: `clouds.yaml scopes the admin user to project ${OTHER_PROJECT}, where it is admin too, instead of the spec's project`,
  decisions: ['CMP-01'],
  // The token works everywhere; only the check of its scope sees that it is not the project the spec names.
  checks: ['compute.keystone-token'],
  object: OTHER_PROJECT,
  async inject(lab) {
    const file = cloudsFile(lab, labPaths(lab.name));
    const backup = otherProjectBackup(lab);
    if (!existsSync(backup)) writeFileSync(backup, readFileSync(file), { mode: 0o600 });
    await otherProject(lab, true);
    const doc = parse(readFileSync(backup, 'utf8')) as { clouds: Record<string, { auth: { project_name?: string } }> };
    const cloud = loadCredentials(lab).source.split(' cloud ').pop()!;
    doc.clouds[cloud]!.auth.project_name = OTHER_PROJECT;
    writeFileSync(file, stringify(doc), { mode: 0o600 });
  },
  async revert(lab) {
    const backup = otherProjectBackup(lab);
    if (existsSync(backup)) {
      writeFileSync(cloudsFile(lab, labPaths(lab.name)), readFileSync(backup), { mode: 0o600 });
      rmSync(backup);
    }
    await otherProject(lab, false);
  },
};

/** A run that died long ago (no such process) and left a network behind, ledger and all. */
const LEAKED_RUN = 'zzleak00';

const leakedResource: Drill = {
  name: 'compute-leaked-resource',
  description: 'a network of an earlier run that died (sg-<run>-…, its ledger left behind), as after a crash',
  decisions: [],
  checks: [],
  layers: ['compute'],
  object: `sg-${LEAKED_RUN}-`,
  async inject(lab) {
    const ledger = new Ledger(lab.name, { run: LEAKED_RUN, pid: 2 ** 22 + 1 });
    await withCloud(lab, (c) => ledger.create('network', 'leaked-net', async (name) => (await c.post<{ network: { id: string } }>('network', '/v2.0/networks', { network: { name } })).body.network, async () => {}));
  },
  async after(lab) {
    const left = await withCloud(lab, async (c) => (await KINDS.network!.list(c)).filter((n) => n.name.startsWith(`sg-${LEAKED_RUN}-`)));
    const problems = left.map((n) => `network ${n.name} of dead run ${LEAKED_RUN} is still there after the next run`);
    if (existsSync(join(ledgerDir(lab.name), `${LEAKED_RUN}.jsonl`))) problems.push(`the ledger of dead run ${LEAKED_RUN} is still there`);
    return problems;
  },
  async revert(lab) {
    await withCloud(lab, async (c) => {
      for (const n of (await KINDS.network!.list(c)).filter((x) => x.name.startsWith(`sg-${LEAKED_RUN}-`))) await KINDS.network!.remove(c, n.id);
    });
    rmSync(join(ledgerDir(lab.name), `${LEAKED_RUN}.jsonl`), { force: true });
    rmSync(join(ledgerDir(lab.name), `${LEAKED_RUN}.json`), { force: true });
  },
};

/** Each network node's Neutron external interface and the OVS bridge it belongs in (the spec's). */
const externalPorts = (lab: Lab) =>
  layout(lab).network.flatMap((n) => {
    const ext = externalBridge(lab, n);
    return ext ? [{ node: n, ...ext, vsctl: (args: string[]) => run('ovs-vsctl', [`--db=unix:${ovsRun(labPaths(lab.name), n)}/db.sock`, '--timeout=20', ...args]) }] : [];
  });

/**
 * The external interface taken out of the external bridge on every network node: no path between the external
 * network and any router, so no floating IP answers. The API and the guest's boot are untouched.
 */
function northSouthCut(lab: Lab): Drill | undefined {
  const ports = externalPorts(lab);
  if (!guestsRun(lab) || ports.length === 0) return undefined;
  return {
    name: 'compute-north-south-cut',
    description: `${ports.map((p) => `${p.node.name} ${p.nic}`).join(', ')} taken out of ${ports[0]!.bridge}: floating IPs lead nowhere`,
    decisions: ['CMP-04'],
    checks: ['compute.guest-reachable'],
    object: 'does not answer ping',
    slow: 'the compute layer waits out every SSH bound of the guest: about 400 s',
    async inject(lab) {
      for (const p of externalPorts(lab)) await p.vsctl(['--if-exists', 'del-port', p.bridge, p.nic]);
    },
    async revert(lab) {
      for (const p of externalPorts(lab)) await p.vsctl(['--may-exist', 'add-port', p.bridge, p.nic]);
    },
  };
}

/** Horizon's Keystone URL moved to a port nothing listens on: the login page still serves, every login is refused. */
function horizonKeystoneUnreachable(lab: Lab): Drill | undefined {
  if (!horizon.needed(lab)) return undefined;
  const control = layout(lab).control.name;
  return editDrill(
    {
      name: 'compute-horizon-keystone-unreachable',
      description: `Horizon on ${control} sends its logins to port 1 of the internal VIP, where nothing listens`,
      decisions: ['CMP-06'],
      checks: ['compute.horizon-login'],
      // The check's message names Horizon's address: "Horizon at <base>: after logging in as admin".
      object: horizonBase(lab),
    },
    (lab) => [
      {
        file: horizonSettings(labPaths(lab.name), layout(lab).control),
        edit: (text) => text.replace(/^(OPENSTACK_KEYSTONE_URL = "[^"]*):\d+\/v3"$/m, '$1:1/v3"'),
      },
    ],
    async (lab) => {
      await supervisorctl(lab, 'restart', `${control}-horizon`);
      const page = () => horizonLoginPage(lab, labPaths(lab.name));
      await waitUntil("Horizon's login page answering again", 120_000, page);
    },
  );
}

/** Horizon logs in with the same credentials: where the lab has a dashboard, its login fails with them too. */
const wrongCredentialsFor = (lab: Lab): Drill =>
  horizon.needed(lab)
    ? { ...wrongCredentials, decisions: [...wrongCredentials.decisions, 'CMP-06'], checks: [...wrongCredentials.checks, 'compute.horizon-login'] }
    : wrongCredentials;

/**
 * The first compute node's nova-compute left out of the programs enabled at boot (boot/enabled.json), as a unit that
 * was never enabled: it runs now and would stay down after the next reboot. Only where the spec asks for persistence
 * (elsewhere compute.restart-policy does not apply). Revert restores the file byte for byte.
 */
function serviceNotEnabledAtBoot(lab: Lab): Drill | undefined {
  if (lab.spec.persistence === false || !novaCompute.needed(lab)) return undefined;
  const program = `${layout(lab).compute[0]!.name}-nova-compute`;
  const name = 'compute-service-not-enabled-at-boot';
  return {
    name,
    description: `${program} removed from the programs enabled at boot: it would stay down after a reboot`,
    decisions: ['ARC-04'],
    checks: ['compute.restart-policy'],
    object: program,
    ...notEnabledAtBoot(name, program),
  };
}

/**
 * The iptables rule (without its -I/-D) that drops the tenants' traffic to the identity service's public port: from
 * the external subnet's allocation pool (the floating range, where routers' SNAT and floating IPs take their
 * addresses) to the VIP the public endpoint is on. The host's own address on that network stays outside the range,
 * so the operator's access and every check run from the host keep working.
 */
export function tenantApiDrop(lab: Lab): { nodes: LabNode[]; service: string; rule: string[] } | undefined {
  const identity = lab.expectedCatalog.find((e) => e.interface === 'public' && e.type === 'identity');
  const range = lab.spec.neutron?.externalNetwork?.floatingRange;
  if (!identity || !range) return undefined;
  const vip = lab.vip(identity.vip);
  const nodes = lab.nodesWithRole('loadbalancer').filter((n) => n.nics.some((i) => i.network === vip.network));
  const rule = ['INPUT', '-p', 'tcp', '-d', vip.address, '--dport', String(identity.port), '-m', 'iprange', '--src-range', `${range.start}-${range.end}`,
    '-m', 'comment', '--comment', 'stackgate drill compute-api-firewalled-from-tenants', '-j', 'DROP'];
  return nodes.length ? { nodes, service: identity.service, rule } : undefined;
}

/** The identity service's public port firewalled on the load balancers from the tenants' side only. */
function apiFirewalledFromTenants(lab: Lab): Drill | undefined {
  const drop = guestsRun(lab) ? tenantApiDrop(lab) : undefined;
  if (!drop) return undefined;
  const iptables = (node: LabNode, op: '-C' | '-I' | '-D') => tryRun('ip', ['netns', 'exec', netnsName(lab, node), 'iptables', '-w', op, ...drop.rule]);
  const present = async (node: LabNode) => (await iptables(node, '-C')).code === 0;
  return {
    name: 'compute-api-firewalled-from-tenants',
    description: `${drop.service}'s public port dropped on ${drop.nodes.map((n) => n.name).join(', ')} for the tenants' addresses only`,
    decisions: ['VIP-02'],
    checks: ['compute.tenant-api-reach'],
    object: drop.service,
    async inject() {
      for (const n of drop.nodes) if (!(await present(n))) await run('ip', ['netns', 'exec', netnsName(lab, n), 'iptables', '-w', '-I', ...drop.rule]);
    },
    async revert() {
      for (const n of drop.nodes) {
        while (await present(n)) {
          const r = await iptables(n, '-D');
          if (r.code !== 0) throw new Error(`drill compute-api-firewalled-from-tenants: iptables -D on ${n.name}: ${r.out}`);
        }
      }
    },
  };
}

/** A line added to [DEFAULT] of nova.conf on every compute node, nova-compute restarted. */
const novaDefaultDrill = (meta: Omit<Drill, 'inject' | 'revert'>, line: string) => editDrill(
  meta,
  (lab) => layout(lab).compute.map((node) => ({
    file: `${novaComputeDir(lab, labPaths(lab.name), node)}/nova.conf`,
    edit: (text: string) => text.replace(/^\[DEFAULT\]\n/m, `[DEFAULT]\n${line}\n`),
  })),
  restartNovaCompute,
);

const drivesBuilt = (lab: Lab) => guestsRun(lab) && configDrive(lab);

/**
 * nova-compute cannot build a config drive, as on a compute node without genisoimage (what Tempest's
 * test_server_basic_ops found in this lab): Nova's mkisofs_cmd names a program that does not exist. A server asked
 * for with a config drive goes to ERROR.
 */
const NO_GENISOIMAGE = '/usr/lib/stackgate-drill/no-genisoimage';
const configDriveUnbuildable = (lab: Lab): Drill | undefined => (!drivesBuilt(lab) ? undefined : novaDefaultDrill({
  name: 'compute-config-drive-unbuildable',
  description: `nova-compute's mkisofs_cmd is ${NO_GENISOIMAGE} (no genisoimage) on every compute node`,
  decisions: ['CMP-04', 'CMP-07'],
  checks: ['compute.server-boot'],
  blocked: ['compute.config-drive'],
  object: 'went to ERROR',
}, `mkisofs_cmd = ${NO_GENISOIMAGE}`));

/**
 * The config drive built without its volume label (a genisoimage stand-in that drops `-V config-2`, as a broken
 * mkisofs replacement would): the server boots and answers, and the guest finds no config-2 volume.
 */
const UNLABELLED = `#!/bin/sh
# stackgate drill compute-config-drive-unlabelled: genisoimage without the volume label Nova asks for
skip=0
for a do
  shift
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  if [ "$a" = -V ]; then skip=1; continue; fi
  set -- "$@" "$a"
done
exec /usr/bin/genisoimage "$@"
`;
function configDriveUnlabelled(lab: Lab): Drill | undefined {
  if (!drivesBuilt(lab)) return undefined;
  const script = join(labPaths(lab.name).root, 'drills', 'genisoimage-unlabelled');
  const meta = {
    name: 'compute-config-drive-unlabelled',
    description: `nova-compute's mkisofs_cmd is ${script}, which builds the config drive without its config-2 label`,
    decisions: ['CMP-07'],
    checks: ['compute.config-drive'],
    object: 'no config-2 volume',
  };
  const drill = novaDefaultDrill(meta, `mkisofs_cmd = ${script}`);
  return {
    ...drill,
    async inject(lab) {
      mkdirSync(dirname(script), { recursive: true });
      writeFileSync(script, UNLABELLED, { mode: 0o755 });
      await drill.inject(lab);
    },
  };
}

/**
 * Nova's metadata API stopped wherever it runs: the metadata agent answers the guests 500. A guest still boots and
 * takes its key from its config drive, so only the check that asks the metadata service itself sees it.
 */
function metadataApiStopped(lab: Lab): Drill | undefined {
  if (!guestsRun(lab) || lab.lacks('guest-dataplane')) return undefined;
  const programs = async (l: Lab) =>
    (await programStatus(labPaths(l.name))).filter((p) => p.program.endsWith('-nova-metadata-api'));
  return {
    name: 'compute-metadata-api-stopped',
    description: "Nova's metadata API stopped on every node that runs it: guests' metadata requests answer 500",
    decisions: ['CMP-07'],
    checks: ['compute.metadata-service'],
    object: 'metadata service',
    async inject(l) {
      const mine = (await programs(l)).map((p) => p.program);
      if (mine.length === 0) throw new Error('no nova-metadata-api program in the lab\'s supervisor');
      await supervisorctl(l, 'stop', ...mine);
    },
    async revert(l) {
      const down = (await programs(l)).filter((p) => p.state !== 'RUNNING').map((p) => p.program);
      if (down.length) await supervisorctl(l, 'start', ...down);
      await waitUntil('every nova-metadata-api running', 60_000, async () => {
        const not = (await programs(l)).filter((p) => p.state !== 'RUNNING');
        return not.length === 0 || not.map((p) => `${p.program} ${p.state}`).join(', ');
      });
    },
  };
}

export const computeDrillsFor = (lab: Lab): Drill[] =>
  [
    novaComputeStopped, providerGone(lab), glanceStopped, externalNetworkDeleted, wrongCredentialsFor(lab), tokenOtherProject,
    leakedResource, northSouthCut(lab), glanceNoAuth(lab), horizonKeystoneUnreachable(lab),
    serviceNotEnabledAtBoot(lab), apiFirewalledFromTenants(lab), configDriveUnbuildable(lab),
    configDriveUnlabelled(lab), metadataApiStopped(lab),
  ].filter((d) => d !== undefined);
