import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { hostAddresses, recursionFindings, recursionOffered, untestableSides, vantages } from '../../helpers/dns/recursion.ts';
import { expectedAnswers, lookupA, lookupPtr, sameAnswer, sameName, seen } from '../../helpers/dns/resolve.ts';
import { catalogNames, dnsServers, expectedEndpoints, labZones, serverName } from '../../helpers/dns/servers.ts';
import { DEFAULT_PROPAGATION_SECONDS, nsupdate, propagation, propagationFindings } from '../../helpers/dns/propagation.ts';
import { currentRun } from '../../helpers/gate/ledger.ts';
import { authorityFindings, serialMismatches, zoneAuthority, zoneSerial } from '../../helpers/dns/zone.ts';

/** The DNS servers of the spec; none is a reason not to apply, named after the spec. */
function serversOf(lab: Parameters<typeof dnsServers>[0], notApplicable: (reason: string) => never) {
  if (!lab.spec.dns) return notApplicable('the spec has no dns section');
  const servers = dnsServers(lab);
  if (servers.length === 0) return notApplicable('spec dns.servers names no server');
  return servers;
}

check('dns.authoritative-soa', 'every DNS server answers authoritatively for the lab domain and each reverse zone, SOA and NS consistent', async ({ lab, notApplicable, attach }) => {
  const servers = serversOf(lab, notApplicable);
  const zones = await Promise.all(servers.flatMap((s) => labZones(lab).map((zone) => zoneAuthority(s, zone))));
  await attach('SOA and NS seen', JSON.stringify(zones, null, 2), 'application/json');
  expect(authorityFindings(servers, zones), 'authority of the lab zones').toEqual([]);
});

check('dns.forward-records', 'every node management address and VIP FQDN resolves to exactly its A record on every DNS server', async ({ lab, notApplicable }) => {
  const servers = serversOf(lab, notApplicable);
  // A name with a right and a wrong address sends some clients to the wrong host: the answer set must be exact.
  const names = expectedAnswers(lab.dnsRecords);
  const answers = await Promise.all(servers.flatMap((server) => names.map(async (name) => ({ server, name, a: await lookupA(server.address, name.name) }))));
  const wrong = answers
    .filter(({ name, a }) => !sameAnswer(a.values, name.addresses))
    .map(({ server, name, a }) => `${name.what}: ${name.name} A at ${serverName(server)} is ${seen(a)}, expected exactly ${name.addresses.join(', ')}`);
  expect(wrong, 'A records').toEqual([]);
});

check('dns.reverse-records', 'every forward record has the matching PTR on every DNS server', async ({ lab, notApplicable }) => {
  const servers = serversOf(lab, notApplicable);
  const answers = await Promise.all(
    servers.flatMap((server) => lab.ptrRecords.map(async (record) => ({ server, record, ptr: await lookupPtr(server.address, record.ptr) }))),
  );
  const wrong = answers
    .filter(({ record, ptr }) => ptr.values.length !== 1 || !sameName(ptr.values[0]!, record.name))
    .map(({ server, record, ptr }) => `${record.what}: PTR ${record.ptr} (${record.address}) at ${serverName(server)} is ${seen(ptr)}, expected ${record.name}`);
  expect(wrong, 'PTR records').toEqual([]);
});

check('dns.catalog-names', 'every host name in the catalog resolves to the VIP of its interface', async ({ lab, notApplicable, attach }) => {
  const servers = serversOf(lab, notApplicable);
  // Keystone's own catalog where the lab has one (an endpoint nobody expected is judged too), with the spec's names beside it.
  const { liveCatalog, publishedEndpoints } = await import('../../helpers/openstack/catalog.ts');
  const live = lab.expectedCatalog.length > 0 ? await liveCatalog(lab) : { why: 'the spec expects no catalog' };
  const names = catalogNames(lab, [...('catalog' in live ? publishedEndpoints(live.catalog) : []), ...expectedEndpoints(lab)]);
  await attach('catalog names judged', `${'catalog' in live ? "Keystone's catalog and the spec's" : `the spec's only (Keystone's catalog not read: ${live.why})`}\n${names.map((n) => `${n.interface} ${n.host} (${n.services.join(', ')})`).join('\n')}`);
  if (names.length === 0) return notApplicable('the spec publishes no catalog endpoint under a host name');
  const answers = await Promise.all(servers.flatMap((server) => names.map(async (name) => ({ server, name, a: await lookupA(server.address, name.host) }))));
  const wrong = answers
    .filter(({ name, a }) => !name.vip || a.values.length !== 1 || a.values[0] !== name.vip.address)
    .map(({ server, name, a }) =>
      name.vip
        ? `${name.interface} endpoint host ${name.host} (${name.services.join(', ')}) at ${serverName(server)} resolves to ${seen(a)}, expected ${name.interface} VIP ${name.vip.name} ${name.vip.address}`
        : `${name.interface} endpoint host ${name.host} (${name.services.join(', ')}): the spec puts interface ${name.interface} on no VIP`,
    );
  expect(wrong, 'catalog host names').toEqual([]);
});

check('dns.recursion-policy', "recursion is offered to clients on the spec's recursion networks and refused elsewhere", async ({ lab, notApplicable, attach }) => {
  const servers = serversOf(lab, notApplicable);
  const clients = vantages(lab, hostAddresses());
  await attach('client addresses of this host', clients.map((c) => `${c.network}: ${c.address ?? 'none'} (recursion ${c.allowed ? 'allowed' : 'refused'})`).join('\n'));
  const replies = await Promise.all(
    servers.flatMap((server) => clients.flatMap((c) => (c.address ? [recursionOffered(server, { ...c, address: c.address }, lab.spec.dns!.domain)] : []))),
  );
  expect([...untestableSides(clients), ...recursionFindings(replies)], 'recursion policy').toEqual([]);
});

check('dns.secondary-serials', 'every secondary DNS server serves the SOA serial of the primary', async ({ lab, notApplicable }) => {
  const servers = serversOf(lab, notApplicable);
  if (!servers.some((s) => s.role === 'secondary')) {
    return notApplicable(`spec dns.servers has no secondary (${servers.map((s) => `${s.node} ${s.role}`).join(', ')})`);
  }
  const serials = await Promise.all(servers.flatMap((s) => labZones(lab).map((zone) => zoneSerial(s, zone))));
  expect(serialMismatches(serials), 'SOA serials').toEqual([]);
});

check('dns.secondary-propagation', 'a record added on the primary DNS server reaches every secondary within the bound', async ({ lab, notApplicable, node, attach }) => {
  const servers = serversOf(lab, notApplicable);
  const secondaries = servers.filter((s) => s.role === 'secondary');
  const primary = servers.find((s) => s.role === 'primary');
  if (secondaries.length === 0 || !primary) return notApplicable(`spec dns.servers has no primary with secondaries (${servers.map((s) => `${s.node} ${s.role}`).join(', ')})`);
  const bound = lab.spec.dns!.propagationSeconds ?? DEFAULT_PROPAGATION_SECONDS;
  const name = `sg-${currentRun().run}-propagation.${lab.spec.dns!.domain}`;
  const value = `${Date.now()}`;
  await nsupdate(node(primary.node), 'add', name, value);
  try {
    const took = await propagation(secondaries, name, value, bound * 1000);
    await attach('time to each secondary', [...took].map(([s, ms]) => `${s.node}: ${ms === undefined ? 'never' : `${ms} ms`}`).join('\n'));
    expect(await propagationFindings(took, name, value, bound), `TXT ${name} added on primary ${primary.node}`).toEqual([]);
  } finally {
    await nsupdate(node(primary.node), 'delete', name, value);
  }
});
