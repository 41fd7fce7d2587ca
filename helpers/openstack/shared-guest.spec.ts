/** The run's guests: one per compute node where the spec has several (targeted by host), one as before where it has one. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Ledger, ledgerDir } from '../gate/ledger.ts';
import { loadLab, repoRoot } from '../lab/load.ts';
import type { Cloud } from './cloud.ts';
import { guestCheckIdsIn, isSharedStep, targetedNodes, usesGuest } from './shared-guest.ts';
import { Tenant } from './tenant.ts';

const ledgerLab = 'sg-shared-guest-selftest';
afterAll(() => rmSync(ledgerDir(ledgerLab), { recursive: true, force: true }));

interface Call {
  readonly method: string;
  readonly path: string;
  readonly body: Record<string, Record<string, unknown>>;
  readonly headers: Record<string, string>;
}

/** A cloud that answers the tenant's requests as Nova and Neutron would, every server ACTIVE on the host it asked for. */
function fakeCloud(): { cloud: Cloud; calls: Call[] } {
  const calls: Call[] = [];
  const servers = new Map<string, { name: string; host: string }>();
  let n = 0;
  const answer = (method: string, path: string, body: Call['body']): unknown => {
    const named = (kind: string) => ({ id: `${kind}-${++n}`, name: String(body[kind]?.name ?? ''), status: 'ACTIVE' });
    if (path.startsWith('/v2/images?')) return { images: [{ id: 'image-1', name: 'stackgate-guest', status: 'active' }] };
    if (path === '/v2.0/networks') return { network: named('network') };
    if (path === '/v2.0/subnets') return { subnet: { ...named('subnet'), cidr: '10.96.1.0/24' } };
    if (path === '/v2.0/security-groups') return { security_group: { ...named('security_group'), security_group_rules: [] } };
    if (path.startsWith('/v2.0/security-groups/')) return { security_group: { id: 'security_group-1', name: 'sg', security_group_rules: [] } };
    if (path === '/v2.0/security-group-rules') return {};
    if (path === '/v2.0/ports') return { port: { ...named('port'), fixed_ips: [] } };
    if (path === '/flavors') return { flavor: named('flavor') };
    if (path === '/os-keypairs') return { keypair: { name: String(body.keypair?.name) } };
    if (path === '/servers' && method === 'POST') {
      const id = `server-${++n}`;
      servers.set(id, { name: String(body.server?.name), host: String(body.server?.host ?? 'placed-by-the-scheduler') });
      return { server: { id } };
    }
    const s = servers.get(path.split('/')[2] ?? '');
    if (s) return { server: { id: path.split('/')[2], name: s.name, status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': s.host } };
    throw new Error(`the fake cloud does not know ${method} ${path}`);
  };
  const request = (method: string) => async (_type: string, path: string, ...rest: unknown[]) => {
    const [body, options] = method === 'GET' ? [undefined, rest[0]] : rest;
    const headers = (options as { headers?: Record<string, string> } | undefined)?.headers ?? {};
    calls.push({ method, path, body: (body ?? {}) as Call['body'], headers });
    return { status: 200, body: answer(method, path, (body ?? {}) as Call['body']) };
  };
  const cloud = { get: request('GET'), post: request('POST'), put: request('PUT'), credentials: {}, trailText: () => '' };
  return { cloud: cloud as unknown as Cloud, calls };
}

const tenantOf = (lab: string) => {
  const { cloud, calls } = fakeCloud();
  const t = new Tenant(loadLab(lab), cloud, new Ledger(ledgerLab, { run: 'r1', pid: process.pid }, 'shared'));
  return { t, calls, boots: () => calls.filter((c) => c.method === 'POST' && c.path === '/servers') };
};

describe("the run's guests", () => {
  test('one per compute node where the spec has several, none targeted where it has one', () => {
    expect(targetedNodes(loadLab('four-node'))).toEqual(['fn2', 'fn3']);
    expect(targetedNodes(loadLab('embedded'))).toEqual([]);
    expect(targetedNodes(loadLab('all-in-one'))).toEqual([]);
  });

  test("a lab with one compute node boots one guest, placed by the scheduler, under the plain names", async () => {
    const { t, boots } = tenantOf('embedded');
    expect(t.guestNodes()).toEqual([undefined]);
    const { server } = await t.server();
    expect(boots()).toHaveLength(1);
    expect(boots()[0]!.body.server).not.toHaveProperty('host');
    expect(boots()[0]!.headers).toEqual({});
    expect(server.name).toBe('sg-r1-shared-vm');
    expect(t.targetHost(undefined)).toBeUndefined();
    expect(() => t.server('node2')).toThrow(/boots no guest of its own on node2/);
  });

  test('a lab with two compute nodes boots a guest on each, asked for on its host (Nova 2.74), each on a port of its own', async () => {
    const { t, boots, calls } = tenantOf('four-node');
    expect(t.guestNodes()).toEqual(['fn2', 'fn3']);
    const [first, second] = await Promise.all([t.server(), t.server('fn3')]);
    // The first node's guest is the plain one: asking for it by node is the same step.
    expect(await t.server('fn2')).toBe(first);
    expect(boots().map((b) => [b.body.server!.name, b.body.server!.host, b.headers['x-openstack-nova-api-version']])).toEqual([
      ['sg-r1-shared-vm', 'fn2', '2.74'],
      ['sg-r1-shared-vm-fn3', 'fn3', '2.74'],
    ]);
    expect([first.server['OS-EXT-SRV-ATTR:host'], second.server['OS-EXT-SRV-ATTR:host']]).toEqual(['fn2', 'fn3']);
    const ports = calls.filter((c) => c.path === '/v2.0/ports').map((c) => c.body.port!.name);
    expect(ports).toEqual(['sg-r1-shared-port', 'sg-r1-shared-port-fn3']);
    expect(t.guestLabel('fn3')).toBe('sg-r1-shared-vm-fn3 on fn3');
    expect(t.guestLabel(undefined)).toBe('sg-r1-shared-vm');
  });

  test("the main process publishes each guest's steps under a key of its own", () => {
    for (const step of ['server', 'port', 'server@fn3', 'fip@fn3', 'associate@fn3', 'port@fn3', 'host-keys', 'host-keys@fn3']) expect(isSharedStep(step), step).toBe(true);
    for (const step of ['image', 'network@fn3', 'server@', 'server@fn3@x']) expect(isSharedStep(step), step).toBe(false);
  });

  test('every file that boots or borrows a guest is seen to use one (its global setup begins the guests)', () => {
    for (const f of ['suites/compute/tenant.test.ts', 'suites/storage/guest.test.ts', 'suites/compute/api-reach.test.ts']) {
      expect(usesGuest(readFileSync(join(repoRoot, f), 'utf8')), f).toBe(true);
    }
    expect(usesGuest(readFileSync(join(repoRoot, 'suites/storage/ceph.test.ts'), 'utf8'))).toBe(false);
  });

  test("a file's checks that use the guest are told from those that do not (Glance's image alone boots nothing)", () => {
    const tenant = guestCheckIdsIn(readFileSync(join(repoRoot, 'suites/compute/tenant.test.ts'), 'utf8'));
    expect(tenant).toContain('compute.server-boot');
    expect(tenant).toContain('compute.guest-reachable');
    for (const id of ['compute.glance-image', 'compute.neutron-tenant', 'compute.floating-ip-range']) expect(tenant, id).not.toContain(id);
    const shared = "const boot = (t) => t.server();\ncheck('a.one', 'x', f);\ncheck('a.two', 'y', g);\n";
    expect(guestCheckIdsIn(shared)).toEqual(['a.one', 'a.two']);
    expect(guestCheckIdsIn("check('a.one', 'x', () => t.image());\ncheck('a.two', 'y', () => t.associate());\n")).toEqual(['a.two']);
  });
});
