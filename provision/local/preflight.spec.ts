// `lab up` judges the spec with the preflight layer before it changes anything: a spec that loads (its schema and
// addresses are fine) but breaks a design rule stops with the failing check's message, and no namespace exists.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, test } from 'vitest';
import { loadLab, repoRoot } from '../../helpers/lab/load.ts';
import { listNetns } from './topology.ts';

const root = process.getuid?.() === 0;
const embedded = loadLab('embedded');
const dir = mkdtempSync(join(tmpdir(), 'sg-preflight-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The embedded spec under another name, with its floating range stretched over the external VIP. */
function vipInFloatingRange(): { file: string; vip: string } {
  const vip = embedded.vip('external').address;
  const end = embedded.spec.neutron!.externalNetwork!.floatingRange.end;
  const last = vip.replace(/\d+$/, (n) => String(Number(n) + 1));
  const text = readFileSync(embedded.file, 'utf8')
    .replace(/^name: embedded$/m, 'name: sg-preflight-probe')
    .replace(/^design: .*$/m, `design: ${join(repoRoot, 'fixtures/labs/primary/design.md')}`)
    .replace(`end: ${end}`, `end: ${last}`);
  writeFileSync(join(dir, 'lab.yaml'), text);
  const decision = '  - { id: NEU-03, title: Floating IPs clear of VIPs, source: test, checks: [pre.floating-range] }';
  writeFileSync(join(dir, 'decisions.yaml'), `lab: sg-preflight-probe\ndecisions:\n${decision}\nwaivers: []\n`);
  return { file: join(dir, 'lab.yaml'), vip };
}

describe.runIf(root)('lab up runs the preflight layer before it changes anything', () => {
  test('a VIP inside the floating range stops up with the check, the decision and the VIP; no namespace is made', async () => {
    const { file, vip } = vipInFloatingRange();
    const r = await execa('npx', ['tsx', 'provision/cli.ts', 'up', '--lab', file], { cwd: repoRoot, reject: false, all: true });
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain('the preflight layer fails for lab sg-preflight-probe');
    expect(r.all).toMatch(new RegExp(`NEU-03.*includes ${vip.replaceAll('.', '\\.')} of VIP external`));
    expect(r.all).toContain('nothing was changed');
    expect((await listNetns()).filter((n) => n.startsWith('sg-preflight-probe'))).toEqual([]);
  });
});
