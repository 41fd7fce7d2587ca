/** Debian's supervisor, with the lab's own config under the state dir, runs every daemon of the lab. */
import { existsSync, readFileSync } from 'node:fs';
import type { Lab } from '../../helpers/lab/model.ts';
import { quote } from '../../helpers/node/quote.ts';
import type { Daemon } from './component.ts';
import { netnsName, type LabPaths } from './paths.ts';
import { run, sleep, tryRun } from './sh.ts';

export function supervisordPid(paths: LabPaths): number | undefined {
  if (!existsSync(paths.supervisorPid)) return undefined;
  const pid = Number.parseInt(readFileSync(paths.supervisorPid, 'utf8'), 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('supervisord') && cmdline.includes(paths.supervisorConf) ? pid : undefined;
  } catch {
    return undefined;
  }
}

const ctl = (paths: LabPaths, args: string[]) => tryRun('supervisorctl', ['-c', paths.supervisorConf, ...args]);

export interface ProgramStatus {
  readonly program: string;
  readonly state: string;
  readonly pid: number | undefined;
  readonly detail: string;
}

export async function programStatus(paths: LabPaths): Promise<ProgramStatus[]> {
  if (!supervisordPid(paths)) return [];
  const { out } = await ctl(paths, ['status']);
  return out
    .split('\n')
    .map((line) => line.match(/^(\S+)\s+(\S+)\s*(.*)$/))
    .filter((m): m is RegExpMatchArray => !!m && /^[A-Z]+$/.test(m[2]!))
    .map((m) => ({ program: m[1]!, state: m[2]!, pid: Number(m[3]!.match(/pid (\d+)/)?.[1]) || undefined, detail: m[3]!.trim() }));
}

/** Start supervisord (it daemonises itself), or make the running one adopt the rendered config. */
export async function startOrUpdate(paths: LabPaths, restart: readonly string[], manual: ReadonlySet<string> = new Set()): Promise<string> {
  if (!supervisordPid(paths)) {
    await run('supervisord', ['-c', paths.supervisorConf]);
    for (let i = 0; i < 50 && !(existsSync(paths.supervisorSock) && supervisordPid(paths)); i++) await sleep(100);
    if (!supervisordPid(paths)) throw new Error(`supervisord did not start; see ${paths.supervisor}/supervisord.log`);
    return 'started supervisord';
  }
  const notes: string[] = [];
  const reread = await ctl(paths, ['reread']);
  if (!/No config updates/.test(reread.out)) {
    await ctl(paths, ['update']);
    notes.push(reread.out.trim().replace(/\s+/g, ' '));
  }
  if (restart.length > 0) {
    await ctl(paths, ['restart', ...restart]);
    notes.push(`restarted ${restart.join(' ')}`);
  }
  const down = (await programStatus(paths)).filter((p) => p.state !== 'RUNNING' && p.state !== 'STARTING' && !manual.has(p.program));
  if (down.length > 0) {
    await ctl(paths, ['start', ...down.map((p) => p.program)]);
    notes.push(`started ${down.map((p) => p.program).join(' ')}`);
  }
  return notes.join('; ') || 'all running';
}

/** Stop every program and supervisord itself; wait until its pid is gone. */
export async function shutdown(paths: LabPaths): Promise<string> {
  const pid = supervisordPid(paths);
  if (!pid) return 'not running';
  await ctl(paths, ['stop', 'all']);
  await ctl(paths, ['shutdown']);
  for (let i = 0; i < 300; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return `supervisord ${pid} stopped`;
    }
    await sleep(100);
  }
  process.kill(pid, 'SIGKILL');
  return `supervisord ${pid} killed after 30 s`;
}

export async function restartProgram(paths: LabPaths, program: string): Promise<void> {
  await run('supervisorctl', ['-c', paths.supervisorConf, 'restart', program]);
}

/** The argv supervisor runs: inside the node's namespace, with the node's hostname, as the daemon's user. */
export function supervisedArgv(lab: Lab, d: Daemon): string[] {
  const node = lab.node(d.node);
  const drop = d.user ? ['/usr/bin/setpriv', `--reuid=${d.user}`, `--regid=${d.user}`, '--init-groups', '--'] : [];
  // A daemon that sees the host's mounts (mounts: 'host') sees the host's /etc/hosts too, so it keeps the host's name,
  // which that file resolves (its config names the node): given the node's name, sudo (its root helper) asked an
  // unreachable resolver for it and waited 20 s a call, and the first guest after a cold `up` 50 s for its metadata.
  if (d.mounts === 'host') return ['/usr/bin/nsenter', `--net=/run/netns/${netnsName(lab, node)}`, '--', ...drop, ...d.argv];
  const uts = ['/usr/bin/unshare', '--uts', '--', '/bin/sh', '-c', `hostname ${quote(node.hostname)} && exec "$@"`, d.program];
  return ['/usr/bin/ip', 'netns', 'exec', netnsName(lab, node), ...uts, ...drop, ...d.argv];
}

export function renderSupervisor(lab: Lab, paths: LabPaths, daemons: readonly Daemon[]): string {
  const head = `; Rendered by stackgate (local provider) for ${lab.name}; do not edit.
[unix_http_server]
file=${paths.supervisorSock}
chmod=0700

[supervisord]
logfile=${paths.supervisor}/supervisord.log
logfile_maxbytes=5MB
logfile_backups=2
pidfile=${paths.supervisorPid}
childlogdir=${paths.logs}
identifier=stackgate-${lab.name}
nodaemon=false
minfds=4096

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://${paths.supervisorSock}
`;
  const programs = daemons.map(
    (d) => `
[program:${d.program}]
command=${supervisedArgv(lab, d).map(quote).join(' ').replace(/%/g, '%%')}
autostart=${d.manual ? 'false' : 'true'}
autorestart=true
startsecs=2
startretries=5
stopsignal=${d.stopSignal ?? 'TERM'}
stopwaitsecs=15
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=${paths.log(d.node, d.service)}
stdout_logfile_maxbytes=5MB
stdout_logfile_backups=2
`,
  );
  return head + programs.join('');
}
