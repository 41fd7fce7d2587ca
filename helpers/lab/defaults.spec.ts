import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { DEFAULTS } from './defaults.ts';
import { loadLab, parseLabSpec, repoRoot } from './load.ts';
import { southbound } from '../node/ovn.ts';

const schema = JSON.parse(readFileSync(join(repoRoot, 'fixtures/schema/lab.schema.json'), 'utf8')) as Record<string, unknown>;
/** The default of a property, found by its path of property names below the schema's properties and $defs. */
function schemaDefault(path: string): unknown {
  let node: unknown = schema;
  for (const key of path.split('.')) {
    const n = node as { properties?: Record<string, unknown>; items?: unknown; $ref?: string; oneOf?: unknown[] };
    const ref = n.$ref ? (schema.$defs as Record<string, unknown>)[n.$ref.replace('#/$defs/', '')] : n;
    // A property that is a flag or an object (persistence: true | { … }): the object's properties.
    const resolved = n.oneOf?.find((o) => (o as { properties?: unknown }).properties) ?? ref;
    const r = resolved as { properties?: Record<string, unknown>; items?: { properties?: Record<string, unknown> } };
    node = r.properties?.[key] ?? r.items?.properties?.[key];
    if (node === undefined) throw new Error(`no property ${key} on the way to ${path}`);
  }
  return (node as { default?: unknown }).default;
}

it('the defaults the checks use are the ones the lab schema documents', () => {
  const where: Record<keyof typeof DEFAULTS, string> = {
    novaPool: 'storage.ceph.novaPool',
    cinderPool: 'storage.cinder.backends.pool',
    volumeGroup: 'storage.cinder.backends.volumeGroup',
    iscsiPort: 'storage.cinder.backends.iscsiPort',
    mgrPrometheusPort: 'storage.ceph.mgrPrometheusPort',
    sshUser: 'credentials.sshUser',
    sshPort: 'credentials.sshPort',
    scratchSubnet: 'neutron.scratchSubnet',
    ovnSouthboundScheme: 'neutron.ovnSouthbound.scheme',
    ovnSouthboundPort: 'neutron.ovnSouthbound.port',
    projectName: 'credentials.project.name',
    projectDomain: 'credentials.project.domain',
    recoverySeconds: 'persistence.recoverySeconds',
    migrationTimeoutSeconds: 'compute.migrationTimeoutSeconds',
    migrationSshSeconds: 'compute.migrationSshSeconds',
    lbPort: 'loadbalancer.port',
    lbMembers: 'loadbalancer.members',
    lbRequests: 'loadbalancer.requests',
    lbDelaySeconds: 'loadbalancer.healthMonitor.delaySeconds',
    lbTimeoutSeconds: 'loadbalancer.healthMonitor.timeoutSeconds',
    lbMaxRetriesDown: 'loadbalancer.healthMonitor.maxRetriesDown',
    lbMaxRetries: 'loadbalancer.healthMonitor.maxRetries',
    lbProvisioningSeconds: 'loadbalancer.provisioningSeconds',
    amphoraImageTag: 'loadbalancer.amphora.imageTag',
    amphoraFlavor: 'loadbalancer.amphora.flavor',
  };
  for (const [key, path] of Object.entries(where)) expect(schemaDefault(path), `${key} (${path})`).toBe(DEFAULTS[key as keyof typeof DEFAULTS]);
});

it('a spec that reaches OVN over SSL without the client key, certificate and CA is refused before anything runs', () => {
  const file = join(repoRoot, 'fixtures/labs/charmed-caracal/lab.yaml');
  const text = readFileSync(file, 'utf8').replace(/, sslKey: [^,]+, sslCert: [^,]+, sslCa: [^ }]+/, '');
  expect(text).toContain('ovnSouthbound: { scheme: ssl, port: 6642 }');
  expect(() => parseLabSpec(text, file)).toThrow(/neutron\/ovnSouthbound.*sslKey/);
});

it("the OVN southbound connection follows the spec's scheme: plain TCP on Kolla, SSL with the charm's files on the charmed lab", () => {
  const primary = loadLab('primary');
  expect(southbound(primary).args).toEqual([`--db=tcp:${primary.nodesWithRole('control')[0]!.apiAddress}:6642`]);
  const charmed = southbound(loadLab('charmed-caracal'));
  expect(charmed.db).toMatch(/^ssl:[\d.]+:6642$/);
  expect(charmed.args.slice(1)).toEqual(['-p', '/etc/ovn/key_host', '-c', '/etc/ovn/cert_host', '-C', '/etc/ovn/ovn-central.crt']);
});
