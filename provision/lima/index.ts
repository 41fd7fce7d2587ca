/**
 * The `lima` provider: `lab render | plan | up | status | down` for a lab whose spec says provider: lima (the primary
 * lab: Kolla-Ansible on Lima VMs on macOS, Ceph by cephadm). Renders from the spec, then drives limactl,
 * kolla-ansible and cephadm; it re-implements none of them.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { execa } from 'execa';
import { tcpOpen } from '../../helpers/node/tcp.ts';
import { repoRoot } from '../../helpers/lab/load.ts';
import type { Lab } from '../../helpers/lab/model.ts';
import { writeRender } from '../render/index.ts';
import { diskDevices } from '../render/lima.ts';
import { limaPaths } from './paths.ts';
import { buildPlan, formatPlan, type Phase } from './plan.ts';
import { rebootPlan } from './reboot.ts';
import { readState, runPlan } from './run.ts';
import { adoptScale, appliedLab, buildScalePlan, formatScalePlan, limaScaleRefusals, recordApplied } from './scale.ts';
import { nodeChange, nodesChanged } from '../local/change.ts';

export const USAGE = `lima provider:
  npm run lab -- render [--lab NAME]                 render into .stackgate/<lab>/render/ (git-ignored)
  npm run lab -- plan   [--lab NAME] [--skip-preflight]   every command \`up\` runs, by phase; runs none
  npm run lab -- up     [--lab NAME] [--phase 1|2] [--from STEP] [--skip-preflight]
  npm run lab -- status [--lab NAME] [--json]
  npm run lab -- down   [--lab NAME] [--delete [--yes]]
  npm run lab -- reboot [NODE ...] [--hard] [--lab NAME] [--plan]   VMs off and on (--plan: print the steps only)`;

export interface Io {
  readonly log: (line: string) => void;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly confirm: (question: string) => Promise<string>;
}

const defaultIo = (): Io => ({
  log: (l) => process.stdout.write(`${l}\n`),
  cwd: repoRoot,
  env: process.env,
  confirm: async (q) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await rl.question(q);
    } finally {
      rl.close();
    }
  },
});

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

/** Phases `up` runs: --phase N alone, else every phase up to the spec's storage phase. */
export function phasesFor(lab: Lab, argv: readonly string[]): Phase[] {
  const p = flag(argv, '--phase');
  if (p !== undefined) {
    if (p !== '1' && p !== '2') throw new Error(`--phase ${p}: the phases are 1 (VMs, Kolla, LVM) and 2 (Ceph)`);
    if (p === '2' && !lab.ceph) throw new Error(`lab ${lab.name} has no Ceph, so no phase 2`);
    return [Number(p) as Phase];
  }
  return lab.ceph && lab.storagePhase >= 2 ? [1, 2] : [1];
}

interface Instance {
  name: string;
  status: string;
}

async function instances(io: Io): Promise<Instance[]> {
  const r = await execa('limactl', ['list', '--json'], { cwd: io.cwd, env: io.env, reject: false });
  if (r.exitCode !== 0) throw new Error(`limactl list --json failed (exit ${String(r.exitCode)}): ${String(r.stderr || r.message).trim()}`);
  return String(r.stdout)
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Instance);
}

export interface LimaStatus {
  readonly lab: string;
  readonly up: boolean;
  readonly nodes: { name: string; status: string; address: string | undefined; ssh: boolean }[];
  readonly vips: { name: string; address: string; port: number; open: boolean }[];
}

export async function status(lab: Lab, io: Io = defaultIo()): Promise<LimaStatus> {
  const list = await instances(io);
  const nodes = await Promise.all(
    lab.nodes.map(async (n) => ({
      name: n.name,
      status: list.find((i) => i.name === n.name)?.status ?? 'absent',
      address: n.managementAddress,
      ssh: n.managementAddress ? await tcpOpen(n.managementAddress, 22, 2000) : false,
    })),
  );
  const port = lab.spec.services?.keystone?.port ?? Object.values(lab.spec.services ?? {})[0]?.port;
  const vips = port === undefined ? [] : await Promise.all(lab.vips.map(async (v) => ({ name: v.name, address: v.address, port, open: await tcpOpen(v.address, port, 2000) })));
  return { lab: lab.name, up: nodes.every((n) => n.status === 'Running' && n.ssh), nodes, vips };
}

export function formatStatus(s: LimaStatus): string {
  return [
    `lab ${s.lab}: ${s.up ? 'up' : 'not up'}`,
    ...s.nodes.map((n) => `  ${n.name.padEnd(8)} ${n.status.padEnd(9)} ${n.address ?? '-'}  ssh ${n.ssh ? 'open' : 'closed'}`),
    ...s.vips.map((v) => `  VIP ${v.name.padEnd(9)} ${v.address}:${v.port} ${v.open ? 'open' : 'closed'}`),
  ].join('\n');
}

async function limactl(io: Io, args: string[]): Promise<void> {
  io.log(`  $ limactl ${args.join(' ')}`);
  const r = await execa('limactl', args, { cwd: io.cwd, env: io.env, reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`limactl ${args.join(' ')} failed (exit ${String(r.exitCode)}):\n${String(r.all ?? '').trim().split('\n').slice(-20).join('\n')}`);
}

/** Stop every instance of the lab; with --delete (confirmed), delete instances, disks and the step state. */
export async function down(lab: Lab, argv: readonly string[], io: Io = defaultIo()): Promise<void> {
  const present = new Map((await instances(io)).map((i) => [i.name, i.status]));
  const nodes = [...lab.nodes].reverse().filter((n) => present.has(n.name));
  for (const n of nodes.filter((n) => present.get(n.name) === 'Running')) await limactl(io, ['stop', n.name]);
  if (!argv.includes('--delete')) {
    io.log(`lab ${lab.name}: stopped (${nodes.map((n) => n.name).join(', ') || 'no instances'}); disks and state kept`);
    return;
  }
  const disks = lab.nodes.flatMap((n) => diskDevices(n).map((d) => d.name));
  if (!argv.includes('--yes')) {
    const answer = await io.confirm(`Delete Lima instances ${nodes.map((n) => n.name).join(', ') || '(none)'} and disks ${disks.join(', ')} of lab ${lab.name}? Type the lab name to confirm: `);
    if (answer.trim() !== lab.name) throw new Error('not confirmed: nothing deleted');
  }
  for (const n of nodes) await limactl(io, ['delete', '--force', n.name]);
  for (const d of disks) await limactl(io, ['disk', 'delete', d]).catch((e: unknown) => io.log(`  (disk ${d}: ${(e as Error).message.split('\n')[0]})`));
  const p = limaPaths(lab);
  rmSync(join(io.cwd, p.stateFile), { force: true });
  io.log(`lab ${lab.name}: deleted; step state cleared (secrets under ${p.state} kept)`);
}

/**
 * The running lab gained or lost nodes since the last `up`: Kolla's scale steps (scale.ts) with a state of their own
 * (resumable with --from), then the full plan's record brought to the new spec, and the new spec recorded.
 */
async function scale(
  before: Lab, lab: Lab, o: { skipPreflight: boolean; from: string | undefined; io: Io },
): Promise<number> {
  const refused = limaScaleRefusals(before, lab);
  if (refused.length) {
    throw new Error(`lab ${lab.name}: the change of nodes is refused; nothing was changed:\n  ${refused.join('\n  ')}`);
  }
  const p = limaPaths(lab);
  const steps = buildScalePlan(before, lab, { skipPreflight: o.skipPreflight });
  const stateFile = join(p.lima, 'scale-state.json');
  o.io.log(formatScalePlan(before, lab, steps).trimEnd());
  const { ran } = await runPlan(steps, {
    phases: [1], ...(o.from ? { from: o.from } : {}), cwd: o.io.cwd, stateFile, logDir: p.logs,
    pathPrefix: join(p.venv, 'bin'), env: o.io.env, log: o.io.log,
  });
  const main = join(o.io.cwd, p.stateFile);
  const adopted = adoptScale(buildPlan(lab, { skipPreflight: o.skipPreflight }), readState(main), ran, o.io.cwd);
  writeFileSync(main, `${JSON.stringify(adopted, null, 2)}\n`);
  rmSync(join(o.io.cwd, stateFile), { force: true });
  recordApplied(lab, o.io.cwd);
  o.io.log(`lab ${lab.name}: scaled; the next plain up finds every step done at the new spec`);
  return 0;
}

export async function main(lab: Lab, verb: string, argv: readonly string[], io: Io = defaultIo()): Promise<number> {
  const p = limaPaths(lab);
  const skipPreflight = argv.includes('--skip-preflight');
  switch (verb) {
    case 'render': {
      const r = writeRender(lab, join(io.cwd, p.render));
      io.log(`rendered lab ${lab.name} into ${p.render}: ${r.written.length} written, ${r.unchanged} unchanged, ${r.removed.length} removed`);
      for (const f of r.written) io.log(`  + ${f}`);
      for (const f of r.removed) io.log(`  - ${f}`);
      return 0;
    }
    case 'plan': {
      const before = appliedLab(lab, io.cwd);
      if (before && nodesChanged(nodeChange(before, lab))) {
        const refused = limaScaleRefusals(before, lab);
        if (refused.length) io.log(`lab ${lab.name}: up would refuse the change of nodes:\n  ${refused.join('\n  ')}\n`);
        else io.log(formatScalePlan(before, lab, buildScalePlan(before, lab, { skipPreflight })));
        io.log('The full plan (what a first up runs):');
      }
      io.log(formatPlan(lab, buildPlan(lab, { skipPreflight })).trimEnd());
      return 0;
    }
    case 'up': {
      if (skipPreflight) io.log(`--skip-preflight: the preflight layer is NOT run first; lab ${lab.name} is brought up without its design being judged`);
      writeRender(lab, join(io.cwd, p.render));
      const phases = phasesFor(lab, argv);
      const from = flag(argv, '--from');
      const before = appliedLab(lab, io.cwd);
      if (before && nodesChanged(nodeChange(before, lab))) return scale(before, lab, { skipPreflight, from, io });
      io.log(`lab ${lab.name}: phase ${phases.join(' + ')}${from ? ` from ${from}` : ''}; logs in ${p.logs}`);
      await runPlan(buildPlan(lab, { skipPreflight }), {
        phases,
        ...(from ? { from } : {}),
        cwd: io.cwd,
        stateFile: p.stateFile,
        logDir: p.logs,
        pathPrefix: join(p.venv, 'bin'),
        env: io.env,
        log: io.log,
      });
      recordApplied(lab, io.cwd);
      return 0;
    }
    case 'status': {
      const s = await status(lab, io);
      io.log(argv.includes('--json') ? JSON.stringify(s, null, 2) : formatStatus(s));
      return s.up ? 0 : 1;
    }
    case 'down':
      await down(lab, argv, io);
      return 0;
    case 'ensure':
      io.log(`lab ${lab.name} (provider lima) is judged as it is; stackgate does not bring it up for a test run`);
      return 0;
    case 'reboot': {
      const names = argv.slice(argv.indexOf('reboot') + 1).filter((a, i, all) => !a.startsWith('-') && all[i - 1] !== '--lab');
      const steps = rebootPlan(lab, names, argv.includes('--hard'));
      io.log(formatPlan(lab, steps).trimEnd());
      if (argv.includes('--plan')) return 0;
      const stateFile = join(p.state, 'reboot-state.json');
      rmSync(join(io.cwd, stateFile), { force: true });
      const began = Date.now();
      await runPlan(steps, { phases: [1], cwd: io.cwd, stateFile, logDir: p.logs, env: io.env, log: io.log });
      // The persistence layer reads this line (suites/persistence/durable.ts), as it reads the embedded provider's.
      const seconds = ((Date.now() - began) / 1000).toFixed(1);
      io.log(`lab ${lab.name} recovered ${seconds} s after the power-off began (the VMs' stop and start included)`);
      return 0;
    }
    default:
      io.log(`unknown verb "${verb}" for provider lima\n${USAGE}`);
      return 2;
  }
}

