import { describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { rebootPlan } from './reboot.ts';

const lab = loadLab('primary');
const commands = (names: string[], hard: boolean) => rebootPlan(lab, names, hard).map((s) => s.argv!.join(' '));

describe('lab reboot on the Mac lab', () => {
  test('a node: its VM off, on, and Docker back; the other nodes untouched', () => {
    const node = lab.nodes[1]!.name;
    expect(commands([node], false)).toEqual([
      `limactl stop ${node}`,
      `limactl start --tty=false --timeout=15m ${node}`,
      `limactl shell --workdir=/ ${node} sudo systemctl is-active docker`,
    ]);
  });

  test('hard: forced off, no clean shutdown', () => {
    expect(commands([lab.nodes[0]!.name], true)[0]).toBe(`limactl stop --force ${lab.nodes[0]!.name}`);
  });

  test('the whole lab: every VM off before any comes back, as in a power cut', () => {
    const c = commands([], true);
    const lastOff = Math.max(...lab.nodes.map((n) => c.indexOf(`limactl stop --force ${n.name}`)));
    const firstOn = Math.min(...lab.nodes.map((n) => c.findIndex((x) => x.startsWith('limactl start') && x.endsWith(n.name))));
    expect(lastOff).toBeLessThan(firstOn);
    expect(c).toHaveLength(lab.nodes.length * 3);
  });

  test('a node the spec does not have is refused before anything runs', () => {
    expect(() => rebootPlan(lab, ['node9'], false)).toThrow(/node9/);
  });
});
