// A dry run of .github/workflows/nightly.yml on this machine: every step but the uploads, in a scratch checkout.
//
//   npx tsx reports/nightly-dry-run.ts [--input lab=embedded] [--workspace DIR] [--cache DIR] [--workflow FILE]
//
// `run:` steps run as the runner runs them (bash --noprofile --norc -eo pipefail, the workflow's env with its
// expressions evaluated, $GITHUB_OUTPUT / $GITHUB_ENV / $GITHUB_STEP_SUMMARY honoured, `if:` conditions and the
// job status). The actions it uses have local equivalents:
//   actions/checkout          clones this repository into the workspace and copies the working tree's changes
//                             (tracked and untracked files git does not ignore) on top. The embedded lab's state (.stackgate/, ignored by git, kept by the runner
//                             between nights since checkout does not clean) names the path it was brought up from;
//                             so, as root, the steps run in a private mount namespace where the workspace is mounted
//                             at this repository's path with the real .stackgate/ inside it: the lab that is up is the
//                             lab that is judged, and nothing outside the namespace sees the swap
//   actions/setup-node        uses the node on PATH and says whether its major version is the one asked for
//   actions/cache/restore|save   a folder per key under --cache (kept between dry runs: the history carries over)
//   actions/upload-artifact   not run: lists what it would upload and fails the step when a path is missing
// Exits 1 exactly when the job would fail. Never brings a lab up or down unless the workflow's own steps would.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { execa, execaSync } from 'execa';
import { repoRoot } from '../helpers/lab/load.ts';
import { condition, interpolate, loadWorkflow, parseCommandFile, type Context, type Evaluation, type Step } from './workflow.ts';

function args(argv: readonly string[]) {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const inputs: Record<string, string> = {};
  argv.forEach((a, i) => {
    if (a === '--input' && argv[i + 1]?.includes('=')) inputs[argv[i + 1]!.split('=')[0]!] = argv[i + 1]!.split('=').slice(1).join('=');
  });
  const base = join(tmpdir(), 'stackgate-nightly');
  return {
    workflow: resolve(value('--workflow') ?? join(repoRoot, '.github/workflows/nightly.yml')),
    workspace: resolve(value('--workspace') ?? join(base, 'workspace')),
    cache: resolve(value('--cache') ?? join(base, 'cache')),
    inputs,
  };
}

interface Artifact {
  name: string;
  paths: { path: string; files: number; bytes: number; exists: boolean }[];
}

function walk(path: string): { files: number; bytes: number } {
  const s = statSync(path);
  if (!s.isDirectory()) return { files: 1, bytes: s.size };
  let files = 0;
  let bytes = 0;
  for (const e of readdirSync(path)) {
    const w = walk(join(path, e));
    files += w.files;
    bytes += w.bytes;
  }
  return { files, bytes };
}

const pathsOf = (v: unknown) => String(v ?? '').split('\n').map((p) => p.trim()).filter(Boolean);
const cacheDirOf = (cache: string, key: string) => join(cache, encodeURIComponent(key));

/** A clone of this repository (a git work tree, as actions/checkout leaves) with the working tree's changes on top. */
function copyWorkingTree(workspace: string): number {
  rmSync(workspace, { recursive: true, force: true });
  mkdirSync(dirname(workspace), { recursive: true });
  execaSync('git', ['clone', '--quiet', '--shared', '--no-checkout', repoRoot, workspace]);
  execaSync('git', ['checkout', '--quiet', '--detach', execaSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot }).stdout], { cwd: workspace });
  for (const gone of execaSync('git', ['ls-files', '-z', '--deleted'], { cwd: repoRoot }).stdout.split('\0').filter(Boolean)) rmSync(join(workspace, gone), { force: true });
  const files = execaSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot }).stdout.split('\0').filter(Boolean);
  let copied = 0;
  for (const f of new Set(files)) {
    const from = join(repoRoot, f);
    if (!existsSync(from) || statSync(from).isDirectory()) continue; // deleted in the working tree, or a submodule
    mkdirSync(dirname(join(workspace, f)), { recursive: true });
    cpSync(from, join(workspace, f));
    copied++;
  }
  return copied;
}

/**
 * As root with a lab state present: copy the working tree, then run the dry run again inside a private mount
 * namespace with the copy mounted over this repository's path and the real .stackgate/ mounted inside it.
 */
async function inNamespace(opts: ReturnType<typeof args>, argv: readonly string[]): Promise<number> {
  const copied = copyWorkingTree(opts.workspace);
  mkdirSync(join(opts.workspace, '.stackgate'));
  const original = join(dirname(opts.workspace), 'original');
  mkdirSync(original, { recursive: true });
  console.log(`checkout: cloned HEAD and copied ${copied} files of the working tree to ${opts.workspace}; the steps run with it mounted at ${repoRoot}`);
  const script = [
    'set -e',
    'mount --make-rprivate /',
    'mount --bind "$REPO" "$ORIGINAL"',
    'mount --bind "$REPO/.stackgate" "$WS/.stackgate"',
    'mount --rbind "$WS" "$REPO"',
    'cd "$REPO"',
    'exec "$NODE" "$ORIGINAL/node_modules/tsx/dist/cli.mjs" "$ORIGINAL/reports/nightly-dry-run.ts" --inside "$@"',
  ].join('\n');
  const r = await execa('unshare', ['--mount', 'bash', '-c', script, 'dry-run', ...argv, '--workspace', repoRoot], {
    reject: false,
    stdio: 'inherit',
    env: { REPO: repoRoot, ORIGINAL: original, WS: opts.workspace, NODE: process.execPath },
  });
  return r.exitCode ?? 1;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const opts = args(argv);
  const inside = argv.includes('--inside');
  const state = join(repoRoot, '.stackgate');
  if (!inside && process.getuid?.() === 0 && existsSync(state) && !argv.includes('--no-namespace')) return inNamespace(opts, argv.filter((a, i) => a !== '--workspace' && argv[i - 1] !== '--workspace'));
  const workflow = loadWorkflow(opts.workflow);
  const [jobName, job] = Object.entries(workflow.jobs)[0]!;
  const inputs: Context = {};
  for (const [name, spec] of Object.entries(workflow.on.workflow_dispatch?.inputs ?? {})) inputs[name] = opts.inputs[name] ?? (spec.default as string | undefined) ?? '';
  const runId = String(Date.now());
  const commands = mkdtempSync(join(tmpdir(), 'stackgate-nightly-commands-'));
  const summaryFile = join(commands, 'step-summary.md');
  writeFileSync(summaryFile, '');
  const steps: Context = {};
  const env: Record<string, string> = {};
  let jobStatus: Evaluation['jobStatus'] = 'success';
  const context = (): Context => ({
    inputs,
    vars: {},
    env,
    steps,
    github: { run_id: runId, event_name: 'workflow_dispatch', workspace: opts.workspace },
    runner: { os: 'Linux', temp: commands },
  });
  const ev = (): Evaluation => ({ context: context(), jobStatus });
  for (const [k, v] of Object.entries({ ...workflow.env, ...job.env })) env[k] = interpolate(String(v), ev());

  console.log(`dry run of ${relative(repoRoot, opts.workflow)}, job ${jobName}, inputs ${JSON.stringify(inputs)}`);
  console.log(`  runs-on ${JSON.stringify(job['runs-on'])} → this machine; workspace ${opts.workspace}; cache ${opts.cache}\n`);
  const table: string[] = [];
  const artifacts: Artifact[] = [];

  for (const [index, step] of job.steps.entries()) {
    const title = step.name ?? step.uses ?? step.run?.split('\n')[0] ?? `step ${index + 1}`;
    if (!condition(step, ev())) {
      table.push(`  skipped  ${title}`);
      if (step.id) steps[step.id] = { outcome: 'skipped', conclusion: 'skipped', outputs: {} };
      console.log(`── ${title}: skipped (if: ${step.if ?? 'success()'})`);
      continue;
    }
    console.log(`── ${title}`);
    const started = performance.now();
    const outputs: Record<string, string> = {};
    let ok = true;
    try {
      const withs = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, interpolate(String(v), ev())]));
      if (step.uses) ok = await action(step, withs, outputs);
      else if (step.run !== undefined) ok = await run(step, outputs);
    } catch (error) {
      console.log(`   ${(error as Error).message}`);
      ok = false;
    }
    const outcome = ok ? 'success' : 'failure';
    const conclusion = ok || step['continue-on-error'] ? 'success' : 'failure';
    if (step.id) steps[step.id] = { outcome, conclusion, outputs };
    if (conclusion === 'failure') jobStatus = 'failure';
    table.push(`  ${outcome.padEnd(7)}  ${title} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }

  async function run(step: Step, outputs: Record<string, string>): Promise<boolean> {
    const script = join(commands, `step-${Date.now()}.sh`);
    writeFileSync(script, interpolate(step.run!, ev()));
    const output = join(commands, 'output');
    const envFile = join(commands, 'env');
    writeFileSync(output, '');
    writeFileSync(envFile, '');
    const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, interpolate(String(v), ev())]));
    const shell = step.shell ?? workflow.defaults?.run?.shell ?? 'bash';
    if (shell !== 'bash') throw new Error(`shell ${shell} is not supported by the dry run`);
    const r = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], {
      cwd: opts.workspace,
      reject: false,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...env,
        ...stepEnv,
        CI: 'true',
        GITHUB_ACTIONS: 'true',
        GITHUB_RUN_ID: runId,
        GITHUB_EVENT_NAME: 'workflow_dispatch',
        GITHUB_WORKSPACE: opts.workspace,
        GITHUB_OUTPUT: output,
        GITHUB_ENV: envFile,
        GITHUB_STEP_SUMMARY: summaryFile,
        RUNNER_OS: 'Linux',
        RUNNER_TEMP: commands,
      },
    });
    Object.assign(env, parseCommandFile(readFileSync(envFile, 'utf8')));
    Object.assign(outputs, parseCommandFile(readFileSync(output, 'utf8')));
    if (r.exitCode !== 0) console.log(`   exit code ${r.exitCode}`);
    return r.exitCode === 0;
  }

  async function action(step: Step, withs: Record<string, string>, outputs: Record<string, string>): Promise<boolean> {
    const uses = step.uses!.split('@')[0]!;
    switch (uses) {
      case 'actions/checkout':
        if (inside) console.log(`   the working tree, copied before the mount namespace was set up, is at ${opts.workspace}`);
        else {
          console.log(`   cloned HEAD and copied ${copyWorkingTree(opts.workspace)} files of the working tree to ${opts.workspace}`);
          if (existsSync(state)) console.log(`   (not root: a local lab's state in ${state} is not seen from the workspace)`);
        }
        return true;
      case 'actions/setup-node': {
        const have = process.versions.node;
        const want = withs['node-version'] ?? '';
        console.log(`   node on PATH: ${have}; the workflow asks for ${want || 'any'}${want && have.split('.')[0] !== want.split('.')[0] ? ' (the runner would install that one)' : ''}`);
        return true;
      }
      case 'actions/cache/restore': {
        const key = withs.key ?? '';
        const prefixes = pathsOf(withs['restore-keys']);
        const entries = existsSync(opts.cache) ? readdirSync(opts.cache).map((e) => ({ key: decodeURIComponent(e), mtime: statSync(join(opts.cache, e)).mtimeMs })) : [];
        const hit = entries.find((e) => e.key === key) ?? prefixes.map((p) => entries.filter((e) => e.key.startsWith(p)).sort((a, b) => b.mtime - a.mtime)[0]).find(Boolean);
        outputs['cache-hit'] = String(hit?.key === key);
        if (!hit) {
          console.log(`   no cache entry for ${key} or ${prefixes.join(', ')}: nothing restored`);
          return true;
        }
        for (const p of pathsOf(withs.path)) {
          const from = join(cacheDirOf(opts.cache, hit.key), p);
          if (existsSync(from)) {
            mkdirSync(dirname(join(opts.workspace, p)), { recursive: true });
            cpSync(from, join(opts.workspace, p), { recursive: true });
          }
        }
        outputs['cache-matched-key'] = hit.key;
        console.log(`   restored ${pathsOf(withs.path).join(', ')} from ${hit.key}`);
        return true;
      }
      case 'actions/cache/save': {
        const key = withs.key ?? '';
        const dir = cacheDirOf(opts.cache, key);
        if (existsSync(dir)) {
          console.log(`   cache entry ${key} exists already (entries are immutable): not saved`);
          return true;
        }
        const present = pathsOf(withs.path).filter((p) => existsSync(join(opts.workspace, p)));
        if (present.length === 0) {
          console.log(`   nothing to save: ${pathsOf(withs.path).join(', ')} missing`);
          return true;
        }
        for (const p of present) {
          mkdirSync(dirname(join(dir, p)), { recursive: true });
          cpSync(join(opts.workspace, p), join(dir, p), { recursive: true });
        }
        console.log(`   saved ${present.join(', ')} as ${key}`);
        return true;
      }
      case 'actions/upload-artifact': {
        const artifact: Artifact = {
          name: withs.name ?? 'artifact',
          paths: pathsOf(withs.path).map((p) => {
            const abs = join(opts.workspace, p);
            return existsSync(abs) ? { path: p, exists: true, ...walk(abs) } : { path: p, exists: false, files: 0, bytes: 0 };
          }),
        };
        artifacts.push(artifact);
        for (const p of artifact.paths) console.log(`   would upload ${p.path}: ${p.exists ? `${p.files} file(s), ${(p.bytes / 1024).toFixed(1)} KiB` : 'MISSING'}`);
        const missing = artifact.paths.some((p) => !p.exists);
        return !(missing && (withs['if-no-files-found'] ?? 'warn') === 'error') && artifact.paths.some((p) => p.exists);
      }
      default:
        throw new Error(`the dry run has no local equivalent for ${step.uses}`);
    }
  }

  console.log(`\nSteps:\n${table.join('\n')}`);
  const where = (path: string) => (inside && process.env.WS ? path.replace(opts.workspace, process.env.WS) : path);
  console.log(`\nArtifacts it would upload (from ${where(opts.workspace)}):`);
  for (const a of artifacts) for (const p of a.paths) console.log(`  ${a.name.padEnd(17)} ${p.path.padEnd(24)} ${p.exists ? `${p.files} file(s), ${(p.bytes / 1024).toFixed(1)} KiB` : 'MISSING'}`);
  const summary = readFileSync(summaryFile, 'utf8');
  const kept = join(opts.workspace, 'reports/tmp/step-summary.md');
  mkdirSync(dirname(kept), { recursive: true });
  writeFileSync(kept, summary);
  console.log(`\nJob summary (${where(kept)}):\n\n${summary}`);
  console.log(`Job: ${jobStatus === 'success' ? 'success' : 'FAILURE'}`);
  rmSync(commands, { recursive: true, force: true });
  return jobStatus === 'success' ? 0 : 1;
}

process.exitCode = await main();
