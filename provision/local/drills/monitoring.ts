/**
 * Fault drills of the monitoring layer: an exporter stopped, an expected target removed from Prometheus'
 * configuration (missing, not down), the password the checks read rotated to a wrong value, Prometheus stopped.
 * Targets come from the lab spec; each inject waits until Prometheus shows the fault and each revert until it shows
 * the expected targets up again, so a check run right after sees a settled lab. Every inject and revert is
 * idempotent; a revert after a crash needs no memory of the inject (backups beside the files, supervisor state).
 */
import { existsSync, readFileSync, unlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parse, stringify } from 'yaml';
import type { Lab, LabNode, ScrapeTarget } from '../../../helpers/lab/model.ts';
import { activeTargets, prometheusOf, ready } from '../../../helpers/prometheus/client.ts';
import { closeAgents } from '../../../helpers/prometheus/http.ts';
import { compareTargets } from '../../../helpers/prometheus/targets.ts';
import { labPaths } from '../paths.ts';
import { monitoringNodes } from '../infra/roles.ts';
import { sleep } from '../sh.ts';
import { programStatus } from '../supervisor.ts';
import { supervisorctl, type Drill } from './drill.ts';


async function programState(lab: Lab, program: string): Promise<string | undefined> {
  return (await programStatus(labPaths(lab.name))).find((p) => p.program === program)?.state;
}

function promNode(lab: Lab): LabNode {
  const node = monitoringNodes(lab)[0];
  if (!node) throw new Error(`lab ${lab.name} has no monitoring node`);
  return node;
}

export const promProgram = (lab: Lab) => `${promNode(lab).name}-prometheus`;
const promConfig = (lab: Lab) => labPaths(lab.name).node(promNode(lab).name, 'prometheus', 'prometheus.yml');
const interval = (lab: Lab) => lab.spec.monitoring?.prometheus.scrapeIntervalSeconds ?? 60;

/** The node-exporter target of a node that is not the Prometheus node (the last such node when `last`). */
function nodeTarget(lab: Lab, last: boolean): ScrapeTarget & { node: string } {
  const candidates = lab.expectedTargets.filter(
    (t): t is ScrapeTarget & { node: string } => t.job === 'node' && !t.notExpected && !!t.node && t.node !== promNode(lab).name,
  );
  const t = last ? candidates.at(-1) : candidates[0];
  if (!t) throw new Error(`lab ${lab.name}: no node-exporter target outside the Prometheus node`);
  return t;
}

type View = { ready: number | string; targets: ReturnType<typeof compareTargets> | undefined; raw: { job?: string; instance?: string; health: string }[] };

/** What Prometheus shows now, without throwing. */
async function look(lab: Lab): Promise<View> {
  const prom = prometheusOf(lab);
  try {
    const r = await ready(prom, lab, { timeoutMs: 3000 });
    if (r.status !== 200) return { ready: r.status, targets: undefined, raw: [] };
    const active = await activeTargets(prom, lab, { timeoutMs: 3000 });
    return { ready: 200, targets: compareTargets(lab.expectedTargets, active), raw: active.map((a) => ({ ...a.labels, health: a.health })) };
  } catch (error) {
    return { ready: (error as Error).message, targets: undefined, raw: [] };
  }
}

/** Wait until Prometheus shows `want` (at most `intervals` scrape intervals plus 10 s). */
async function until(lab: Lab, what: string, want: (v: View) => boolean, intervals = 3): Promise<void> {
  const deadline = Date.now() + intervals * interval(lab) * 1000 + 10_000;
  let v: View;
  try {
    for (;;) {
      v = await look(lab);
      if (want(v)) return;
      if (Date.now() > deadline) break;
      await sleep(500);
    }
  } finally {
    await closeAgents();
  }
  throw new Error(`Prometheus does not show ${what} in time: ready ${v.ready}, targets ${JSON.stringify(v.raw)}`);
}

const healthOf = (v: View, t: ScrapeTarget) => v.raw.find((a) => a.job === t.job && a.instance === t.instance)?.health;
/** Wait until Prometheus shows every target the spec expects active and up (after a drill that took one down). */
export const targetsUp = (lab: Lab) => until(lab, 'every expected target up', allUp);

/** Every target the spec expects now is active and up. */
const allUp = (v: View) => !!v.targets && v.targets.missing.length === 0 && v.targets.present.every((p) => p.active.health === 'up');

/** Prometheus re-reads its configuration on SIGHUP (the supervised pid is Prometheus itself: every wrapper execs). */
const reload = (lab: Lab) => supervisorctl(lab, 'signal', 'HUP', promProgram(lab));

const backupOf = (file: string, drill: string) => `${file}.drill-${drill}`;

const exporterStopped: Drill = {
  name: 'mon-exporter-stopped',
  description: "the node exporter of the first node that is not the Prometheus node is stopped: its target is down",
  decisions: ['MON-01'],
  checks: ['mon.targets-up'],
  object: 'job node instance 192.168.105.102:9100',
  async inject(lab) {
    const t = nodeTarget(lab, false);
    await supervisorctl(lab, 'stop', `${t.node}-node-exporter`);
    await until(lab, `${t.job} ${t.instance} down`, (v) => healthOf(v, t) === 'down');
  },
  async revert(lab) {
    const t = nodeTarget(lab, false);
    const program = `${t.node}-node-exporter`;
    if ((await programState(lab, program)) !== 'RUNNING') await supervisorctl(lab, 'start', program);
    await until(lab, 'every expected target up', allUp);
  },
};

const targetRemoved: Drill = {
  name: 'mon-target-removed',
  description: "an expected scrape target (the last node's node exporter) is removed from Prometheus' configuration and Prometheus reloads",
  decisions: ['MON-01'],
  checks: ['mon.targets-present'],
  object: 'job node instance 192.168.105.103:9100',
  async inject(lab) {
    const t = nodeTarget(lab, true);
    const file = promConfig(lab);
    const backup = backupOf(file, this.name);
    if (!existsSync(backup)) copyFileSync(file, backup);
    const good = readFileSync(backup, 'utf8');
    const entry = `'${t.instance}'`;
    const faulty = good.replace(new RegExp(`(, )?${entry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(, )?`), (_m, before?: string, after?: string) => (before && after ? ', ' : ''));
    if (faulty === good) throw new Error(`drill ${this.name}: ${file} lists no target ${entry}`);
    writeFileSync(file, faulty);
    await reload(lab);
    await until(lab, `${t.job} ${t.instance} gone from the active targets`, (v) => !!v.targets && v.targets.missing.some((m) => m.instance === t.instance && m.job === t.job));
  },
  async revert(lab) {
    const file = promConfig(lab);
    const backup = backupOf(file, this.name);
    if (!existsSync(backup)) return;
    writeFileSync(file, readFileSync(backup));
    await reload(lab);
    await until(lab, 'every expected target up', allUp);
    unlinkSync(backup); // last: a crash before this leaves the backup for the next revert
  },
};

const passwordWrong: Drill = {
  name: 'mon-password-wrong',
  description: "the Prometheus password the checks read (credentials.secretsFile, monitoring.prometheus.passwordKey) is rotated to a wrong value",
  decisions: ['MON-01'],
  checks: ['mon.prometheus-up'],
  // They cannot read the targets without the password: blocked by mon.prometheus-up, which names the cause.
  blocked: ['mon.targets-present', 'mon.targets-up'],
  object: 'internal.openstack.local:9091',
  async inject(lab) {
    const named = lab.spec.credentials?.secretsFile;
    const key = lab.spec.monitoring?.prometheus.passwordKey;
    if (!named || !key) throw new Error(`drill ${this.name}: lab ${lab.name} names no credentials.secretsFile and monitoring.prometheus.passwordKey`);
    const file = lab.path(named);
    const backup = backupOf(file, this.name);
    if (!existsSync(backup)) copyFileSync(file, backup);
    const map = parse(readFileSync(backup, 'utf8')) as Record<string, unknown>;
    if (!(key in map)) throw new Error(`drill ${this.name}: ${file} has no key ${key}`);
    writeFileSync(file, stringify({ ...map, [key]: `wrong-${randomBytes(9).toString('base64url')}` }), { mode: 0o600 });
  },
  async revert(lab) {
    const named = lab.spec.credentials?.secretsFile;
    if (!named) return;
    const file = lab.path(named);
    const backup = backupOf(file, this.name);
    if (!existsSync(backup)) return;
    writeFileSync(file, readFileSync(backup), { mode: 0o600 });
    unlinkSync(backup);
  },
};

const prometheusStopped: Drill = {
  name: 'mon-prometheus-stopped',
  description: 'Prometheus is stopped: its VIP frontend has no server left',
  decisions: ['MON-01'],
  checks: ['mon.prometheus-up'],
  blocked: ['mon.targets-present', 'mon.targets-up'],
  object: 'internal.openstack.local:9091',
  async inject(lab) {
    await supervisorctl(lab, 'stop', promProgram(lab));
    const state = await programState(lab, promProgram(lab));
    if (state !== 'STOPPED') throw new Error(`${promProgram(lab)} is ${state ?? 'unknown'} after stop`);
    // HAProxy marks the backend down after its failed checks (fall 5 × inter 2 s).
    await until(lab, 'no answer from Prometheus', (v) => v.ready !== 200, 1);
  },
  async revert(lab) {
    if ((await programState(lab, promProgram(lab))) !== 'RUNNING') await supervisorctl(lab, 'start', promProgram(lab));
    await until(lab, 'every expected target up', allUp);
  },
};

export const monitoringDrills: Drill[] = [exporterStopped, targetRemoved, passwordWrong, prometheusStopped];
