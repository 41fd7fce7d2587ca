/**
 * "Up" means ready for every check: the conditions the checks take for granted, each judged with the checks' own
 * helpers (so ready and checked can never disagree on what healthy means), each with a bound. A condition that
 * runs out of time says what it waited for and what it saw last.
 */
import type { Lab } from '../../helpers/lab/model.ts';
import { Cloud } from '../../helpers/openstack/cloud.ts';
import { agents, ovnAgentFindings } from '../../helpers/openstack/neutron.ts';
import { computeInventories } from '../../helpers/openstack/placement.ts';
import { backendsNow, cinderServices, serviceFindings } from '../../helpers/openstack/volumes.ts';
import { activeTargets, prometheusOf } from '../../helpers/prometheus/client.ts';
import { closeAgents } from '../../helpers/prometheus/http.ts';
import { compareTargets, describeTarget } from '../../helpers/prometheus/targets.ts';
import { cephCli } from './ceph-bootstrap.ts';
import { cephDue } from './ceph.ts';
import { guestsRun } from './guests.ts';
import { openstackEnabled } from './openstack.ts';
import type { LabPaths } from './paths.ts';
import { sleep } from './sh.ts';

/** One thing the checks need before they can judge: `probe` answers true, or what it saw instead. */
export interface Condition {
  readonly what: string;
  readonly probe: () => Promise<true | string>;
}

export class NotReady extends Error {
  override name = 'NotReady';
}

const findings = (list: readonly string[]): true | string => (list.length === 0 ? true : list.join('; '));

function cloudConditions(lab: Lab, cloud: () => Promise<Cloud>): Condition[] {
  const services = new Set(Object.keys(lab.spec.services ?? {}));
  const list: Condition[] = [];
  if (services.has('neutron') && lab.spec.neutron?.backend === 'ovn') {
    list.push({ what: 'Neutron reports every OVN agent alive', probe: async () => findings(ovnAgentFindings(lab, await agents(await cloud()))) });
  }
  if (services.has('nova') && lab.nodesWithRole('compute').length) {
    list.push({ what: 'every nova-compute service up and its hypervisor in Placement', probe: () => novaReady(lab, cloud) });
  }
  if (services.has('cinder') && backendsNow(lab).due.length) {
    list.push({
      what: 'a cinder-volume service up for every Cinder backend of the phase',
      probe: async () => {
        const seen = await cinderServices(await cloud());
        return findings(backendsNow(lab).due.flatMap((b) => serviceFindings(lab, b, seen)));
      },
    });
  }
  const image = lab.spec.compute?.guestImage;
  if (services.has('glance') && image && guestsRun(lab)) {
    list.push({
      what: `guest image ${image.name} active in Glance`,
      probe: async () => {
        const path = `/v2/images?name=${encodeURIComponent(image.name)}`;
        const found = (await (await cloud()).get<{ images: { status: string }[] }>('image', path)).body.images;
        return found.some((i) => i.status === 'active') ? true : `images named ${image.name}: ${found.map((i) => i.status).join(', ') || 'none'}`;
      },
    });
  }
  return list;
}

async function novaReady(lab: Lab, cloud: () => Promise<Cloud>): Promise<true | string> {
  const c = await cloud();
  type Service = { host: string; state: string; status: string };
  const seen = (await c.get<{ services: Service[] }>('compute', '/os-services?binary=nova-compute')).body.services;
  const problems: string[] = [];
  for (const node of lab.nodesWithRole('compute')) {
    const s = seen.find((x) => x.host === node.hostname || x.host.split('.')[0] === node.hostname);
    if (!s) problems.push(`no nova-compute service on ${node.hostname}`);
    else if (s.state !== 'up' || s.status !== 'enabled') problems.push(`nova-compute on ${s.host} is ${s.state}/${s.status}`);
  }
  if (problems.length) return problems.join('; ');
  return findings((await computeInventories(lab, c)).flatMap((p) => p.problems));
}

function cephCondition(lab: Lab, paths: LabPaths): Condition {
  const ceph = cephCli(lab, paths);
  return {
    what: 'Ceph HEALTH_OK',
    probe: async () => {
      type Health = { status: string; checks: Record<string, { summary: { message: string } }> };
      const h = JSON.parse(await ceph(['health', '-f', 'json'], 30_000)) as Health;
      if (h.status === 'HEALTH_OK') return true;
      return [h.status, ...Object.entries(h.checks).map(([k, v]) => `${k}: ${v.summary.message}`)].join('; ');
    },
  };
}

function prometheusCondition(lab: Lab): Condition {
  return {
    what: 'every expected Prometheus target scraped and up',
    probe: async () => {
      const active = await activeTargets(prometheusOf(lab), lab);
      const c = compareTargets(lab.expectedTargets, active);
      const bad = [
        ...c.missing.map((t) => `${describeTarget(t)} missing`),
        ...c.present.filter((p) => p.active.health !== 'up').map((p) => `${describeTarget(p.expected)} ${p.active.health}`),
      ];
      return findings(bad);
    },
  };
}

/** What this lab's checks need, as far as the spec says it has it. */
export function conditions(lab: Lab, paths: LabPaths, cloud: () => Promise<Cloud>): Condition[] {
  const list: Condition[] = [];
  const cloudOn = openstackEnabled(lab);
  if (cloudOn) list.push(...cloudConditions(lab, cloud));
  if (cloudOn && cephDue(lab)) list.push(cephCondition(lab, paths));
  if (lab.spec.monitoring?.prometheus) list.push(prometheusCondition(lab));
  return list;
}

/** Wait, all conditions side by side, until each holds; throw NotReady naming every one that did not. */
export async function waitReady(lab: Lab, paths: LabPaths, timeoutMs: number): Promise<string> {
  let connected: Promise<Cloud> | undefined;
  const cloud = () => {
    // One token for all probes; a failed connect is retried on the next probe.
    connected ??= Cloud.connect(lab).catch((e: unknown) => {
      connected = undefined;
      throw e;
    });
    return connected;
  };
  const list = conditions(lab, paths, cloud);
  const deadline = Date.now() + timeoutMs;
  try {
    const results = await Promise.all(list.map((c) => holds(c, deadline)));
    const missed = results.filter((r) => r !== true);
    if (missed.length) {
      throw new NotReady(`lab ${lab.name} is not ready after ${timeoutMs / 1000} s:\n  ${missed.join('\n  ')}`);
    }
    return list.map((c) => c.what).join('; ') || 'nothing to wait for';
  } finally {
    await connected?.then((c) => c.close()).catch(() => undefined);
    await closeAgents();
  }
}

async function holds(c: Condition, deadline: number): Promise<true | string> {
  let last = 'not probed';
  for (;;) {
    const r = await c.probe().catch((e: unknown) => `no answer: ${String(e instanceof Error ? e.message : e).split('\n')[0]}`);
    if (r === true) return true;
    last = r;
    if (Date.now() > deadline) return `${c.what}: ${last}`;
    await sleep(2000);
  }
}
