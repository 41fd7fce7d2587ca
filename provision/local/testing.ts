/** For the project's own tests: a lab rendered from a throw-away state dir holding known secrets. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Lab } from '../../helpers/lab/model.ts';
import { fsidFile } from './ceph/common.ts';
import type { LabContext } from './component.ts';
import { COMPONENTS } from './components.ts';
import type { Secrets } from './infra/pki.ts';
import { secretsFile, type OpenstackSecrets } from './openstack/common.ts';
import { horizonKeyFile } from './openstack/horizon.ts';
import { plan, render, type Rendered } from './orchestrator.ts';
import { labPaths } from './paths.ts';

export const TEST_SECRETS: Secrets = { vrrpPass: 'VRRP', prometheus: { password: 'PROMPW', bcrypt: '$2y$10$testtesttesttesttesttu' } };

export const TEST_OPENSTACK_SECRETS: OpenstackSecrets = {
  adminPassword: 'ADMINPW', rabbitPassword: 'RABBITPW', metadataSecret: 'META', rbdSecretUuid: '00000000-0000-4000-8000-000000000001',
  db: { keystone: 'k', glance: 'g', placement: 'p', nova: 'n', neutron: 'q', cinder: 'c', exporter: 'e' },
  service: { glance: 'g', placement: 'p', nova: 'n', neutron: 'q', cinder: 'c' },
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
