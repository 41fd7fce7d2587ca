/**
 * The `local` provider: the embedded lab on one Linux host. Nodes are network namespaces, networks are bridges,
 * services are Debian's packages run by Debian's supervisor. Driven by any valid lab spec.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, chmodSync, chownSync } from 'node:fs';
import { Socket } from 'node:net';
import { stripVTControlCharacters } from 'node:util';
import { dirname, join } from 'node:path';
import type { Lab } from '../../helpers/lab/model.ts';
import { checkHost, installPackages, missingPackages, PACKAGES } from './host.ts';
import { repoRoot } from '../../helpers/lab/load.ts';
import { labPaths, netnsName, type LabPaths } from './paths.ts';
import { ensureCertificates, ensureSecrets, ensureSshKeys, readSecrets, writeIfChanged } from './pki.ts';
import { loadbalancerNodes, renderKnownHosts, renderLab, renderSupervisor, type Daemon, type Health } from './render.ts';
import { openstackPackages, reapNamespaces, upOpenstack } from './bootstrap.ts';
import { cephDue, ensureFsid, fsidFile, renderCeph } from './ceph.ts';
import { upCeph } from './ceph-bootstrap.ts';
import {
  ensureOpenstackSecrets, openstackComplete, openstackEnabled, OPENSTACK_PRESEEDS, renderOpenstack, secretsFile,
} from './openstack.ts';
import { NotReady, waitReady } from './ready.ts';
import { Progress, run, sleep, tryRun, type Log } from './sh.ts';
import { LIBVIRT_SECRETS_DIR, metadataNamespaces } from './guests.ts';
import { programStatus, shutdown, startOrUpdate, supervisordPid } from './supervisor.ts';
import { applyTopology, destroyTopology, planTopology, topologyState } from './topology.ts';

export { labPaths, netnsName } from './paths.ts';

export interface Options {
  readonly log?: Log;
  /** Where state lives (default: .stackgate/ at the repository root). */
  readonly stateBase?: string;
  /** How long to wait for readiness (default READY_TIMEOUT_MS). */
  readonly readyTimeoutMs?: number;
  /** Bring the lab up without judging its spec first (an explicit override, said aloud). */
  readonly skipPreflight?: boolean;
}

function uidOf(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`system user ${user} does not exist (is its package installed?)`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Write every rendered file and directory; return the programs whose files changed. */
function writeConfig(lab: Lab, paths: LabPaths, daemons: readonly Daemon[], supervisorConf: string, knownHosts: string): string[] {
  const changed: string[] = [];
  const written = new Set<string>();
  for (const dir of [paths.run, paths.supervisor, ...lab.nodes.map((n) => `${paths.logs}/${n.name}`)]) mkdirSync(dir, { recursive: true });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  for (const d of daemons) {
    for (const dir of d.dirs) {
      mkdirSync(dir.path, { recursive: true });
      if (dir.mode !== undefined) chmodSync(dir.path, dir.mode);
      if (dir.owner) {
        const { uid, gid } = uidOf(dir.owner);
        chownSync(dir.path, uid, gid);
      }
    }
    let touched = false;
    for (const f of d.files) {
      mkdirSync(dirname(f.path), { recursive: true });
      // A file several daemons read (cinder.conf for api and scheduler) changes once and restarts each of them.
      if (writeIfChanged(f.path, f.content, f.mode)) written.add(f.path);
      if (written.has(f.path)) touched = true;
      if (f.mode !== undefined) chmodSync(f.path, f.mode);
      if (f.owner) {
        const { uid, gid } = uidOf(f.owner);
        chownSync(f.path, uid, gid);
      }
    }
    if (touched) changed.push(d.program);
  }
  writeIfChanged(paths.knownHosts, knownHosts);
  writeIfChanged(paths.supervisorConf, supervisorConf);
  return changed;
}

function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, host, () => done(true));
  });
}

async function vipHolders(lab: Lab): Promise<Map<string, string>> {
  const held = new Map<string, string>();
  for (const node of loadbalancerNodes(lab)) {
    const { out } = await tryRun('ip', ['-n', netnsName(lab, node), '-4', '-o', 'addr', 'show']);
    for (const vip of lab.vips) if (out.includes(` ${vip.address}/`)) held.set(vip.address, node.name);
  }
  return held;
}

async function healthy(lab: Lab, checks: readonly Health[], vips?: Map<string, string>): Promise<string[]> {
  const failing: string[] = [];
  const held = vips ?? (checks.some((c) => c.kind === 'vip') ? await vipHolders(lab) : new Map<string, string>());
  await Promise.all(
    checks.map(async (c) => {
      if (c.kind === 'tcp' && !(await tcpOpen(c.host, c.port))) failing.push(`${c.host}:${c.port} closed`);
      if (c.kind === 'vip' && !held.has(c.address)) failing.push(`VIP ${c.address} not held`);
    }),
  );
  return failing;
}

async function waitHealthy(lab: Lab, daemons: readonly Daemon[], timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let failing: string[] = [];
  do {
    failing = [];
    for (const d of daemons) for (const f of await healthy(lab, d.health)) failing.push(`${d.program}: ${f}`);
    if (failing.length === 0) return `${daemons.length} services healthy`;
    await sleep(250);
  } while (Date.now() < deadline);
  throw new Error(`services not healthy after ${timeoutMs / 1000} s:\n  ${failing.join('\n  ')}`);
}

function prepare(lab: Lab, options: Options) {
  if (lab.provider !== 'local') throw new Error(`lab ${lab.name} has provider ${lab.provider}, not local`);
  return labPaths(lab.name, options.stateBase);
}

/** Bring the lab up, or bring a running lab back to its spec. Idempotent. */
export async function up(lab: Lab, options: Options = {}): Promise<void> {
  const paths = prepare(lab, options);
  const p = new Progress(options.log);
  p.info(`lab ${lab.name}: up (provider local, state ${paths.root})`);
  await p.step('host is Debian/Ubuntu and we are root', async () => {
    const h = checkHost();
    return `${h.id} ${h.version}`;
  });
  if (options.skipPreflight) p.info(`  --skip-preflight: lab ${lab.name} is brought up without its design being judged first`);
  else await p.step('preflight: the spec judged before anything changes', () => preflight(lab));
  const openstack = openstackEnabled(lab);
  const packages = [...PACKAGES, ...(openstack ? openstackPackages(lab) : [])];
  const missing = await missingPackages(packages);
  p.info(expectedDuration(lab, paths, missing.length));
  // Preseeded before apt runs: the packages' maintainer scripts must not configure databases or endpoints.
  if (openstack) await run('debconf-set-selections', [], { input: `${OPENSTACK_PRESEEDS.join('\n')}\n` });
  await p.step(`packages (${packages.length} the spec needs)`, () => installPackages(packages, (s) => p.note(s)));
  mkdirSync(paths.root, { recursive: true });
  chmodSync(paths.root, 0o755);
  const secrets = await p.step('lab secrets', () => ensureSecrets(lab, paths));
  let hostKeys: Record<string, string> = {};
  await p.step('SSH keys', async () => {
    const k = await ensureSshKeys(lab, paths);
    hostKeys = k.hostKeys;
    return k.summary;
  });
  await p.step('lab CA and VIP certificates', () => ensureCertificates(lab, paths));
  const rendered = renderLab(lab, paths, secrets);
  const osSecrets = openstack ? ensureOpenstackSecrets(paths) : undefined;
  // Ceph comes with the OpenStack part once the spec's storage phase reaches Ceph's phase.
  const fsid = osSecrets && cephDue(lab) ? ensureFsid(paths) : undefined;
  const cephDaemons = fsid ? renderCeph(lab, paths, fsid) : [];
  const osDaemons = [...cephDaemons, ...(osSecrets ? renderOpenstack(lab, paths, osSecrets) : [])];
  const daemons = [...rendered.daemons, ...osDaemons];
  const manual = new Set(osDaemons.map((d) => d.program));
  const plan = planTopology(lab);
  await p.step(`topology: ${plan.namespaces.length} namespaces, ${plan.bridges.length} bridges, ${plan.veths.length} veth pairs`, () =>
    applyTopology(plan, { 'resolv.conf': rendered.resolvConf, hosts: rendered.hosts }),
  );
  let changed: string[] = [];
  await p.step('configuration', async () => {
    changed = writeConfig(lab, paths, daemons, osDaemons.length ? renderSupervisor(lab, paths, daemons) : rendered.supervisorConf, renderKnownHosts(lab, hostKeys));
    return changed.length ? `changed for ${changed.join(' ')}` : 'unchanged';
  });
  await p.step(`supervisor: ${rendered.daemons.length} services`, () => startOrUpdate(paths, changed.filter((c) => !manual.has(c)), manual));
  await p.step('services healthy', () => waitHealthy(lab, rendered.daemons, 90_000));
  // Ceph and the first half of OpenStack (databases, queues, Keystone, db syncs) need nothing of each other.
  const ceph = fsid ? upCeph(lab, paths, fsid, cephDaemons, changed, p) : Promise.resolve();
  ceph.catch(() => undefined); // awaited below; a failure meanwhile must not count as unhandled
  const osDaemonsOnly = osDaemons.filter((d) => !cephDaemons.includes(d));
  if (osSecrets) await upOpenstack(lab, paths, osSecrets, osDaemonsOnly, changed.filter((c) => manual.has(c)), p, ceph);
  await ceph;
  await p.step('ready for every check', () => waitReady(lab, paths, options.readyTimeoutMs ?? READY_TIMEOUT_MS));
  p.info(`lab ${lab.name} is up in ${p.elapsed}  (npm run lab -- status)`);
}

export class PreflightFailed extends Error {
  override name = 'PreflightFailed';
}

/**
 * The preflight layer on this spec (as the lima provider runs it): a duplicate address or a VIP in the floating
 * range stops `up` before a namespace exists. Its report goes beside the state, not over the last acceptance run's.
 */
async function preflight(lab: Lab): Promise<string> {
  const scratch = join(repoRoot, 'reports', 'tmp', `preflight-${lab.name}`);
  mkdirSync(scratch, { recursive: true });
  const env = {
    STACKGATE_LAB: lab.file, STACKGATE_REPORTS: scratch, STACKGATE_ALLURE_RESULTS: join(scratch, 'allure-results'),
    NO_COLOR: '1', FORCE_COLOR: '0',
  };
  const vitest = join(repoRoot, 'node_modules', '.bin', 'vitest');
  const r = await tryRun(vitest, ['run', '--project', 'preflight', '--reporter=dot'], { env, cwd: repoRoot, timeout: 120_000 });
  if (r.code === 0) return 'passed';
  // The assertion lines name decision, object and what was seen; Vitest's FAIL lines name the check.
  const failed = stripVTControlCharacters(r.out)
    .split('\n')
    .filter((l) => /^\s*(FAIL|AssertionError|Error)\b|Gate: FAIL/.test(l))
    .map((l) => l.trim())
    .slice(0, 30);
  throw new PreflightFailed(
    `the preflight layer fails for lab ${lab.name} (${lab.file}); nothing was changed:\n  ${failed.join('\n  ')}\n` +
      `  (report: ${scratch}; fix the spec, record a waiver, or override with --skip-preflight)`,
  );
}

/** How long `up` waits for the lab to be ready for every check once its services run. */
export const READY_TIMEOUT_MS = 300_000;

/**
 * What a newcomer should expect before the first line of work: measured on a 2-CPU machine of CI's kind
 * (reports/bench/cold.md). A state dir with a finished cloud means the lab was up before: seconds.
 */
function expectedDuration(lab: Lab, paths: LabPaths, missingPackages: number): string {
  const cloud = openstackEnabled(lab);
  const warm = cloud ? openstackComplete(paths) : existsSync(paths.supervisorConf);
  if (warm && missingPackages === 0) return '  expected: seconds (the lab was up before; only what changed is redone)';
  const install = missingPackages ? `, of which installing ${missingPackages} packages (with their dependencies) about ${cloud ? 3 : 1} min` : '';
  const total = cloud ? (missingPackages ? 'about 7 minutes' : 'about 4 minutes') : 'about a minute';
  return `  expected: first run ${total}${install}; later runs take seconds`;
}

/** Bring the lab up unless it is up; then wait until it is ready. Readiness a lab misses is for the checks to judge. */
export async function ensure(lab: Lab, options: Options = {}): Promise<void> {
  const log = options.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  try {
    if ((await status(lab, options)).up) {
      const p = new Progress(log);
      await p.step(`lab ${lab.name} is up: ready for every check`, () =>
        waitReady(lab, prepare(lab, options), options.readyTimeoutMs ?? ENSURE_READY_TIMEOUT_MS),
      );
    } else await up(lab, options);
  } catch (error) {
    if (!(error instanceof NotReady)) throw error;
    log(`${error.message}\n  the acceptance runs anyway: its checks judge what is not ready`);
  }
}

/** A lab that was up already had its time to settle: a shorter wait before the checks judge it. */
const ENSURE_READY_TIMEOUT_MS = 120_000;

/** Stop everything and remove namespaces, bridges and veths. Keys and certificates stay unless purge. */
export async function down(lab: Lab, options: Options & { purge?: boolean } = {}): Promise<void> {
  const paths = prepare(lab, options);
  const p = new Progress(options.log);
  p.info(`lab ${lab.name}: down`);
  await p.step('root', async () => void checkHost());
  await p.step('supervisor and its services', () => shutdown(paths));
  await p.step('leftover processes in the nodes', () => reapNamespaces(lab));
  await p.step("the metadata agent's namespaces", async () => {
    const names = await metadataNamespaces(lab);
    for (const name of names) await run('ip', ['netns', 'delete', name]);
    return names.length ? `removed ${names.join(', ')}` : 'none';
  });
  await p.step('libvirt secret of the lab', async () => {
    const uuid = existsSync(secretsFile(paths)) ? (JSON.parse(readFileSync(secretsFile(paths), 'utf8')) as { rbdSecretUuid?: string }).rbdSecretUuid : undefined;
    const files = uuid ? [`${uuid}.xml`, `${uuid}.base64`].map((f) => join(LIBVIRT_SECRETS_DIR, f)).filter((f) => existsSync(f)) : [];
    for (const f of files) rmSync(f, { force: true });
    return files.length ? `removed ${uuid}` : 'none';
  });
  await p.step('topology', () => destroyTopology(planTopology(lab)));
  await p.step('runtime files', async () => {
    rmSync(paths.run, { recursive: true, force: true });
    rmSync(paths.supervisorSock, { force: true });
    if (options.purge) rmSync(paths.root, { recursive: true, force: true });
    return options.purge ? `purged ${paths.root}` : 'removed (keys, certificates and data kept; --purge removes them)';
  });
  p.info(`lab ${lab.name} is down in ${p.elapsed}`);
}

export interface ServiceStatus {
  readonly node: string;
  readonly service: string;
  readonly program: string;
  readonly state: string;
  readonly pid: number | undefined;
  readonly healthy: boolean;
  readonly problems: readonly string[];
}

export interface LabStatus {
  readonly lab: string;
  readonly up: boolean;
  readonly supervisord: number | undefined;
  readonly services: readonly ServiceStatus[];
  readonly topology: Awaited<ReturnType<typeof topologyState>>;
  readonly vips: Readonly<Record<string, string | undefined>>;
}

/** Every service on every node with its state, plus the topology and who holds each VIP. */
export async function status(lab: Lab, options: Options = {}): Promise<LabStatus> {
  const paths = prepare(lab, options);
  // Status renders only to learn the daemons and their health probes: stored secrets are not needed.
  const secrets = { vrrpPass: 'unset', prometheus: { password: 'unset', bcrypt: 'unset' }, ...readSecrets(paths) };
  const rendered = renderLab(lab, paths, secrets);
  const osOn = openstackEnabled(lab) && existsSync(secretsFile(paths));
  const osDaemons = osOn ? [...(cephDue(lab) && existsSync(fsidFile(paths)) ? renderCeph(lab, paths, ensureFsid(paths)) : []), ...renderOpenstack(lab, paths, ensureOpenstackSecrets(paths))] : [];
  const programs = new Map((await programStatus(paths)).map((s) => [s.program, s]));
  const held = await vipHolders(lab);
  const services = await Promise.all(
    [...rendered.daemons, ...osDaemons].map(async (d) => {
      const s = programs.get(d.program);
      const problems = s?.state === 'RUNNING' ? await healthy(lab, d.health, held) : [s ? s.detail || s.state : 'not started'];
      return { node: d.node, service: d.service, program: d.program, state: s?.state ?? 'ABSENT', pid: s?.pid, healthy: problems.length === 0, problems };
    }),
  );
  const topology = await topologyState(planTopology(lab));
  const pid = supervisordPid(paths);
  const topoUp = [topology.namespaces, topology.bridges, topology.veths].every((m) => Object.values(m).every(Boolean));
  return {
    lab: lab.name,
    up: !!pid && topoUp && services.every((s) => s.healthy) && (!openstackEnabled(lab) || openstackComplete(paths)),
    supervisord: pid,
    services,
    topology,
    vips: Object.fromEntries(lab.vips.map((v) => [`${v.name} ${v.address}`, held.get(v.address)])),
  };
}

/** The status as a table for people. */
export function formatStatus(s: LabStatus): string {
  const lines = [`lab ${s.lab}: ${s.up ? 'UP' : 'NOT UP'}  (supervisord ${s.supervisord ? `pid ${s.supervisord}` : 'not running'})`, ''];
  const w = Math.max(...s.services.map((x) => x.service.length), 7);
  lines.push(`  ${'NODE'.padEnd(8)} ${'SERVICE'.padEnd(w)} ${'STATE'.padEnd(9)} ${'PID'.padEnd(8)} HEALTH`);
  for (const x of s.services) {
    lines.push(`  ${x.node.padEnd(8)} ${x.service.padEnd(w)} ${x.state.padEnd(9)} ${String(x.pid ?? '-').padEnd(8)} ${x.healthy ? 'ok' : `FAIL ${x.problems.join('; ')}`}`);
  }
  lines.push('', '  VIPs:');
  for (const [vip, node] of Object.entries(s.vips)) lines.push(`    ${vip.padEnd(28)} ${node ? `held by ${node}` : 'NOT HELD'}`);
  const topo = (title: string, m: Record<string, boolean>) => {
    const bad = Object.entries(m).filter(([, ok]) => !ok).map(([k]) => k);
    lines.push(`  ${title.padEnd(11)} ${Object.keys(m).length - bad.length}/${Object.keys(m).length} present${bad.length ? `; missing: ${bad.join(', ')}` : ''}`);
  };
  lines.push('', '  Topology:');
  topo('namespaces', s.topology.namespaces);
  topo('bridges', s.topology.bridges);
  topo('veths', s.topology.veths);
  return lines.join('\n');
}
