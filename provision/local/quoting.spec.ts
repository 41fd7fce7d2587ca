/**
 * No spec value reaches a shell unquoted. The embedded lab is rendered (render functions only: nothing is started)
 * from a spec whose strings carry shell metacharacters wherever the schema still allows any character (prose,
 * paths), under a state folder whose path carries them too; every command line supervisor runs and every script
 * a shell sources is then read back by a real /bin/sh, word for word.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { labsDir, parseLabSpec } from '../../helpers/lab/load.ts';
import { Lab } from '../../helpers/lab/model.ts';
import type { LabSpec } from '../../helpers/lab/spec.ts';
import { quote } from '../../helpers/node/quote.ts';
import type { Daemon } from './component.ts';
import type { OpenstackSecrets } from './openstack/common.ts';
import { renderOpenrc } from './openstack/keystone.ts';
import { renderSupervisor, supervisedArgv } from './supervisor.ts';
import { renderForTest } from './testing.ts';

const EVIL = `x'y"z $(touch /tmp/sg-pwned) \`id\` ;&|<>*?[!] \\ #`;
const scratch = mkdtempSync(join(tmpdir(), 'sg-quote-'));
const pwned = join(scratch, 'pwned');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The embedded spec with metacharacters in every string the schema lets carry them. */
function evilSpec(): LabSpec {
  const spec = parse(readFileSync(join(labsDir, 'embedded', 'lab.yaml'), 'utf8')) as LabSpec & Record<string, unknown>;
  spec.title = `title ${EVIL}`;
  spec.design = `design ${EVIL}.md`;
  spec.credentials = { ...spec.credentials, caFile: `ca ${EVIL}.crt`, sshKey: `key ${EVIL}`, sshKnownHosts: `hosts ${EVIL}` };
  spec.secrets = [...(spec.secrets ?? []), `secret ${EVIL}`];
  for (const net of Object.values(spec.networks)) net.description = `net ${EVIL}`;
  const text = stringify(spec);
  // The schema must accept it: this is what an operator may write.
  return parseLabSpec(text, join(scratch, 'lab.yaml'));
}

const lab = new Lab(evilSpec(), join(scratch, 'lab.yaml'));
// The state folder is wherever the checkout is: its path may hold anything a path may.
const each = (value: string) => Object.fromEntries(['keystone', 'glance', 'placement', 'nova', 'neutron', 'cinder', 'exporter'].map((k) => [k, value]));
const secrets: OpenstackSecrets = {
  adminPassword: `pw${EVIL}`,
  rabbitPassword: 'rabbit-pw',
  db: each('db-pw'),
  service: each('svc-pw'),
  metadataSecret: 'meta-secret',
  rbdSecretUuid: '00000000-0000-4000-8000-000000000000',
};
const rendered = renderForTest(lab, join(scratch, `state ${EVIL.replace(/\//g, '_')}`), secrets);
const paths = rendered.paths;
const daemons: Daemon[] = [...rendered.all];

/** What a real /bin/sh makes of a command line: its words. */
async function words(line: string): Promise<string[]> {
  const r = await execa('/bin/sh', ['-c', `printf '%s\\0' ${line}`], { cwd: scratch });
  return r.stdout.split('\0').slice(0, -1);
}

describe('spec values on command lines', () => {
  it('renders every daemon of the embedded lab, OpenStack and Ceph included', () => {
    expect(daemons.length).toBeGreaterThan(40);
  });

  it('every command line supervisor runs gives back its exact words to /bin/sh, running nothing', async () => {
    for (const d of daemons) {
      const argv = supervisedArgv(lab, d, paths);
      expect(await words(argv.map(quote).join(' ')), d.program).toEqual(argv);
    }
    expect(existsSync('/tmp/sg-pwned') || existsSync(pwned)).toBe(false);
  });

  it('the shell scripts daemons run hold no unquoted spec value or path', () => {
    const planted = [paths.root, lab.spec.title, ...daemons.map((d) => d.node)];
    for (const d of daemons) {
      const argv = supervisedArgv(lab, d, paths);
      argv.forEach((word, i) => {
        if (word !== '-c' || !/(^|\/)(ba)?sh$/.test(argv[i - 1] ?? '')) return;
        const script = argv[i + 1]!;
        for (const v of planted) if (script.includes(v)) expect(script, `${d.program}: ${v}`).toContain(quote(v));
      });
    }
  });

  it('a host name the schema would refuse still reaches `hostname` as one word', async () => {
    const raw = structuredClone(lab.spec) as LabSpec;
    raw.nodes.node1!.hostname = `node1;touch ${pwned};$(touch ${pwned})`;
    const unchecked = new Lab(raw, join(scratch, 'lab.yaml'));
    const d = daemons.find((x) => x.node === 'node1')!;
    const argv = supervisedArgv(unchecked, d, paths);
    const script = argv[argv.indexOf('-c') + 1]!.replace(/^hostname /, "printf '%s' ");
    const r = await execa('/bin/sh', ['-c', script.replace(/ && exec .*$/, ''), 'x'], { cwd: scratch });
    expect(r.stdout).toBe(raw.nodes.node1!.hostname);
    expect(existsSync(pwned)).toBe(false);
  });

  it('admin-openrc, sourced by a shell, sets each variable to exactly its value', async () => {
    const file = join(scratch, 'openrc');
    writeFileSync(file, renderOpenrc(lab, paths, secrets));
    const r = await execa('/bin/sh', ['-c', '. "$1" && printf "%s\\n%s" "$OS_CACERT" "$OS_PASSWORD"', 'x', file], { cwd: scratch });
    expect(r.stdout).toBe(`${paths.caCert}\n${secrets.adminPassword}`);
    expect(existsSync(pwned)).toBe(false);
  });

  it('supervisord.conf has one section per daemon and every command line whole', () => {
    const conf = renderSupervisor(lab, paths, daemons);
    expect(conf.match(/^\[program:/gm)).toHaveLength(daemons.length);
    for (const d of daemons) expect(conf).toContain(`command=${supervisedArgv(lab, d, paths).map(quote).join(' ').replace(/%/g, '%%')}\n`);
  });
});
