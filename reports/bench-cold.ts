// `npm run bench:cold [-- --runs N] [--from-nothing]`: the newcomer's path, timed. Each run starts from
// `lab down --purge` (packages stay installed) and ends with the first `npm test` (its `lab ensure` brings the lab up),
// as one whole process; the table keeps its wall time, the `lab up` part, the gate and where the up time went.
// --from-nothing first removes the lab's packages (apt-get purge + autoremove), so run 1 also installs them:
// destructive for this host's packages, so it is never the default.
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { loadLab, repoRoot } from '../helpers/lab/load.ts';
import { COMPONENTS } from '../provision/local/components.ts';
import { PACKAGES } from '../provision/local/host.ts';
import { packagesOf, plan } from '../provision/local/orchestrator.ts';
import { machine, stepTimes, writeBench } from './bench-out.ts';

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const runs = Number(arg('--runs') ?? 3);
const fromNothing = process.argv.includes('--from-nothing');
const lab = loadLab();
if (lab.provider !== 'local') throw new Error(`bench:cold brings the lab up from nothing: lab ${lab.name} is not local`);

interface Verdict {
  pass: boolean;
  counts: { passed: number; failed: number };
  results: { checkId?: string; status: string }[];
}

const lastLine = (out: string) => out.trim().split('\n').at(-1)?.slice(0, 200) ?? '';

interface Sample {
  run: number;
  fromNothing: boolean;
  wallS: number;
  upS: number | undefined;
  exit: number;
  pass: boolean;
  passed: number;
  failed: number;
  failing: string[];
  steps: Record<string, number>;
}

async function purgePackages(): Promise<void> {
  const names = [...new Set([...PACKAGES, ...packagesOf(lab, plan(lab, COMPONENTS))])];
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  // Only packages that are installed can be purged; the basics the host itself needs stay.
  // sudo refuses its own removal on a machine without a root password (its prerm exits 1).
  const keep = new Set(['iproute2', 'util-linux', 'openssl', 'openssh-client', 'curl', 'iputils-ping', 'sudo']);
  const installed = (await execa('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\\n', ...names], { reject: false })).stdout
    .split('\n')
    .filter((l) => l.endsWith(' installed'))
    .map((l) => l.split(' ')[0]!)
    .filter((n) => !keep.has(n));
  await execa('apt-get', ['purge', '-y', '-q', ...installed], { env, stdio: 'inherit' });
  await execa('apt-get', ['autoremove', '--purge', '-y', '-q'], { env, stdio: 'inherit' });
}

const samples: Sample[] = [];
for (let n = 1; n <= runs; n++) {
  await execa('npm', ['run', 'lab', '--', 'down', '--purge'], { cwd: repoRoot, stdio: 'inherit' });
  const bare = fromNothing && n === 1;
  if (bare) await purgePackages();
  const t0 = performance.now();
  const startedAt = Date.now();
  const r = await execa('npm', ['test'], { cwd: repoRoot, reject: false, all: true, env: { FORCE_COLOR: '0', STACKGATE_RUN: '' } });
  const wallS = (performance.now() - t0) / 1000;
  const out = String(r.all ?? '');
  const upS = /lab \S+ is up in (\d+(?:\.\d+)?)s/.exec(out)?.[1];
  // No verdict newer than this run: its `lab ensure` failed before Vitest judged anything.
  const verdictFile = join(repoRoot, 'reports/decisions.json');
  const judged = existsSync(verdictFile) && statSync(verdictFile).mtimeMs > startedAt;
  const v = judged
    ? (JSON.parse(readFileSync(verdictFile, 'utf8')) as Verdict)
    : { pass: false, counts: { passed: 0, failed: 0 }, results: [{ checkId: `lab ensure: ${lastLine(out)}`, status: 'failed' }] };
  const failing = v.results.filter((x) => x.status === 'failed' || x.status === 'broken').map((x) => x.checkId ?? '?');
  // Each run's evidence is kept: the next run's reporters empty reports/ as they start.
  const evidence = join(repoRoot, 'reports', 'tmp', 'bench-cold', `run-${n}`);
  mkdirSync(evidence, { recursive: true });
  writeFileSync(join(evidence, 'npm-test.log'), out);
  for (const f of ['decisions.md', 'junit.xml']) if (judged && existsSync(join(repoRoot, 'reports', f))) cpSync(join(repoRoot, 'reports', f), join(evidence, f));
  const s: Sample = {
    run: n, fromNothing: bare, wallS, upS: upS ? Number(upS) : undefined, exit: r.exitCode ?? -1, pass: v.pass,
    passed: v.counts.passed, failed: v.counts.failed, failing, steps: stepTimes(out),
  };
  samples.push(s);
  const gate = `${s.passed} passed, ${s.failed} failed${failing.length ? ` (${failing.join(', ')})` : ''}`;
  process.stdout.write(`run ${n}/${runs}: ${wallS.toFixed(1)} s (lab up ${s.upS ?? '?'} s), exit ${s.exit}, ${gate}\n`);
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? `${s[0]!.toFixed(1)} / ${s[Math.floor(s.length / 2)]!.toFixed(1)} / ${s.at(-1)!.toFixed(1)}` : '—';
};
const warmPackages = samples.filter((s) => !s.fromNothing);
const stepNames = [...new Set(samples.flatMap((s) => Object.keys(s.steps)))];
const slow = stepNames
  .map((name) => ({ name, secs: warmPackages.map((s) => s.steps[name] ?? 0) }))
  .filter((x) => Math.max(...x.secs) >= 3)
  .sort((a, b) => Math.max(...b.secs) - Math.max(...a.secs));
const green = samples.filter((s) => s.exit === 0 && s.pass && s.failed === 0).length;
const host = machine();
const md = [
  `# The cold path — lab \`${lab.name}\``,
  '',
  `Each run: \`npm run lab -- down --purge\`, then the first \`npm test\` (its \`lab ensure\` brings the lab ` +
    `up from nothing but installed packages), one whole process. Machine: ${host}. ` +
    `Date: ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '| run | from | npm test wall (s) | of it lab up (s) | exit | gate | passed | failed | failing checks |',
  '|---|---|---|---|---|---|---|---|---|',
  ...samples.map((s) =>
    `| ${s.run} | ${s.fromNothing ? 'no packages' : 'packages installed'} | ${s.wallS.toFixed(1)} | ${s.upS ?? '?'} | ` +
    `${s.exit} | ${s.pass ? 'pass' : 'FAIL'} | ${s.passed} | ${s.failed} | ${s.failing.join(', ') || '—'} |`),
  '',
  `${green} of ${runs} first runs green. From installed packages (min / median / max): npm test ` +
    `${stats(warmPackages.map((s) => s.wallS))} s, lab up ${stats(warmPackages.flatMap((s) => s.upS ?? []))} s, ` +
    `the acceptance after it ${stats(warmPackages.flatMap((s) => (s.upS ? [s.wallS - s.upS] : [])))} s.`,
  '',
  '## Where `lab up` spends its time (steps of 3 s or more; seconds per run)',
  '',
  '| step | ' + warmPackages.map((s) => `run ${s.run}`).join(' | ') + ' |',
  '|---|' + warmPackages.map(() => '---').join('|') + '|',
  ...slow.map((x) => `| ${x.name} | ${x.secs.map((v) => v.toFixed(1)).join(' | ')} |`),
  '',
].join('\n');
writeBench('cold', md, { lab: lab.name, runs, machine: host, samples });
