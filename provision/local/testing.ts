/** For the project's own tests: a lab rendered from a throw-away state dir holding known secrets. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot } from '../../helpers/lab/load.ts';
import type { Lab } from '../../helpers/lab/model.ts';
import { fsidFile } from './ceph/common.ts';
import type { Daemon, LabContext, RenderedFile } from './component.ts';
import { COMPONENTS } from './components.ts';
import type { Secrets } from './infra/pki.ts';
import { secretsFile, type OpenstackSecrets } from './openstack/common.ts';
import { horizonKeyFile } from './openstack/horizon.ts';
import { plan, render, type Rendered } from './orchestrator.ts';
import { labPaths } from './paths.ts';
import { supervisedArgv } from './supervisor.ts';

export const TEST_SECRETS: Secrets = { vrrpPass: 'VRRP', prometheus: { password: 'PROMPW', bcrypt: '$2y$10$testtesttesttesttesttu' } };

export const TEST_OPENSTACK_SECRETS: OpenstackSecrets = {
  adminPassword: 'ADMINPW', rabbitPassword: 'RABBITPW', metadataSecret: 'META', rbdSecretUuid: '00000000-0000-4000-8000-000000000001',
  db: { keystone: 'k', glance: 'g', placement: 'p', nova: 'n', neutron: 'q', cinder: 'c', octavia: 'o', exporter: 'e' },
  service: { glance: 'g', placement: 'p', nova: 'n', neutron: 'q', cinder: 'c', octavia: 'o' },
};

export const TEST_FSID = '11111111-2222-4333-8444-555555555555';

/** The lab's state dir under `base` (a fresh temporary one by default) with known secrets, as `lab up` leaves it. */
export function testContext(
  lab: Lab, base = mkdtempSync(join(tmpdir(), 'sg-render-')), openstack: OpenstackSecrets = TEST_OPENSTACK_SECRETS,
): LabContext {
  const paths = labPaths(lab.name, base);
  const put = (file: string, content: string) => {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  };
  put(paths.passwords, JSON.stringify(TEST_SECRETS));
  put(secretsFile(paths), JSON.stringify(openstack));
  put(fsidFile(paths), `${TEST_FSID}\n`);
  put(horizonKeyFile(paths), 'TEST-HORIZON-KEY');
  return { lab, paths };
}

/** Every component the spec needs, rendered from a test state dir. */
export function renderForTest(lab: Lab, base?: string, openstack?: OpenstackSecrets): Rendered & LabContext {
  const ctx = testContext(lab, base, openstack);
  return { ...ctx, ...render(ctx, plan(lab, COMPONENTS)) };
}

/**
 * A rendered lab as stable text, for a file snapshot: every daemon (argv, user, dirs, health, files) and every loose
 * file, a file's content printed once; the state dir and the checkout read `<state>` and `<repo>`, so a render before
 * and after a change compares line by line.
 */
export function renderedText(r: Rendered & LabContext): string {
  const seen = new Set<string>();
  const where = (s: string) => s.replaceAll(r.paths.root, '<state>').replaceAll(repoRoot, '<repo>');
  const file = (f: RenderedFile) => {
    const meta = `  file ${where(f.path)}${f.mode === undefined ? '' : ` mode ${f.mode.toString(8)}`}${f.owner ? ` owner ${f.owner}` : ''}`;
    if (seen.has(f.path)) return [`${meta} (as above)`];
    seen.add(f.path);
    return [meta, ...where(f.content).split('\n').map((l) => `    | ${l}`)];
  };
  const daemon = (d: Daemon) => [
    `daemon ${d.program}${d.user ? ` user ${d.user}` : ''}${d.manual ? '' : ' at-boot'}${d.mounts ? ` mounts ${d.mounts}` : ''}`,
    `  argv ${where(JSON.stringify(d.argv))}`,
    // Where supervisor's wrapping is not the plain `ip netns exec` of every other daemon, the whole command line.
    ...(d.mounts ? [`  supervised ${where(JSON.stringify(supervisedArgv(r.lab, d, r.paths)))}`] : []),
    ...d.dirs.map((x) => `  dir ${where(x.path)}${x.owner ? ` owner ${x.owner}` : ''}${x.mode === undefined ? '' : ` mode ${x.mode.toString(8)}`}`),
    ...d.health.map((h) => `  health ${h.kind === 'tcp' ? `tcp ${h.host}:${h.port}` : `vip ${h.address}`}`),
    ...(d.stopSignal ? [`  stop ${d.stopSignal}`] : []),
    ...d.files.flatMap(file),
  ];
  return [...r.all.flatMap(daemon), 'loose files', ...r.files.flatMap(file), ''].join('\n');
}
