import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { GUEST_CA_BUNDLE, parseReach, publicEndpoints, reachFindings, reachScript } from '../../helpers/openstack/tenant-api.ts';

/** How long the guest waits for one name or one HTTPS answer (TLS under emulation takes well under a second). */
const ANSWER_SECONDS = 15;

// A file of its own, so that it runs beside tenant.test.ts; it borrows the run's guest (shared-guest.ts BORROWERS), so
// compute.guest-reachable takes the floating IP away only after it.
check('compute.tenant-api-reach', "From inside a tenant VM every public API name resolves and answers HTTPS verified against the lab CA", async ({ lab, requires, tenant, needs, attach }) => {
  requires('guest-dataplane');
  const t = await tenant();
  await needs('the server with its floating IP (compute.server-boot)', t.associate());
  const region = t.cloud.credentials.regionName ?? lab.region;
  const endpoints = publicEndpoints(t.cloud.catalog, region);
  expect(endpoints.length, `the catalog of lab ${lab.name} has no public endpoint in region ${region}`).toBeGreaterThan(0);
  const script = reachScript(endpoints, { caFile: GUEST_CA_BUNDLE, seconds: ANSWER_SECONDS });
  // As long as compute.guest-reachable waits for SSH: the guest began booting in the global setup.
  const out = await needs('SSH to the guest (compute.guest-reachable)', t.guestRuns(script, 180_000));
  await attach('guest output', out);
  const outcome = parseReach(out, endpoints, ANSWER_SECONDS);
  const { server } = await t.server();
  expect(reachFindings(outcome, GUEST_CA_BUNDLE), `guest ${server.name} (resolvers ${outcome.servers.join(' ') || 'none'}) cannot use the public APIs`).toEqual([]);
  // Bounded by the guest's boot (the shared server's steps), SSH within 180 s, and one answer bound per endpoint.
}, { timeout: 900_000 });
