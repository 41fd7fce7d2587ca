/**
 * `lab reboot [NODE ...] [--hard]` on the Mac lab: each node's VM stopped (`--force` when hard: no clean shutdown)
 * and started again by Lima, then a wait until Docker runs the node's containers again. Without NODE the whole lab:
 * every VM off, then every VM on. The steps run through the plan runner, printed first like `lab plan`.
 */
import type { Lab, LabNode } from '../../helpers/lab/model.ts';
import type { Step } from './plan.ts';

const shell = (node: string, ...argv: string[]) => ['limactl', 'shell', '--workdir=/', node, 'sudo', ...argv];

export function rebootPlan(lab: Lab, names: readonly string[], hard: boolean): Step[] {
  const nodes: LabNode[] = names.length ? names.map((n) => lab.node(n)) : [...lab.nodes];
  const step = (group: string, node: LabNode, title: string, rest: Omit<Step, 'id' | 'phase' | 'group' | 'title'>): Step =>
    ({ id: `${group}:${node.name}`, phase: 1, group, title, always: true, ...rest });
  const stop = (n: LabNode) =>
    step('power-off', n, `${n.name} off${hard ? ' (forced: no clean shutdown)' : ''}`, { argv: ['limactl', 'stop', ...(hard ? ['--force'] : []), n.name] });
  const start = (n: LabNode) => step('power-on', n, `${n.name} booted`, { argv: ['limactl', 'start', '--tty=false', '--timeout=15m', n.name] });
  // Kolla's containers come back through their systemd units (kolla-<name>-container.service since Kolla 16) and
  // Docker enabled at boot; compute.restart-policy judges both, the persistence layer what came back.
  const back = (n: LabNode) =>
    step('containers', n, `${n.name}: Docker up again`, { argv: shell(n.name, 'systemctl', 'is-active', 'docker'), retry: { attempts: 30, delaySeconds: 10 } });
  // One node at a time keeps the others serving; the whole lab goes down together, as in a power cut.
  if (names.length) return nodes.flatMap((n) => [stop(n), start(n), back(n)]);
  return [...nodes.map(stop), ...nodes.map(start), ...nodes.map(back)];
}
