/**
 * Self-test of bad input on every route an operator takes: each malformed spec or decision record under
 * fixtures/labs-bad/ stops `npm run lab -- status` and a Vitest run (in a child process, its reports in a scratch
 * folder) with its located problems, before anything touches a lab. These specs fail at load: nothing runs.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../helpers/gate/child-run.ts';
import { acceptanceArgs } from '../../helpers/gate/layers.ts';
import { repoRoot } from '../../helpers/lab/load.ts';

const badDir = join(repoRoot, 'fixtures/labs-bad');
const scratch = (name: string) => join(repoRoot, 'reports/tmp/bad-input', name);

interface Expected {
  /** `file:line:column /path:` as the loader prints a problem. */
  at: string;
  /** A fragment of its message. */
  says: string;
}

interface Case {
  /** What STACKGATE_LAB or --lab is given. */
  lab: string;
  lines: Expected[];
}

/** The `# expect: line:col /path fragment` lines of a fixture file. */
function expected(file: string): Expected[] {
  const rel = relative(repoRoot, file);
  return [...readFileSync(file, 'utf8').matchAll(/^# expect: (\d+):(\d+) (\S+) (.+)$/gm)].map((m) => ({ at: `${rel}:${m[1]}:${m[2]} ${m[3]}:`, says: m[4]!.trim() }));
}

const cases: Case[] = [
  ...readdirSync(badDir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => ({ lab: `fixtures/labs-bad/${f}`, lines: expected(join(badDir, f)) })),
  ...readdirSync(badDir)
    .filter((f) => existsSync(join(badDir, f, 'lab.yaml')))
    .map((f) => ({ lab: `fixtures/labs-bad/${f}`, lines: ['lab.yaml', 'decisions.yaml'].flatMap((x) => expected(join(badDir, f, x))) })),
  { lab: 'fixtures/labs-bad/folder', lines: [{ at: 'fixtures/labs-bad/folder:0:0 /:', says: 'is a folder without a lab.yaml, not a lab spec' }] },
];

/** The expected problems no line of the output shows (at its location, with its message). */
function missing(output: string, lines: readonly Expected[]): string[] {
  const shown = output.split('\n');
  return lines.filter((e) => !shown.some((l) => l.includes(` ${e.at} `) && l.includes(e.says))).map((e) => `${e.at} ${e.says}`);
}

/** The fixture's lab name, as its state folder and network namespaces would be named. */
function labName(lab: string): string {
  const file = lab.endsWith('.yaml') ? join(repoRoot, lab) : join(repoRoot, lab, 'lab.yaml');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  return /^name: (\S+)/m.exec(text)?.[1] ?? basename(lab, '.yaml');
}

/**
 * What a bad-input run could have changed for its lab: a state folder, network namespaces. Only the fixture's own
 * (another lab may be running on this host and change its own namespaces meanwhile).
 */
async function footprint(name: string): Promise<string> {
  const state = join(repoRoot, '.stackgate', name);
  const files = existsSync(state) ? readdirSync(state, { recursive: true, encoding: 'utf8' }).map((f) => `${f} ${statSync(join(state, f)).mtimeMs}`) : [];
  const netns = (await execa('ip', ['netns', 'list'], { reject: false })).stdout.split('\n').filter((n) => n.startsWith(`${name}-`));
  return [...files.sort(), ...netns].join('\n');
}

const vitest = (name: string, lab: string, args: string[], env?: Record<string, string>) =>
  runChecks({ lab: join(repoRoot, lab), scratch: scratch(name), args: ['--config', join(repoRoot, 'vitest.config.ts'), ...args], env });

describe('bad input on the Vitest routes', { concurrent: true }, () => {
  const lab = 'fixtures/labs-bad/all-at-once.yaml';
  const lines = expected(join(repoRoot, lab));

  // The first run fills Vitest's module cache (experimental.fsModuleCache); the crash it caused came from cached modules.
  beforeAll(async () => void (await vitest('warm', lab, ['--project', 'preflight'])), 120_000);

  const npmTest = acceptanceArgs([]);
  const routes: [string, string[], Record<string, string>?][] = [
    // What `npm test` (helpers/gate/test-run.ts) hands Vitest, `run` aside.
    ['npm test (after lab ensure)', npmTest.vitest.slice(1), npmTest.env],
    ['npx vitest suites/network', ['suites/network']],
    ['--project network', ['--project', 'network']],
    ['-t <check>', ['-t', 'net.vip-single-holder']],
  ];
  it.each(routes)('%s prints every located problem and runs no check', async (name, args, env) => {
    const run = await vitest(name.replace(/\W+/g, '-'), lab, args, env);
    expect(run.exitCode, run.output).toBe(1);
    expect(missing(run.output, lines), run.output).toEqual([]);
    expect(run.output).not.toContain('charCodeAt');
    expect(run.output).not.toMatch(/✓|×/);
  });

  it('npm test prints every located problem once, from its lab ensure, and runs no check', async () => {
    const command = ['npm', 'test'];
    const run = await runChecks({ lab: join(repoRoot, lab), scratch: scratch('npm-test'), args: [], command });
    expect(run.exitCode, run.output).toBe(1);
    expect(missing(run.output, lines), run.output).toEqual([]);
    const shown = run.output.split('\n');
    for (const e of lines) expect(shown.filter((l) => l.includes(` ${e.at} `)), run.output).toHaveLength(1);
    expect(run.output).not.toMatch(/✓|×/);
  });

  it('the Vitest UI prints every located problem', async () => {
    const port = String(52_000 + (process.pid % 1000));
    const ui = await execa('npx', ['vitest', '--ui', '--open=false', '--api.port', port, '--project', 'network'], {
      cwd: repoRoot,
      reject: false,
      all: true,
      timeout: 90_000,
      env: { STACKGATE_LAB: join(repoRoot, lab), STACKGATE_REPORTS: scratch('ui'), STACKGATE_ALLURE_RESULTS: join(scratch('ui'), 'allure-results'), FORCE_COLOR: '0', CI: '1' },
    });
    expect(ui.all).toContain('UI started');
    expect(missing(ui.all ?? '', lines), ui.all).toEqual([]);
    expect(ui.all).not.toContain('charCodeAt');
  });
});

describe('every bad-input fixture stops before it touches anything', { concurrent: true }, () => {
  it.each(cases.map((c) => [c.lab, c] as const))('%s: npm run lab -- status names every problem', async (_, c) => {
    expect(c.lines.length).toBeGreaterThan(0);
    const before = await footprint(labName(c.lab));
    const run = await execa('npx', ['tsx', 'provision/cli.ts', 'status', '--lab', c.lab], { cwd: repoRoot, reject: false, all: true });
    expect(run.exitCode).toBe(1);
    expect(missing(run.all ?? '', c.lines), run.all).toEqual([]);
    expect(await footprint(labName(c.lab))).toBe(before);
  });

  it.each(cases.map((c) => [c.lab, c] as const))('%s: a Vitest run names every problem', async (_, c) => {
    const run = await vitest(c.lab.replace(/\W+/g, '-'), c.lab, ['--project', 'preflight']);
    expect(run.exitCode).toBe(1);
    expect(missing(run.output, c.lines), run.output).toEqual([]);
  });
});
