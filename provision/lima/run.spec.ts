/**
 * The runner against stand-in executables: limactl, ssh, sudo, python3, npx and the venv's pip, kolla-ansible and
 * kolla-genpwd are tiny shell scripts that record their argv and, before anything else, check what the real tool
 * would need: every repository path they are given exists, and the folder of every file they write exists. sh, cp,
 * mkdir, install and ssh-keygen are the real ones. So order, arguments, inputs, resume and failure handling are
 * tested without Lima, Kolla-Ansible or Ceph. Nothing here brings a lab up.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { writeRender } from '../render/index.ts';
import { limaPaths } from './paths.ts';
import { buildPlan, type Step } from './plan.ts';
import { readState, runPlan, StepFailed, type RunOptions } from './run.ts';

const lab = loadLab('primary');
const p = limaPaths(lab);
const plan = buildPlan(lab);
const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

/** Run for real: everything they touch is in the sandbox. */
const REAL = new Set(['sh', 'cp', 'mkdir', 'install']);

/** What a real kolla-ansible install leaves in the venv that later steps read. */
const KOLLA_SHARE = `mkdir -p "$venv/share/kolla-ansible/ansible/inventory" "$venv/share/kolla-ansible/etc_examples/kolla"
  printf '[control]\\ncontrol01\\n\\n[loadbalancer:children]\\nnetwork\\n\\n[keystone:children]\\ncontrol\\n' > "$venv/share/kolla-ansible/ansible/inventory/multinode"
  printf 'keystone_admin_password:\\n' > "$venv/share/kolla-ansible/etc_examples/kolla/passwords.yml"`;

const STUB = (name: string) => `#!/bin/sh
{ printf '%s' '${name}'; for a in "$@"; do printf ' [%s]' "$a"; done; printf '\\n'; } >> "$STUB_LOG"
fail() { echo "stand-in ${name}: $*" >&2; exit 66; }
need() { [ -e "$1" ] || fail "$1: No such file or directory"; }
needdir() { [ -d "$(dirname "$1")" ] || fail "cannot write $1: $(dirname "$1"): No such file or directory"; }
# Repository paths (also the value of KEY=VALUE arguments) must exist, except the ones the tool writes.
prev=''
for a in "$@"; do
  v=\${a#*=}
  case "$a" in UserKnownHostsFile=*) needdir "$v"; prev=$a; continue;; esac
  case "$v" in .stackgate/*)
    if [ '${name}' = python3 ] && [ "$prev" = venv ]; then needdir "$v"; else need "$v"; fi;;
  esac
  [ "$prev" = --configdir ] && { need "$a/globals.yml"; need "$a/passwords.yml"; }
  prev=$a
done
# A playbook run reads its ansible.cfg; install-deps only fetches collections.
[ '${name}' = kolla-ansible ] && [ "$1" != install-deps ] && need "\${ANSIBLE_CONFIG:?kolla-ansible $1 without ANSIBLE_CONFIG}"
if [ '${name}' = pip ] && case "$*" in *kolla-ansible*) true;; *) false;; esac; then
  venv=$(dirname "$0")/..
  ${KOLLA_SHARE}
fi
echo "output of ${name}"
if [ -n "\${STUB_FAIL:-}" ]; then
  case " $* " in *"$STUB_FAIL"*) echo "boom: ${name} broke" >&2; exit 3;; esac
fi
exit 0
`;

function sandbox() {
  const root = mkdtempSync(join(tmpdir(), 'sg-lima-run-'));
  roots.push(root);
  const bin = join(root, 'bin');
  mkdirSync(bin);
  for (const s of plan) {
    const cmd = s.argv?.[0];
    if (!cmd || REAL.has(cmd)) continue;
    const at = cmd.includes('/') ? join(root, cmd) : join(bin, cmd);
    mkdirSync(dirname(at), { recursive: true });
    writeFileSync(at, STUB(cmd.split('/').pop()!));
    chmodSync(at, 0o755);
  }
  writeRender(lab, join(root, p.render));
  mkdirSync(join(root, 'lima/_config'), { recursive: true });
  writeFileSync(join(root, 'lima/_config/networks.yaml'), 'paths:\n  socketVMNet: /opt/socket_vmnet/bin/socket_vmnet\n  varRun: /private/var/run/lima\nnetworks:\n  shared:\n    mode: shared\n    gateway: 192.168.105.1\n    dhcpEnd: 192.168.105.254\n    netmask: 255.255.255.0\n');
  const log = join(root, 'calls.log');
  const env = { PATH: `${bin}:/usr/bin:/bin`, STUB_LOG: log, LIMA_HOME: join(root, 'lima'), HOME: root };
  const lines: string[] = [];
  const sleeps: number[] = [];
  const options = (extra: Partial<RunOptions> & { fail?: string } = {}): RunOptions => ({
    phases: [1, 2],
    cwd: root,
    stateFile: p.stateFile,
    logDir: p.logs,
    pathPrefix: join(p.venv, 'bin'),
    env: { ...env, ...(extra.fail ? { STUB_FAIL: extra.fail } : {}) },
    log: (l) => lines.push(l),
    sleep: async (ms) => void sleeps.push(ms),
    ...extra,
  });
  const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);
  const reset = () => rmSync(log, { force: true });
  return { root, options, calls, reset, lines, sleeps };
}

/** What the stub log shows for a step: the basename and each argument in brackets. */
const expected = (s: Step) => `${s.argv![0]!.split('/').pop()}${s.argv!.slice(1).map((a) => ` [${a}]`).join('')}`;
const commands = (steps: readonly Step[]) => steps.filter((s) => s.argv && !REAL.has(s.argv[0]!)).map(expected);

describe('lab up with stand-in executables', () => {
  test('runs every command of both phases in plan order with the exact arguments; internal steps do their file work', async () => {
    const sb = sandbox();
    const r = await runPlan(plan, sb.options());
    expect(r.ran).toEqual(plan.map((s) => s.id));
    expect(sb.calls()).toEqual(commands(plan));
    // stdout captured into state files, mode 0600 (keyrings, ceph.conf, sudoers)
    const keyring = join(sb.root, p.ceph, 'ceph.client.cinder.keyring');
    expect(readFileSync(keyring, 'utf8')).toBe('output of limactl\n');
    expect(statSync(keyring).mode & 0o777).toBe(0o600);
    expect(existsSync(join(sb.root, p.kolla, 'config/cinder/cinder-backup/ceph.client.cinder-backup.keyring'))).toBe(true);
    // networks.yaml merged: Lima's paths and its other networks kept, the lab's networks with their dhcpEnd
    const nets = readFileSync(join(sb.root, 'lima/_config/networks.yaml'), 'utf8');
    expect(nets).toContain('socketVMNet: /opt/socket_vmnet/bin/socket_vmnet');
    expect(nets).toMatch(/shared:\n\s+mode: shared/);
    expect(nets).toMatch(/management:\n\s+mode: shared\n\s+gateway: 192\.168\.105\.1\n\s+dhcpEnd: 192\.168\.105\.99/);
    expect(readFileSync(join(sb.root, p.kolla, 'inventory/kolla-groups'), 'utf8')).toBe('[keystone:children]\ncontrol\n');
    // progress: one start and one finish line per step, with elapsed time
    expect(sb.lines.filter((l) => / ✓ /.test(l))).toHaveLength(plan.length);
    expect(sb.lines.find((l) => l.includes('✓ deploy'))).toMatch(/\(\d+\.\d s; total \d+\.\d s\)$/);
  });

  test('resumable: a second run skips every finished step and runs only the preflight gate again', async () => {
    const sb = sandbox();
    await runPlan(plan, sb.options());
    sb.reset();
    const r = await runPlan(plan, sb.options());
    expect(r.ran).toEqual(['preflight:phase1', 'preflight:phase2']);
    expect(sb.calls()).toEqual(commands(plan.filter((s) => s.always)));
    expect(sb.lines.some((l) => l.includes('↷ deploy — done '))).toBe(true);
  });

  test('a failing step names its command and output tail, stops the run, and the next run resumes at it', async () => {
    const sb = sandbox();
    const error = await runPlan(plan, sb.options({ phases: [1], fail: ' deploy ' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailed);
    const failed = error as StepFailed;
    expect(failed.step.id).toBe('deploy');
    expect(failed.exitCode).toBe(3);
    expect(failed.message).toContain('kolla-ansible deploy -i .stackgate/primary/render/kolla/inventory/multinode');
    expect(failed.message).toContain('boom: kolla-ansible broke');
    expect(failed.message).toContain('npm run lab -- up --from deploy');
    expect(readFileSync(failed.logFile, 'utf8')).toContain('boom: kolla-ansible broke');
    const done = Object.keys(readState(join(sb.root, p.stateFile)).done);
    expect(done).toContain('prechecks');
    expect(done).not.toContain('deploy');
    expect(sb.calls().at(-1)).toBe(expected(plan.find((s) => s.id === 'deploy')!));
    sb.reset();
    const r = await runPlan(plan, sb.options({ phases: [1] }));
    expect(r.ran).toEqual(['preflight:phase1', 'deploy', 'post-deploy']);
  });

  test('the preflight gate failing stops everything before any lab command', async () => {
    const sb = sandbox();
    const error = await runPlan(plan, sb.options({ phases: [1], fail: '--project preflight' })).catch((e: unknown) => e);
    expect((error as StepFailed).step.id).toBe('preflight:phase1');
    expect(sb.calls()).toEqual([expected(plan[0]!)]);
  });

  test('--from reruns a step and everything after it; --phase 2 runs only phase 2', async () => {
    const sb = sandbox();
    await runPlan(plan, sb.options({ phases: [1] }));
    sb.reset();
    const r = await runPlan(plan, sb.options({ phases: [1], from: 'certificates' }));
    const phase1 = plan.filter((s) => s.phase === 1).map((s) => s.id);
    expect(r.ran).toEqual(phase1.slice(phase1.indexOf('certificates')));
    sb.reset();
    const two = await runPlan(plan, sb.options({ phases: [2] }));
    expect(two.ran).toEqual(plan.filter((s) => s.phase === 2).map((s) => s.id));
    await expect(runPlan(plan, sb.options({ phases: [1], from: 'nonsense' }))).rejects.toThrow(/--from nonsense: no such step/);
  });

  test('a step with retries is tried again after its delay, then fails with the last output', async () => {
    const sb = sandbox();
    const error = await runPlan(plan, sb.options({ phases: [1], fail: 'root@192.168.105.101' })).catch((e: unknown) => e);
    expect((error as StepFailed).step.id).toBe('ssh:node1');
    const ssh = plan.find((s) => s.id === 'ssh:node1')!;
    expect(sb.calls().filter((c) => c === expected(ssh))).toHaveLength(ssh.retry!.attempts);
    expect(sb.sleeps).toEqual(Array(ssh.retry!.attempts - 1).fill(ssh.retry!.delaySeconds * 1000));
  });

  test('a folder nothing made fails the step writing into it: ssh-keygen without ssh-key:dir (issue 20, defect 1)', async () => {
    const sb = sandbox();
    const without = plan.filter((s) => s.id !== 'ssh-key:dir');
    const error = await runPlan(without, sb.options({ phases: [1] })).catch((e: unknown) => e);
    expect((error as StepFailed).step.id).toBe('ssh-key:pair');
    expect((error as StepFailed).message).toMatch(/Saving key.*No such file or directory/);
  });

  test('a stand-in refuses a repository path that does not exist, even when the plan declares no inputs', async () => {
    const sb = sandbox();
    const undeclared = plan.filter((s) => s.id !== 'kolla-config:passwords').map(({ reads: _r, ...s }) => s);
    const error = await runPlan(undeclared, sb.options({ phases: [1] })).catch((e: unknown) => e);
    expect((error as StepFailed).step.id).toBe('kolla-config:genpwd');
    expect((error as StepFailed).message).toContain(`stand-in kolla-genpwd: ${p.passwords}: No such file or directory`);
  });

  test('the runner refuses a step whose declared input is missing, before running it', async () => {
    const sb = sandbox();
    rmSync(join(sb.root, p.render, 'kolla/globals.yml'));
    await expect(runPlan(plan, sb.options({ phases: [1] }))).rejects.toThrow(`step kolla-config:globals reads ${p.render}/kolla/globals.yml, which does not exist`);
  });

  test('resume runs a step again when the content of its input changed (a re-rendered globals.yml is copied and deployed)', async () => {
    const sb = sandbox();
    await runPlan(plan, sb.options());
    const globals = join(sb.root, p.render, 'kolla/globals.yml');
    writeFileSync(globals, `${readFileSync(globals, 'utf8')}enable_heat: "yes"\n`);
    const r = await runPlan(plan, sb.options());
    expect(r.ran).toEqual(['preflight:phase1', 'kolla-config:globals', 'certificates', 'bootstrap-servers', 'prechecks', 'deploy', 'post-deploy', 'preflight:phase2', 'reconfigure']);
    expect(readFileSync(join(sb.root, p.kolla, 'globals.yml'), 'utf8')).toContain('enable_heat: "yes"');
  });
});
