import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { guestSsh } from '../../helpers/lab/defaults.ts';
import { cidrWithin, inRange, parseCidr } from '../../helpers/net/ip.ts';
import { transitionsText, waitFor } from '../../helpers/openstack/wait.ts';
import { hypervisorOf, pathTo, pingOnceConfigured, reachable } from '../../helpers/openstack/guest.ts';
import { northbound, northboundFindings, northboundTenant, type NeutronTenant } from '../../helpers/node/ovn.ts';
import { dnsServersFindings, resolvConfNameservers } from '../../helpers/openstack/tenant-dns.ts';

const sha = (algo: string, b: Buffer) => createHash(algo).update(b).digest('hex');

check('compute.glance-image', 'Glance stores the test image, reports it active with matching hashes and serves the same bytes', async ({ tenant }) => {
  const t = await tenant();
  t.prepare();
  const image = await t.image();
  expect(image.checksum, `image ${image.name}: Glance's md5 checksum`).toBe(sha('md5', t.imageBytes));
  if (image.os_hash_algo) expect(image.os_hash_value, `image ${image.name}: Glance's ${image.os_hash_algo}`).toBe(sha(image.os_hash_algo, t.imageBytes));
  const served = (await t.cloud.get<Buffer>('image', `/v2/images/${image.id}/file`, { binary: true })).body;
  expect(sha('sha256', served), `image ${image.name}: the ${served.length} bytes Glance serves differ from the ${t.imageBytes.length} uploaded`).toBe(sha('sha256', t.imageBytes));
});

check('compute.neutron-tenant', 'A tenant network in the tenant pool, a router on the external network, SSH/ICMP rules and a port, as Neutron and OVN made them', async ({ lab, tenant, node, attach }) => {
  const t = await tenant();
  t.prepare();
  const { network, subnet } = await t.network();
  const [router, group, port, external] = [await t.router(), await t.securityGroup(), await t.port(), await t.externalNetwork()];
  // Neutron's own view of what was created (segment, allocation), not the request the test sent.
  const seen = {
    network: (await t.cloud.get<{ network: NeutronTenant['network'] }>('network', `/v2.0/networks/${network.id}`)).body.network,
    subnet: (await t.cloud.get<{ subnet: NeutronTenant['subnet'] }>('network', `/v2.0/subnets/${subnet.id}`)).body.subnet,
    port: (await t.cloud.get<{ port: NeutronTenant['port'] }>('network', `/v2.0/ports/${port.id}`)).body.port,
    group: { id: group.id, name: group.name },
  };
  const findings: string[] = [];
  const pool = lab.spec.neutron?.tenantPool;
  if (pool && !cidrWithin(parseCidr(seen.subnet.cidr), parseCidr(pool))) findings.push(`subnet ${seen.subnet.cidr} lies outside the tenant pool ${pool}`);
  if (router.external_gateway_info?.network_id !== external.id) findings.push(`router ${router.name} has its gateway on ${router.external_gateway_info?.network_id ?? 'nothing'}, not on ${external.name}`);
  const inPool = (ip: string) => (seen.subnet.allocation_pools ?? []).some((r) => inRange(r, ip));
  if (lab.spec.neutron?.backend === 'ovn') {
    const nb = northbound(lab);
    const ovn = await northboundTenant(lab, node(nb.node.name), nb.db, { network: network.id, port: port.id, securityGroup: group.id });
    await attach("OVN's northbound view", JSON.stringify({ neutron: seen, ovn }, null, 2), 'application/json');
    findings.push(...northboundFindings(lab, seen, ovn, inPool));
  } else {
    await attach("Neutron's view", JSON.stringify(seen, null, 2), 'application/json');
    findings.push(...northboundFindings(lab, seen, { logicalSwitch: undefined, port: undefined, portGroup: undefined }, inPool).filter((f) => !/OVN|port group|logical switch/.test(f)));
    // Without OVN to read, Neutron's rules are the nearest view of what filters the port.
    for (const want of [{ protocol: 'tcp', port: guestSsh(lab).port }, { protocol: 'icmp' }]) {
      const rule = group.security_group_rules.find((r) => r.direction === 'ingress' && r.protocol === want.protocol && (!want.port || (r.port_range_min! <= want.port && r.port_range_max! >= want.port)));
      if (!rule) findings.push(`security group ${group.name} has no ingress ${want.protocol}${want.port ? `/${want.port}` : ''} rule`);
    }
  }
  expect(findings, 'the tenant network differs from the design').toEqual([]);
});

check('compute.floating-ip-range', "A floating IP comes from the spec's floating range, clear of every VIP and gateway", async ({ lab, tenant }) => {
  const t = await tenant();
  const fip = await t.floatingIp();
  const range = lab.spec.neutron?.externalNetwork?.floatingRange;
  if (!range) return expect.fail(`lab ${lab.name}: the spec states no neutron.externalNetwork.floatingRange to judge ${fip.floating_ip_address} by`);
  const taken = [...lab.vips.map((v) => `VIP ${v.name} ${v.address}`), ...lab.networks.flatMap((n) => (n.gateway ? [`gateway of ${n.name} ${n.gateway}`] : []))];
  expect(inRange(range, fip.floating_ip_address), `floating IP ${fip.floating_ip_address} (${fip.description}) lies outside ${range.start}–${range.end}`).toBe(true);
  expect(taken.filter((x) => x.endsWith(` ${fip.floating_ip_address}`)), `floating IP ${fip.floating_ip_address} is an address the lab already uses`).toEqual([]);
});

check('compute.server-boot', 'A server boots from the test image on a compute node of the spec, with its hypervisor type, a console log and a floating IP', async ({ lab, tenant, needs, attach }) => {
  const t = await tenant();
  await needs('the test image (compute.glance-image)', t.image());
  await needs('the tenant port (compute.neutron-tenant)', t.port());
  const booted = await t.server().catch(async (error: Error) => {
    await attach('diagnosis', await t.diagnosis((await t.cloud.get<{ servers: { id: string }[] }>('compute', `/servers?name=${t.nameOf('vm')}`)).body.servers[0]?.id));
    error.message += `; nova-compute services: ${await t.computeServices()}`;
    throw error;
  });
  const s = booted.server;
  await attach('state transitions', `${s.name} ACTIVE after ${booted.seconds.toFixed(1)} s: ${transitionsText(booted.transitions)}`);
  const computeHosts = lab.nodesWithRole('compute').map((n) => n.hostname);
  expect(computeHosts, `server ${s.name} landed on ${s['OS-EXT-SRV-ATTR:host']}, not on a node with the compute role`).toContain(s['OS-EXT-SRV-ATTR:host']);
  const hypervisor = await hypervisorOf(t.cloud, s['OS-EXT-SRV-ATTR:hypervisor_hostname'] ?? '');
  const want = lab.spec.compute?.hypervisorType ?? 'QEMU';
  expect(hypervisor?.hypervisor_type.toLowerCase(), `server ${s.name} runs on hypervisor ${hypervisor?.hypervisor_hostname ?? '?'} of type ${hypervisor?.hypervisor_type ?? '?'}`).toBe(want.toLowerCase());
  await attach('console log', await t.consoleLog(s.id));
  await needs('the floating IP (compute.floating-ip-range)', t.floatingIp());
  const fip = await t.associate();
  const port = await t.port();
  expect(fip.port_id, `floating IP ${fip.floating_ip_address} is associated with ${fip.port_id ?? 'nothing'}, not with port ${port.name}`).toBe(port.id);
  // Bounded by the spec's build timeout (the run's guest began to boot before this check started).
}, { timeout: 360_000 });

// Before compute.guest-reachable, which takes the floating IP away at its end: this one waits for the guest's SSH.
check('compute.guest-dns', "The guest's resolv.conf, from its subnet's DHCP, lists the spec's tenant DNS servers", async ({ lab, requires, tenant, needs, attach, notApplicable }) => {
  const want = lab.spec.neutron?.tenantDnsServers;
  if (!want) notApplicable(`lab ${lab.name}: the spec gives no neutron.tenantDnsServers`);
  requires('guest-dataplane');
  const t = await tenant();
  await needs('the server with its floating IP (compute.server-boot)', t.associate());
  const [{ server }, { subnet }] = await Promise.all([t.server(), t.network()]);
  // Read, never used: where the design's resolvers are public, a query would leave this machine.
  const resolv = await needs(`SSH to guest ${server.name} (compute.guest-reachable)`, t.guestRuns('cat /etc/resolv.conf 2>/dev/null || true', 300_000));
  await attach('/etc/resolv.conf', resolv);
  const what = `guest ${server.name} on subnet ${subnet.name} (${subnet.cidr}, no DNS servers of its own): its /etc/resolv.conf`;
  expect(dnsServersFindings(what, want!, resolvConfNameservers(resolv)), 'tenant DNS servers').toEqual([]);
  // Bounded by the server (its build timeout), the host key on the console (120 s) and SSH (300 s).
}, { timeout: 760_000 });

check('compute.guest-reachable', 'The guest answers ping and SSH with its injected key on the floating IP, and not once the IP is gone', async ({ lab, requires, tenant, needs, attach }) => {
  requires('guest-dataplane');
  const t = await tenant();
  const fip = await needs('the server with its floating IP (compute.server-boot)', t.associate());
  const { server } = await t.server();
  const port = await t.port();
  const where = `guest ${server.name} at ${fip.floating_ip_address}`;
  const t0 = Date.now();
  const consoleLog = () => t.consoleLog(server.id, undefined);
  // A slow boot may take minutes under emulation; a guest that shows its address and stays silent has a data path fault.
  const ping = await pingOnceConfigured({ address: fip.floating_ip_address, fixedIp: port.fixed_ips[0]?.ip_address ?? '', console: consoleLog, maxMs: 300_000, afterConfiguredMs: 60_000 });
  if (!ping.reached) {
    await attach('console log', await consoleLog());
    expect.fail(`${where} does not answer ping within ${ping.bound} (${await pathTo(fip.floating_ip_address)})`);
  }
  const pinged = (Date.now() - t0) / 1000;
  // The guest prints its SSH host key on the console before it starts its SSH server: SSH verifies the key against it.
  const withConsole = async (error: Error): Promise<never> => {
    await attach('console log', await consoleLog());
    throw error;
  };
  const keys = await t.hostKeys().catch(withConsole);
  const { user } = guestSsh(lab);
  const uptime = await t.guestRuns('cat /proc/uptime', 180_000).catch(withConsole);
  expect(uptime, `${where}: SSH as ${user} with the key from the metadata service, host key ${keys.fingerprints.join(', ')}`).toMatch(/^\d+/);
  await attach('reachability', `ping after ${pinged.toFixed(1)} s (address on the console after ${ping.configuredAfterS?.toFixed(1) ?? '—'} s), SSH (host key ${keys.fingerprints.join(', ')} from the console) after ${((Date.now() - t0) / 1000).toFixed(1)} s from the floating IP's association; guest uptime ${uptime}`);
  // Other layers' checks use the guest over this address (storage.volume-attach): only once they are done is it taken away.
  const holding = await t.whenOthersDone();
  if (holding.length) await attach('guest still borrowed', `taken away while ${holding.join(', ')} had not finished`);
  await t.cloud.put('network', `/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: null } });
  expect(await reachable(fip.floating_ip_address, 10_000), `${where} still answers ping after the floating IP was disassociated`).toBe(false);
  // Bounded by its waits: ping 300 s (60 s once the guest shows its address), host key on the console 120 s, SSH 180 s,
  // the other layers' checks on the guest (their own time-outs), ping gone 10 s.
}, { timeout: 1_400_000 });

check('compute.server-delete', 'Deleting the server removes it, releases its port and its floating IP', async ({ tenant, needs, attach }) => {
  const t = await tenant();
  const { server } = await needs('the server (compute.server-boot)', t.server());
  const port = await t.port();
  await t.deleteServer();
  const unbound = await waitFor(() => t.getPort(port.id), {
    what: `port ${port.name}`,
    timeoutMs: 60_000,
    state: (p) => (p ? `device ${p.device_id || '-'} host ${p['binding:host_id'] || '-'}` : 'gone'),
    done: (p) => !p || (!p.device_id && !p['binding:host_id']),
  });
  expect(unbound.value?.device_id ?? '', `port ${port.name} still belongs to deleted server ${server.name}`).toBe('');
  await t.remove('port', port.id);
  // Without a floating IP (compute.floating-ip-range failed and says why) there is none to see released.
  const fip = await t.floatingIp().catch(() => undefined);
  if (!fip) return attach('floating IP', 'none was allocated: see compute.floating-ip-range');
  const released = await waitFor(() => t.getFloatingIp(fip.id), { what: `floating IP ${fip.floating_ip_address}`, timeoutMs: 30_000, state: (f) => `port ${f.port_id ?? '-'}`, done: (f) => f.port_id === null });
  expect(released.value.port_id, `floating IP ${fip.floating_ip_address} is still bound after its server and port were deleted`).toBeNull();
  // The delete waits until the other layers' checks on the guest are done (their own time-outs).
}, { timeout: 760_000 });
