/**
 * Every live acceptance check can be made to fail: a fault drill of the embedded lab names it, or it is listed here
 * with the reason it has none (preflight checks fail on planted spec faults in suites/self/preflight.spec.ts).
 * A new check without a drill fails this test until it gets one or a reason.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadLab, repoRoot } from '../../../helpers/lab/load.ts';
import { drillCatalogue, NIGHTLY } from './index.ts';

const NO_DRILL: Record<string, string> = {
  'compute.kolla-containers': 'Kolla only: the embedded lab runs no containers (not applicable there)',
  'compute.juju-status': 'Juju only: the embedded lab is not deployed by Juju (not applicable there)',
  'compute.node-os': "the embedded nodes share the host's root file system: a drill would change this machine's os-release",
  'compute.node-resources': "the embedded nodes share the host's CPUs and memory: a drill would have to change this machine",
  'compute.server-delete': 'every fault that keeps a port bound after a delete (nova-compute cut off from Neutron) also stops the boot the check stands on',
  'mon.grafana-health': 'Grafana is not packaged in Debian 12: the embedded lab has none (not applicable there)',
  'mon.grafana-datasource': 'Grafana is not packaged in Debian 12: the embedded lab has none (not applicable there)',
  'storage.lvm-volume-group': 'the embedded lab lacks lvm here (no device-mapper): not applicable there',
  'storage.iscsi-target': 'the embedded lab lacks lvm here (no device-mapper): not applicable there',
  'storage.retype-migrate': 'needs the LVM backend beside Ceph: not applicable on the embedded lab',
  'lb.vip-not-in-pool': "Neutron allocates the VIP from the subnet the check makes itself: only a broken IPAM would put it elsewhere",
};

function checkIds(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.test.ts')) continue;
    for (const m of readFileSync(join(e.parentPath, e.name), 'utf8').matchAll(/\bcheck\(\s*'([a-z]+\.[a-z0-9-]+)'/g)) out.push(m[1]!);
  }
  return [...new Set(out)].sort();
}

const lab = loadLab('embedded');
// The drill compute-service-not-enabled-at-boot joins the catalogue once the embedded spec asks for persistence.
if (lab.spec.persistence === false) NO_DRILL['compute.restart-policy'] = 'the embedded spec says persistence: false (not applicable there)';
const live = checkIds(join(repoRoot, 'suites')).filter((id) => !id.startsWith('pre.'));
// The checks between compute nodes have their drills on the lab with two compute nodes that run guests (the embedded
// lab has one): STACKGATE_LAB=four-node runs them.
const MULTI_COMPUTE = ['compute.east-west', 'compute.live-migration'];
const fourNode = drillCatalogue(loadLab('four-node')).filter((d) => d.checks.some((c) => MULTI_COMPUTE.includes(c)));
// The load balancer's checks have their drills on the lab with Octavia (STACKGATE_LAB=embedded-lb runs them).
const withOctavia = drillCatalogue(loadLab('embedded-lb')).filter((d) => d.checks.some((c) => c.startsWith('lb.')));
// The redundancy checks (PostgreSQL replication, DNS secondaries, log delivery) have theirs on ha-infra.
const withReplicas = drillCatalogue(loadLab('ha-infra')).filter((d) => d.name.startsWith('ha-'));
const drilled = new Set([...drillCatalogue(lab), ...fourNode, ...withOctavia, ...withReplicas].flatMap((d) => d.checks));

it('finds the acceptance checks of every live layer', () => {
  expect(live.length).toBeGreaterThan(40);
  for (const layer of ['net', 'tls', 'dns', 'compute', 'storage', 'mon', 'ha', 'lb']) expect(live.some((id) => id.startsWith(`${layer}.`)), layer).toBe(true);
});

it('every live check has a fault drill or a stated reason why not', () => {
  expect(live.filter((id) => !drilled.has(id) && !NO_DRILL[id])).toEqual([]);
});

it('no check is excused that a drill covers, or that no longer exists', () => {
  expect(Object.keys(NO_DRILL).filter((id) => drilled.has(id) || !live.includes(id))).toEqual([]);
});

it('a drill sent to the nightly run leaves every check and decision it fails to a quick drill', () => {
  const catalogue = drillCatalogue(lab);
  const quick = catalogue.filter((d) => !d.slow);
  for (const name of Object.keys(NIGHTLY)) {
    const d = catalogue.find((x) => x.name === name);
    expect(d, `${name} is in NIGHTLY but not in the embedded lab's catalogue`).toBeDefined();
    expect(d!.slow, name).toBe(NIGHTLY[name]);
    const others = quick.filter((x) => x.name !== name);
    expect(d!.checks.filter((c) => !others.some((x) => x.checks.includes(c))), `${name}: checks no quick drill fails`).toEqual([]);
    expect(d!.decisions.filter((c) => !others.some((x) => x.decisions.includes(c))), `${name}: decisions`).toEqual([]);
  }
});
