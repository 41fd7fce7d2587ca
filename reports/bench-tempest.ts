// `npm run bench [-- --runs N] [--only tempest|stackgate] [--prepare] [--drills a,b]`: Tempest's smoke set (Debian's
// `tempest`)
// and stackgate's full acceptance (`npm test`) against the running embedded lab, alternately, N runs each (default
// 3): wall time, tests run/passed/failed/skipped, decisions of the lab covered, cloud resources left behind.
// Medians, min/max and the stackgate/Tempest ratio into reports/bench/tempest-vs-stackgate.{md,json}.
// A benchmark, not a test. Needs root (apt, `ip netns exec`). `--prepare` configures Tempest, lists its smoke set
// and stops; `--only` measures one side (the report is written only when both sides ran). `--drills` then injects
// each named drill of the lab in turn (provision/local/drills), runs both once against the drilled lab, reverts it and
// waits for the lab to be ready again: the agreement table (healthy: both green; drilled: both red). Under a drill
// stackgate runs as `npm test` without its `lab ensure` step, which would only wait for the drilled service.
//
// Tempest is configured from the lab spec and the running cloud at run time: the admin credentials come from the
// lab's clouds.yaml (written only into the git-ignored workspace .stackgate/<lab>/tempest/, mode 0600), TLS is
// verified against the lab CA (ca_certificates_file; disable_ssl_certificate_validation stays false), the image is
// the guest image `lab up` uploads, the flavors are two small ones this script creates (and removes at the end),
// the external network is the spec's. Tempest runs inside the control node's namespace, whose resolver is the
// lab's BIND (the catalog's names resolve only there). Every measured run holds /tmp/stackgate-fault.lock so no
// fault drill is injected mid-run.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { loadLab, repoRoot } from '../helpers/lab/load.ts';
import { ApiError, Cloud } from '../helpers/openstack/cloud.ts';
import { loadCredentials } from '../helpers/openstack/credentials.ts';
import type { CheckResult, Verdict } from '../helpers/gate/verdict.ts';
import { findDrill } from '../provision/local/drills/index.ts';
import { ensure, labPaths, netnsName } from '../provision/local/index.ts';
import { layout } from '../provision/local/openstack/common.ts';
import { median } from './bench-out.ts';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const runs = Number(arg('runs') ?? 3);
const only = arg('only');
const prepareOnly = process.argv.includes('--prepare');
const drillNames = arg('drills')?.split(',').filter(Boolean) ?? [];
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs wants a whole number ≥ 1, got ${arg('runs')}`);
if (only && only !== 'tempest' && only !== 'stackgate') throw new Error(`--only wants tempest or stackgate, got ${only}`);

const lab = loadLab(process.env.STACKGATE_LAB || 'embedded');
if (lab.provider !== 'local') throw new Error(`lab ${lab.name} has provider ${lab.provider}: the Tempest benchmark runs Tempest inside the embedded lab's control node`);
if (process.getuid?.() !== 0) throw new Error('the Tempest benchmark needs root (apt-get, ip netns exec)');
const paths = labPaths(lab.name);
const ns = netnsName(lab, layout(lab).control);
const workspace = join(paths.root, 'tempest');
const scratchRoot = join(repoRoot, 'reports/tmp/bench-tempest');
const LOCK = '/tmp/stackgate-fault.lock';
const CONCURRENCY = Math.max(1, Math.min(2, cpus().length)); // Tempest's workers; this host has 2 cores
const SMOKE = ['--smoke'];
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const log = (s: string) => process.stdout.write(`${s}\n`);

// ---------------------------------------------------------------------------------------------------------------
// Tempest: package, workspace, configuration

/** Debian's packages Tempest needs here: tempest itself and the subunit tools its result is read with. */
const APT = ['tempest', 'python3-stestr', 'subunit'];

async function ensureTempest(): Promise<string> {
  const missing: string[] = [];
  for (const p of APT) {
    const q = await execa('dpkg-query', ['-W', '-f', '${Status}', p], { reject: false });
    if (!String(q.stdout).includes('install ok installed')) missing.push(p);
  }
  if (missing.length) {
    log(`installing ${missing.join(' ')} from Debian's archive`);
    await execa('apt-get', ['update'], { stdio: 'inherit' });
    await execa('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env: { DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const v = await execa('dpkg-query', ['-W', '-f', '${Version}', 'tempest']);
  return v.stdout;
}

interface Prepared {
  readonly tempestVersion: string;
  readonly imageId: string;
  readonly flavors: string[];
  readonly excluded: { readonly regex: string; readonly why: string }[];
  readonly validation: boolean;
}

const FLAVORS = [
  { name: 'stackgate-bench-tempest', ram: 128 },
  { name: 'stackgate-bench-tempest-alt', ram: 192 },
];

async function ensureFlavors(cloud: Cloud): Promise<string[]> {
  const have = (await cloud.get<{ flavors: { id: string; name: string }[] }>('compute', '/flavors?is_public=None')).body.flavors;
  const ids: string[] = [];
  for (const f of FLAVORS) {
    const found = have.find((x) => x.name === f.name);
    if (found) {
      ids.push(found.id);
      continue;
    }
    const made = await cloud.post<{ flavor: { id: string } }>('compute', '/flavors', { flavor: { name: f.name, ram: f.ram, vcpus: 1, disk: 1 } });
    ids.push(made.body.flavor.id);
  }
  return ids;
}

async function removeFlavors(cloud: Cloud): Promise<void> {
  const have = (await cloud.get<{ flavors: { id: string; name: string }[] }>('compute', '/flavors?is_public=None')).body.flavors;
  for (const f of have.filter((x) => FLAVORS.some((y) => y.name === x.name))) await cloud.delete('compute', `/flavors/${f.id}`, { ok: [202, 204, 404] });
}

const iniText = (sections: Record<string, Record<string, string | number | boolean>>) =>
  Object.entries(sections)
    .map(([s, kv]) => `[${s}]\n${Object.entries(kv).map(([k, v]) => `${k} = ${String(v)}`).join('\n')}\n`)
    .join('\n');

/**
 * Debian's Keystone 2:22.0.2-0+deb12u5 (CVE-2026-90460) accepts only `blob` in PATCH /v3/credentials/{id}; Tempest
 * 33's test_credentials_create_get_update_delete also sends project_id and type and gets 400. Asked of the lab itself
 * (a throwaway credential of the admin user), so a Keystone without the patch keeps the test.
 */
async function credentialPatch(cloud: Cloud): Promise<{ blobOnly: boolean; why: string }> {
  const blob = JSON.stringify({ access: `sg-bench-${Date.now()}`, secret: 'not-a-secret' });
  const made = await cloud.post<{ credential: { id: string } }>('identity', '/v3/credentials', {
    credential: { type: 'ec2', user_id: cloud.userId, project_id: cloud.projectId, blob },
  });
  const id = made.body.credential.id;
  try {
    const r = await cloud.request<{ error?: { message?: string } }>('identity', 'PATCH', `/v3/credentials/${id}`, {
      body: { credential: { blob, type: 'ec2', project_id: cloud.projectId } },
      ok: [200, 400],
    });
    const said = (r.body.error?.message ?? '').split('\n')[0];
    return r.status === 400
      ? { blobOnly: true, why: `the lab's Keystone accepts only blob in PATCH /v3/credentials (answered 400: ${said}); ` +
          'Tempest 33 also sends project_id and type' }
      : { blobOnly: false, why: '' };
  } finally {
    await cloud.delete('identity', `/v3/credentials/${id}`, { ok: [204, 404] });
  }
}

async function prepareTempest(cloud: Cloud): Promise<Prepared> {
  const tempestVersion = await ensureTempest();
  const cred = loadCredentials(lab);
  if (!cred.cacert) throw new Error(`${cred.source} names no CA bundle: Tempest would have to trust the lab's endpoints without one`);

  const guest = lab.spec.compute?.guestImage?.name;
  if (!guest) throw new Error(`lab ${lab.name} names no guest image (compute.guestImage): Tempest needs an image to boot`);
  const images = (await cloud.get<{ images: { id: string; name: string; status: string; disk_format: string }[] }>('image', `/v2/images?name=${encodeURIComponent(guest)}`)).body.images;
  const image = images.find((i) => i.status === 'active');
  if (!image) throw new Error(`no active image ${guest} in the lab (lab up uploads it)`);
  const flavors = await ensureFlavors(cloud);
  const extName = lab.spec.neutron?.externalNetwork?.name ?? 'public';
  const ext = (await cloud.get<{ networks: { id: string }[] }>('network', `/v2.0/networks?name=${encodeURIComponent(extName)}&router:external=true`)).body.networks[0];
  if (!ext) throw new Error(`no external network ${extName} in the lab`);
  const has = (type: string) => cloud.catalog.some((s) => s.type === type);
  // What the lab's Neutron lists, as DevStack tells Tempest: 'all' makes test_list_show_extensions expect the agent
  // schedulers, metering and dvr, which ML2/OVN does not have (a configuration gap, not a defect of the lab).
  const extensions = (await cloud.get<{ extensions: { alias: string }[] }>('network', '/v2.0/extensions')).body.extensions;

  // What the lab lacks, as Tempest sees it: a test of a capability the spec declares missing is excluded with the
  // spec's reason (stackgate skips the same checks with that reason); everything else runs and counts.
  const validation = !lab.lacks('guest-dataplane');
  const excluded: Prepared['excluded'] = [];
  if (lab.lacks('volume-attach')) {
    excluded.push({ regex: '(VolumesActionsTest\\.test_attach|ServersTestBootFromVolume|volume_boot_pattern|minimum_basic|stamp_pattern)', why: `lacks volume-attach: ${lab.lacks('volume-attach')}` });
  }
  const patch = await credentialPatch(cloud);
  if (patch.blobOnly) {
    excluded.push({ regex: 'CredentialsTestJSON\\.test_credentials_create_get_update_delete', why: patch.why });
  }
  const guestImage = join(paths.root, 'guest', `${guest}.raw`);
  const conf = {
    DEFAULT: { log_dir: join(workspace, 'logs'), log_file: 'tempest.log', use_stderr: false },
    auth: {
      admin_username: cred.username,
      admin_password: cred.password,
      admin_project_name: cred.projectName,
      admin_domain_name: cred.userDomainName,
      use_dynamic_credentials: true,
      create_isolated_networks: true,
    },
    identity: {
      uri_v3: `${cred.authUrl.replace(/\/+$/, '').replace(/\/v3$/, '')}/v3`,
      auth_version: 'v3',
      region: cred.regionName ?? lab.region ?? 'RegionOne',
      v3_endpoint_type: cred.interface,
      ca_certificates_file: cred.cacert,
      disable_ssl_certificate_validation: false,
    },
    'identity-feature-enabled': { api_v2: false },
    service_available: { nova: has('compute'), neutron: has('network'), glance: has('image'), cinder: has('volumev3'), swift: false, horizon: false },
    compute: {
      image_ref: image.id,
      image_ref_alt: image.id,
      flavor_ref: flavors[0]!,
      flavor_ref_alt: flavors[1]!,
      endpoint_type: cred.interface,
      build_timeout: lab.spec.compute?.buildTimeoutSeconds ?? 300,
      min_compute_nodes: lab.nodesWithRole('compute').length,
    },
    'compute-feature-enabled': {
      // One compute node: nothing to migrate to or resize onto.
      resize: false,
      cold_migration: false,
      live_migration: false,
      vnc_console: false,
      spice_console: false,
      serial_console: false,
      console_output: true,
      attach_encrypted_volume: false,
      // Rescue and snapshot of a TCG guest work but take minutes; the smoke set does not contain them.
    },
    image: { endpoint_type: cred.interface },
    'image-feature-enabled': { api_v1: false, api_v2: true },
    network: {
      public_network_id: ext.id,
      floating_network_name: extName,
      endpoint_type: cred.interface,
      project_network_cidr: lab.spec.neutron?.tenantPool ?? '10.100.0.0/16',
      project_network_mask_bits: 28,
    },
    'network-feature-enabled': { api_extensions: extensions.map((e) => e.alias).sort().join(',') },
    validation: {
      run_validation: validation,
      connect_method: 'floating',
      auth_method: 'keypair',
      image_ssh_user: lab.spec.compute?.guestImage?.sshUser ?? 'root',
      ip_version_for_ssh: 4,
      ssh_timeout: lab.spec.compute?.buildTimeoutSeconds ?? 300,
      ping_timeout: 120,
    },
    scenario: { img_file: guestImage, img_disk_format: 'raw', img_container_format: 'bare' },
    volume: { endpoint_type: cred.interface, volume_size: 1, storage_protocol: 'ceph', catalog_type: 'volumev3' },
    'volume-feature-enabled': { backup: Boolean(lab.spec.storage?.cinder?.backup), snapshot: true, api_v3: true },
    'service-clients': { http_timeout: 120 },
    oslo_concurrency: { lock_path: join(workspace, 'lock') },
  };

  if (!existsSync(join(workspace, '.stestr.conf'))) {
    mkdirSync(paths.root, { recursive: true });
    // Tempest keeps one registry of workspace names per user (~/.tempest/workspace.yaml): a name of its own per
    // checkout, or a second checkout's init is refused ("A workspace already exists with name: tempest").
    const name = `stackgate-${lab.name}-${createHash('sha256').update(workspace).digest('hex').slice(0, 8)}`;
    // The name may be registered still for a workspace `lab down --purge` removed with the lab's state: forget it.
    await execa('tempest', ['workspace', 'remove', '--name', name], { env: { PATH }, extendEnv: false, reject: false });
    await execa('tempest', ['init', '--name', name, workspace], { env: { PATH }, extendEnv: false, cwd: paths.root });
  }
  mkdirSync(join(workspace, 'etc'), { recursive: true });
  const file = join(workspace, 'etc', 'tempest.conf');
  writeFileSync(file, `# Generated by reports/bench-tempest.ts for lab ${lab.name}; holds the admin password: never commit.\n${iniText(conf)}`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { tempestVersion, imageId: image.id, flavors, excluded, validation };
}

const tempestArgs = (p: Prepared) => ['run', ...SMOKE, '--concurrency', String(CONCURRENCY), ...(p.excluded.length ? ['--exclude-regex', p.excluded.map((e) => e.regex).join('|')] : [])];

// ---------------------------------------------------------------------------------------------------------------
// Cloud resources: everything of the listed kinds, as admin, across all projects

const KINDS: Record<string, { type: string; path: string; key: string; name?: (x: Record<string, unknown>) => string }> = {
  servers: { type: 'compute', path: '/servers?all_tenants=1', key: 'servers' },
  networks: { type: 'network', path: '/v2.0/networks', key: 'networks' },
  subnets: { type: 'network', path: '/v2.0/subnets', key: 'subnets' },
  routers: { type: 'network', path: '/v2.0/routers', key: 'routers' },
  ports: { type: 'network', path: '/v2.0/ports', key: 'ports', name: (x) => String(x.name || `${String(x.device_owner)} ${String(x.device_id)}`) },
  'floating IPs': { type: 'network', path: '/v2.0/floatingips', key: 'floatingips', name: (x) => String(x.description || x.floating_ip_address) },
  'security groups': { type: 'network', path: '/v2.0/security-groups', key: 'security_groups' },
  keypairs: { type: 'compute', path: '/os-keypairs', key: 'keypairs' },
  images: { type: 'image', path: '/v2/images?limit=1000', key: 'images' },
  volumes: { type: 'volumev3', path: '/volumes?all_tenants=1', key: 'volumes' },
  'volume snapshots': { type: 'volumev3', path: '/snapshots?all_tenants=1', key: 'snapshots' },
  'volume backups': { type: 'volumev3', path: '/backups?all_tenants=1', key: 'backups' },
  flavors: { type: 'compute', path: '/flavors?is_public=None', key: 'flavors' },
  projects: { type: 'identity', path: '/v3/projects', key: 'projects' },
  users: { type: 'identity', path: '/v3/users', key: 'users' },
};

type Snapshot = Record<string, Map<string, string>>;

async function snapshot(cloud: Cloud): Promise<Snapshot> {
  const out: Snapshot = {};
  for (const [kind, k] of Object.entries(KINDS)) {
    const m = new Map<string, string>();
    if (cloud.catalog.some((s) => s.type === k.type)) {
      let items: Record<string, unknown>[] = [];
      try {
        // Keystone's catalog URL carries no /v3; the others' do.
        const r = await cloud.get<Record<string, Record<string, unknown>[]>>(k.type, k.type === 'identity' ? k.path.replace(/^\/v3/, cloud.endpoint('identity').endsWith('/v3') ? '' : '/v3') : k.path);
        items = r.body[k.key] ?? [];
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        m.set(`error:${kind}`, error.message);
      }
      for (const raw of items) {
        const x = (kind === 'keypairs' ? (raw.keypair as Record<string, unknown>) : raw) ?? {};
        const id = String(x.id ?? x.name);
        m.set(id, k.name ? k.name(x) : String(x.name ?? id));
      }
    }
    out[kind] = m;
  }
  return out;
}

interface Leftovers {
  readonly count: number;
  readonly byKind: Record<string, number>;
  readonly names: string[];
}

function leftovers(before: Snapshot, after: Snapshot): Leftovers {
  const byKind: Record<string, number> = {};
  const names: string[] = [];
  for (const [kind, m] of Object.entries(after)) {
    const fresh = [...m].filter(([id]) => !id.startsWith('error:') && !before[kind]?.has(id));
    if (fresh.length) byKind[kind] = fresh.length;
    names.push(...fresh.map(([id, name]) => `${kind}: ${name} (${id})`));
  }
  return { count: names.length, byKind, names };
}

// ---------------------------------------------------------------------------------------------------------------
// Runs

interface Sample {
  readonly tool: 'tempest' | 'stackgate';
  readonly run: number | string;
  /** The drill in place during the run (the agreement runs); none for the measured healthy runs. */
  readonly drill?: string;
  readonly wallS: number;
  readonly exitCode: number;
  readonly tests: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly decisionsCovered: number;
  readonly decisionsTotal: number;
  readonly coveredIds: string[];
  readonly leftovers: Leftovers;
  readonly failures: string[];
  /** stackgate: summed check durations per layer (ms). */
  readonly layerMs?: Record<string, number>;
  readonly slowest?: { check: string; ms: number }[];
}

/** Run a command holding the fault lock; the wall time starts once the lock is held (written by the child). */
async function locked(cmd: string[], opts: { cwd: string; env: Record<string, string>; extendEnv: boolean; logFile: string }): Promise<{ wallS: number; exitCode: number }> {
  const stamp = join(scratchRoot, '.lock-acquired');
  rmSync(stamp, { force: true });
  const child = await execa('flock', [LOCK, 'sh', '-c', 'date +%s%N > "$0"; exec "$@"', stamp, ...cmd], {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: opts.extendEnv,
    reject: false,
    all: true,
  });
  const endNs = BigInt(Date.now()) * 1_000_000n;
  const startNs = existsSync(stamp) ? BigInt(readFileSync(stamp, 'utf8').trim()) : endNs;
  writeFileSync(opts.logFile, child.all ?? '');
  return { wallS: Number(endNs - startNs) / 1e9, exitCode: child.exitCode ?? -1 };
}

/** Tempest tests that obviously prove a decision of the primary design (every such test must have passed). */
const TEMPEST_PROVES: { decision: string; tests: RegExp[]; why: string }[] = [
  { decision: 'CMP-01', tests: [/^tempest\.api\.identity\./, /^tempest\.api\.compute\./, /^tempest\.api\.network\./, /^tempest\.api\.image\./], why: 'tokens Keystone issued were accepted by Nova, Neutron and Glance (a passed API test of each)' },
  { decision: 'CMP-03', tests: [/test_register_upload_get_image_file/], why: 'an image was uploaded and its file read back' },
  { decision: 'CMP-04', tests: [/tempest\.scenario\.test_network_basic_ops\./], why: 'a server booted and was reached over SSH on a floating IP' },
];

async function tempestRun(i: number | string, p: Prepared, cloud: Cloud): Promise<Sample> {
  const before = await snapshot(cloud);
  const logFile = join(scratchRoot, `tempest-${i}.log`);
  const { wallS, exitCode } = await locked(['ip', 'netns', 'exec', ns, 'tempest', ...tempestArgs(p)], { cwd: workspace, env: { PATH, HOME: process.env.HOME ?? '/root' }, extendEnv: false, logFile });
  const after = await snapshot(cloud);
  const csv = await execa('sh', ['-c', 'stestr last --subunit | subunit2csv --no-passthrough'], { cwd: workspace, reject: false, env: { PATH }, extendEnv: false });
  const rows = String(csv.stdout)
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => {
      // test,status,start,stop; a test ID with commas ([id-…,smoke]) is quoted
      const m = /^(?:"((?:[^"]|"")*)"|([^,]*)),([^,]*),/.exec(l);
      return { test: (m?.[1] ?? m?.[2] ?? '').replace(/""/g, '"'), status: m?.[3] ?? '' };
    });
  const passed = rows.filter((r) => r.status === 'success' || r.status === 'xfail');
  const failed = rows.filter((r) => !['success', 'xfail', 'skip', 'exists'].includes(r.status));
  const skipped = rows.filter((r) => r.status === 'skip');
  const coveredIds = TEMPEST_PROVES.filter((d) => d.tests.every((re) => passed.some((r) => re.test(r.test)))).map((d) => d.decision);
  return {
    tool: 'tempest',
    run: i,
    wallS,
    exitCode,
    tests: rows.length,
    passed: passed.length,
    failed: failed.length,
    skipped: skipped.length,
    decisionsCovered: coveredIds.length,
    decisionsTotal: decisionCount(),
    coveredIds,
    leftovers: leftovers(before, after),
    failures: failed.map((r) => r.test.replace(/\[.*$/, '')),
  };
}

let decisionsTotal = 0;
const decisionCount = () => decisionsTotal;

async function stackgateRun(i: number | string, cloud: Cloud, ensureFirst = true): Promise<Sample> {
  const scratch = join(scratchRoot, `stackgate-${i}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const before = await snapshot(cloud);
  const { wallS, exitCode } = await locked(ensureFirst ? ['npm', 'test'] : ['npm', 'test', '--', '--no-ensure'], {
    cwd: repoRoot,
    env: { STACKGATE_LAB: lab.file, STACKGATE_REPORTS: scratch, STACKGATE_ALLURE_RESULTS: join(scratch, 'allure-results'), FORCE_COLOR: '0', STACKGATE_RUN: '', STACKGATE_RUN_PID: '' },
    extendEnv: true,
    logFile: join(scratch, 'npm-test.log'),
  });
  const after = await snapshot(cloud);
  let v: (Verdict & { results: CheckResult[] }) | undefined;
  try {
    v = JSON.parse(readFileSync(join(scratch, 'decisions.json'), 'utf8')) as Verdict & { results: CheckResult[] };
  } catch {
    v = undefined;
  }
  const results = v?.results ?? [];
  const layerMs: Record<string, number> = {};
  for (const r of results) {
    const layer = r.file.split('/')[1] ?? r.file;
    layerMs[layer] = (layerMs[layer] ?? 0) + (r.durationMs ?? 0);
  }
  const covered = (v?.matrix ?? []).filter((d) => d.status === 'passed').map((d) => d.decision);
  if (v) decisionsTotal = v.matrix.length;
  return {
    tool: 'stackgate',
    run: i,
    wallS,
    exitCode,
    tests: results.length,
    passed: results.filter((r) => r.status === 'passed').length,
    failed: results.filter((r) => r.status === 'failed').length,
    skipped: results.filter((r) => r.status === 'skipped').length,
    decisionsCovered: covered.length,
    decisionsTotal: v?.matrix.length ?? 0,
    coveredIds: covered,
    leftovers: leftovers(before, after),
    failures: v ? results.filter((r) => r.status === 'failed').map((r) => `${r.checkId ?? r.name}: ${(r.message ?? '').split('\n')[0]!.slice(0, 200)}`) : [`no decisions.json (exit ${exitCode}; see ${relative(repoRoot, join(scratch, 'npm-test.log'))})`],
    layerMs,
    slowest: results
      .map((r) => ({ check: r.checkId ?? r.name, ms: Math.round(r.durationMs ?? 0) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 8),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Report

async function machine() {
  const cpu = cpus();
  const os = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? 'Linux';
  return { cpu: cpu[0]?.model.trim() ?? 'unknown', cores: cpu.length, ramGiB: Math.round(totalmem() / 2 ** 30), node: process.version, os, date: new Date().toISOString() };
}

function summarise(samples: Sample[]) {
  const stat = (f: (s: Sample) => number) => {
    const xs = samples.map(f);
    return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
  };
  return {
    wallS: stat((s) => s.wallS),
    tests: stat((s) => s.tests),
    passed: stat((s) => s.passed),
    failed: stat((s) => s.failed),
    skipped: stat((s) => s.skipped),
    decisionsCovered: stat((s) => s.decisionsCovered),
    leftovers: stat((s) => s.leftovers.count),
  };
}

/** Healthy: both green; under each drill: both red, and which of the checks the drill names stackgate failed. */
function agreement(samples: readonly Sample[], drills: readonly { name: string; checks: readonly string[] }[]): string[] {
  const red = (s: Sample | undefined) => (s === undefined ? '—' : s.failed > 0 || s.exitCode !== 0 ? 'red' : 'green');
  const healthy = (tool: Sample['tool']) => {
    const xs = samples.filter((s) => s.tool === tool && !s.drill);
    return xs.length ? (xs.every((s) => red(s) === 'green') ? 'green' : 'red') : '—';
  };
  const rows = drills.map((d) => {
    const t = samples.find((s) => s.tool === 'tempest' && s.drill === d.name);
    const g = samples.find((s) => s.tool === 'stackgate' && s.drill === d.name);
    const caught = d.checks.filter((c) => g?.failures.some((f) => f.startsWith(`${c}:`)));
    const agree = red(t) === 'red' && red(g) === 'red' ? 'yes' : 'NO';
    return `| ${d.name} | red | ${red(t)} (${t?.failed ?? '—'} failed) | ${red(g)} (${g?.failed ?? '—'} failed; ` +
      `named checks failed: ${caught.join(', ') || 'none'} of ${d.checks.join(', ')}) | ${agree} |`;
  });
  const [th, gh] = [healthy('tempest'), healthy('stackgate')];
  return [
    '## Agreement',
    '',
    'Healthy: every measured run above. Drilled: one run of each against the lab with the drill in place (the same',
    'drills the self-tests inject), then reverted and the lab ready again before the next.',
    '',
    '| lab | expected | Tempest smoke | stackgate | agree |',
    '|---|---|---|---|---|',
    `| healthy | green | ${th} | ${gh} | ${th === 'green' && gh === 'green' ? 'yes' : 'NO'} |`,
    ...rows,
    '',
  ];
}

const fmt = (x: { median: number; min: number; max: number }, digits = 0) => `${x.median.toFixed(digits)} (${x.min.toFixed(digits)}–${x.max.toFixed(digits)})`;

async function main() {
  mkdirSync(scratchRoot, { recursive: true });
  const drills = drillNames.map((n) => findDrill(lab, n)); // an unknown name stops here, before anything runs
  const cloud = await Cloud.connect(lab);
  const samples: Sample[] = [];
  let prepared: Prepared | undefined;
  try {
    if (only !== 'stackgate') {
      prepared = await prepareTempest(cloud);
      log(`tempest ${prepared.tempestVersion}: workspace ${relative(repoRoot, workspace)}, image ${prepared.imageId}, flavors ${prepared.flavors.join(', ')}, validation ${prepared.validation ? 'on' : 'off'}`);
      for (const e of prepared.excluded) log(`  excluded /${e.regex}/: ${e.why}`);
      if (prepareOnly) {
        const l = await execa('ip', ['netns', 'exec', ns, 'tempest', ...tempestArgs(prepared), '--list-tests'], { cwd: workspace, env: { PATH, HOME: process.env.HOME ?? '/root' }, extendEnv: false, reject: false, all: true });
        log(l.all ?? '');
        return;
      }
    }
    for (let i = 1; i <= runs; i++) {
      for (const tool of ['tempest', 'stackgate'] as const) {
        if (only && only !== tool) continue;
        const s = tool === 'tempest' ? await tempestRun(i, prepared!, cloud) : await stackgateRun(i, cloud);
        samples.push(s);
        writeFileSync(join(scratchRoot, 'samples.json'), `${JSON.stringify(samples, null, 2)}\n`); // survives an interrupted benchmark
        log(`${tool} run ${i}/${runs}: ${s.wallS.toFixed(1)} s, exit ${s.exitCode}, ${s.tests} tests: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped; ${s.decisionsCovered} decisions covered; ${s.leftovers.count} resources left behind`);
        for (const f of s.failures.slice(0, 10)) log(`    failed: ${f}`);
      }
    }
    for (const drill of drills) {
      log(`drill ${drill.name}: ${drill.description}`);
      await drill.inject(lab);
      try {
        for (const tool of ['tempest', 'stackgate'] as const) {
          if (only && only !== tool) continue;
          const s = tool === 'tempest'
            ? await tempestRun(`drill-${drill.name}`, prepared!, cloud)
            : await stackgateRun(`drill-${drill.name}`, cloud, false);
          samples.push({ ...s, drill: drill.name });
          writeFileSync(join(scratchRoot, 'samples.json'), `${JSON.stringify(samples, null, 2)}\n`);
          log(`${tool} under ${drill.name}: ${s.wallS.toFixed(1)} s, exit ${s.exitCode}, ${s.passed} passed, ${s.failed} failed`);
        }
      } finally {
        await drill.revert(lab);
        await ensure(lab, { log: (l) => log(`  ${l}`) });
      }
    }
  } finally {
    if (only !== 'stackgate' && !prepareOnly) await removeFlavors(cloud).catch((e: unknown) => log(`could not remove the benchmark flavors: ${(e as Error).message}`));
    await cloud.close();
  }
  if (only) return;

  const t = samples.filter((s) => s.tool === 'tempest' && !s.drill);
  const g = samples.filter((s) => s.tool === 'stackgate' && !s.drill);
  for (const s of t) (s as { decisionsTotal: number }).decisionsTotal = decisionsTotal;
  const T = summarise(t);
  const G = summarise(g);
  const ratio = G.wallS.median / T.wallS.median;
  const m = await machine();
  const layerMs: Record<string, number[]> = {};
  for (const s of g) for (const [l, ms] of Object.entries(s.layerMs ?? {})) (layerMs[l] ??= []).push(ms);
  const lastG = g.at(-1)!;
  const p = prepared!;

  const md = [
    `# Tempest smoke vs stackgate — lab \`${lab.name}\``,
    '',
    `${runs} runs each, alternating (Tempest, then stackgate), on ${m.cores} × ${m.cpu}, ${m.ramGiB} GiB RAM, ${m.os}, Node ${m.node}; ${m.date.slice(0, 16).replace('T', ' ')} UTC. ` +
      `Generated by \`npm run bench\` (reports/bench-tempest.ts).`,
    '',
    `- **Tempest** ${p.tempestVersion} (Debian package): \`tempest ${tempestArgs(p).join(' ')}\` inside ${ns}, TLS verified against the lab CA, dynamic credentials, image \`${lab.spec.compute?.guestImage?.name ?? ''}\`, validation (SSH into guests) ${p.validation ? 'on' : 'off'}.` +
      (p.excluded.length ? ` Excluded: ${p.excluded.map((e) => `\`${e.regex}\` (${e.why})`).join('; ')}.` : ''),
    `- **stackgate**: \`npm test\` (lab ensure + all seven layers), matrix to a scratch folder per run.`,
    '- Wall time: from holding /tmp/stackgate-fault.lock to the process exit (whole process: start-up, discovery, tests, cleanup, reporters).',
    '',
    '| per run: median (min–max) | Tempest smoke | stackgate `npm test` |',
    '|---|---|---|',
    `| wall time (s) | ${fmt(T.wallS, 1)} | ${fmt(G.wallS, 1)} |`,
    `| tests run | ${fmt(T.tests)} | ${fmt(G.tests)} |`,
    `| passed | ${fmt(T.passed)} | ${fmt(G.passed)} |`,
    `| failed | ${fmt(T.failed)} | ${fmt(G.failed)} |`,
    `| skipped | ${fmt(T.skipped)} | ${fmt(G.skipped)} |`,
    `| decisions of the lab covered (of ${decisionsTotal}) | ${fmt(T.decisionsCovered)} | ${fmt(G.decisionsCovered)} |`,
    `| cloud resources left behind | ${fmt(T.leftovers)} | ${fmt(G.leftovers)} |`,
    `| exit codes | ${t.map((s) => s.exitCode).join(', ')} | ${g.map((s) => s.exitCode).join(', ')} |`,
    '',
    `**Ratio stackgate / Tempest (median wall time): ${ratio.toFixed(2)}** (goal: ≤ 0.05).`,
    '',
    ...agreement(samples, drills),
    '## Runs',
    '',
    '| tool | run | wall (s) | exit | tests | passed | failed | skipped | decisions | left behind |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...samples.map((s) => `| ${s.tool} | ${s.run} | ${s.wallS.toFixed(1)} | ${s.exitCode} | ${s.tests} | ${s.passed} | ${s.failed} | ${s.skipped} | ${s.decisionsCovered} | ${s.leftovers.count}${s.leftovers.count ? ` (${Object.entries(s.leftovers.byKind).map(([k, n]) => `${n} ${k}`).join(', ')})` : ''} |`),
    '',
    '## Failures',
    '',
    ...(samples.some((s) => s.failures.length) ? samples.filter((s) => s.failures.length).flatMap((s) => [`- ${s.tool} run ${s.run}:`, ...s.failures.map((f) => `  - ${f.replace(/\|/g, '\\|')}`)]) : ['none']),
    '',
    '## How it was counted',
    '',
    '- Tests: Tempest from `stestr last --subunit | subunit2csv` (success/xfail passed; failure, error and uxsuccess failed; skip skipped; a failed `setUpClass` counts as one failed test); stackgate from the scratch `decisions.json` results (a blocked check counts as skipped).',
    `- Decisions covered: stackgate, the decisions whose status is passed in the scratch matrix (last run: ${lastG.coveredIds.join(', ') || 'none'}). Tempest proves no decision by itself; a decision counts only where a smoke test obviously proves it and every such test passed: ${TEMPEST_PROVES.map((d) => `${d.decision} (${d.why})`).join('; ')}.`,
    `- Left behind: every resource of these kinds, as admin across all projects, listed right before and right after the run; the count is what exists after and did not before: ${Object.keys(KINDS).join(', ')}. Anything another user created during the run would count too.`,
    '',
    '## Where stackgate spends its time',
    '',
    'Summed check durations per layer (`durationMs` in the scratch decisions.json; checks of different files run in parallel, so the sum can exceed the wall time), median of the runs:',
    '',
    '| layer | median (s) |',
    '|---|---|',
    ...Object.entries(layerMs).map(([l, xs]) => `| ${l} | ${(median(xs) / 1000).toFixed(1)} |`),
    '',
    `Slowest checks of the last run: ${(lastG.slowest ?? []).map((c) => `${c.check} ${(c.ms / 1000).toFixed(1)} s`).join(', ')}.`,
    '',
  ].join('\n');

  mkdirSync(join(repoRoot, 'reports/bench'), { recursive: true });
  writeFileSync(join(repoRoot, 'reports/bench/tempest-vs-stackgate.md'), md);
  writeFileSync(
    join(repoRoot, 'reports/bench/tempest-vs-stackgate.json'),
    `${JSON.stringify({ lab: lab.name, runs, machine: m, tempest: { version: p.tempestVersion, args: tempestArgs(p), excluded: p.excluded, validation: p.validation, summary: T }, stackgate: { summary: G, layerMs }, ratio, decisionsTotal, samples }, null, 2)}\n`,
  );
  log(`\n${md}`);
}

await main();
