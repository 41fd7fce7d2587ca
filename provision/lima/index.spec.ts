import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { down, main, phasesFor, status, type Io } from './index.ts';
import { limaPaths } from './paths.ts';

const lab = loadLab('primary');
const root = mkdtempSync(join(tmpdir(), 'sg-lima-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'bin'));
// A stand-in limactl: `list --json` prints JSON Lines for node1 (Running) and node2 (Stopped); anything else is recorded.
writeFileSync(
  join(root, 'bin/limactl'),
  `#!/bin/sh\necho "$*" >> "${root}/limactl.log"\nif [ "$1" = list ]; then echo '{"name":"node1","status":"Running"}'; echo '{"name":"node2","status":"Stopped"}'; echo '{"name":"other","status":"Running"}'; fi\nexit 0\n`,
);
chmodSync(join(root, 'bin/limactl'), 0o755);

function io(answer = ''): Io & { lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (l) => lines.push(l), cwd: root, env: { PATH: join(root, 'bin') }, confirm: async () => answer };
}
const calls = () => readFileSync(join(root, 'limactl.log'), 'utf8').trim().split('\n');

describe('lima provider verbs (stand-in limactl)', () => {
  test('status reads limactl list --json: the lab nodes only, absent ones named', async () => {
    const s = await status(lab, io());
    expect(s.nodes.map((n) => [n.name, n.status])).toEqual([['node1', 'Running'], ['node2', 'Stopped'], ['node3', 'absent']]);
    expect(s.up).toBe(false);
  });

  test('down stops running instances; --delete asks and does nothing unless the lab name is typed', async () => {
    rmSync(join(root, 'limactl.log'), { force: true });
    await down(lab, [], io());
    expect(calls()).toEqual(['list --json', 'stop node1']);
    rmSync(join(root, 'limactl.log'), { force: true });
    await expect(down(lab, ['--delete'], io('no'))).rejects.toThrow(/not confirmed/);
    expect(calls()).not.toContain('delete --force node1');
    const state = join(root, limaPaths(lab).stateFile);
    mkdirSync(join(state, '..'), { recursive: true });
    writeFileSync(state, '{"done":{}}');
    rmSync(join(root, 'limactl.log'), { force: true });
    await down(lab, ['--delete'], io('primary'));
    expect(calls()).toEqual(['list --json', 'stop node1', 'delete --force node2', 'delete --force node1', 'disk delete node2-ceph', 'disk delete node3-lvm', 'disk delete node3-ceph']);
    expect(existsSync(state)).toBe(false);
  });

  test('render writes into the render folder; plan prints without running anything; phases follow the spec', async () => {
    const o = io();
    expect(await main(lab, 'render', [], o)).toBe(0);
    expect(existsSync(join(root, limaPaths(lab).render, 'lima/node1.yaml'))).toBe(true);
    rmSync(join(root, 'limactl.log'), { force: true });
    expect(await main(lab, 'plan', [], o)).toBe(0);
    expect(existsSync(join(root, 'limactl.log'))).toBe(false);
    expect(o.lines.at(-1)).toContain('kolla-ansible reconfigure');
    expect(phasesFor(lab, [])).toEqual([1]);
    expect(phasesFor(lab, ['--phase', '2'])).toEqual([2]);
    expect(() => phasesFor(lab, ['--phase', '3'])).toThrow(/phases are 1/);
  });
});
