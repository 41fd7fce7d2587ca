import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { configDrive, guestSsh, migrationBounds, noNovaCompute } from '../../helpers/lab/defaults.ts';
import { cidrWithin, inRange, parseCidr } from '../../helpers/net/ip.ts';
import { transitionsText, waitFor } from '../../helpers/openstack/wait.ts';
import { eastWestFindings, eastWestScript, parseEastWest } from '../../helpers/openstack/east-west.ts';
import { DONE_STATUS, migrationsOf, migrationText, moveServer, type MoveKind } from '../../helpers/openstack/migration.ts';
import type { Lab } from '../../helpers/lab/model.ts';
import { hypervisorOf, pathTo, pingOnceConfigured, untilSilent } from '../../helpers/openstack/guest.ts';
import { northbound, northboundFindings, northboundTenant, type NeutronTenant } from '../../helpers/node/ovn.ts';
import { dnsServersFindings, resolvConfNameservers } from '../../helpers/openstack/tenant-dns.ts';
import { METADATA_READ, metadataServiceFindings } from '../../helpers/openstack/metadata-service.ts';

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

/** " on <node>" where the run boots a guest per compute node; nothing for the one guest of a lab with one. */
const on = (node: string | undefined) => (node ? ` on ${node}` : '');
/** " (<node>)" after an attachment's name, likewise. */
const of = (node: string | undefined) => (node ? ` (${node})` : '');

check('compute.server-boot', 'A server boots from the test image on each compute node of the spec, with its hypervisor type, a console log and a floating IP', async ({ lab, tenant, needs, attach, notApplicable }) => {
  if (lab.novaComputeNodes.length === 0) notApplicable(`lab ${lab.name}: ${noNovaCompute(lab)}: no server can boot`);
  const t = await tenant();
  await needs('the test image (compute.glance-image)', t.image());
  await needs('the tenant port (compute.neutron-tenant)', t.port());
  // One guest per compute node where the spec has several, each asked for on its node and begun side by side; one
  // guest, placed by the scheduler, where it has one.
  const nodes = t.guestNodes();
  const outcomes = await Promise.all(nodes.map((node) =>
    t.server(node).then((booted) => ({ node, booted }), (error: Error) => ({ node, error }))));
  const failed = outcomes.flatMap((o) => ('error' in o ? [o] : []));
  if (failed.length > 0) {
    for (const f of failed) {
      const id = await t.findServerId(f.node).catch(() => undefined);
      await attach(`diagnosis${of(f.node)}`, await t.diagnosis(id, f.node));
    }
    const services = `; nova-compute services: ${await t.computeServices()}`;
    // Each wait names its server and, where the run targets nodes, the node ("server sg-…-vm-fn3 on fn3 went to ERROR").
    if (failed.length === 1) throw Object.assign(failed[0]!.error, { message: `${failed[0]!.error.message}${services}` });
    throw new Error(`${failed.map((f) => f.error.message).join('; ')}${services}`);
  }
  const computeHosts = lab.novaComputeNodes.map((n) => n.hostname);
  const want = lab.spec.compute?.hypervisorType ?? 'QEMU';
  const findings: string[] = [];
  for (const o of outcomes.flatMap((x) => ('booted' in x ? [x] : []))) {
    const s = o.booted.server;
    const host = s['OS-EXT-SRV-ATTR:host'] ?? '?';
    await attach(`state transitions${of(o.node)}`, `${s.name} ACTIVE after ${o.booted.seconds.toFixed(1)} s: ${transitionsText(o.booted.transitions)}`);
    const target = t.targetHost(o.node);
    if (target && host !== target) findings.push(`server ${s.name} was asked for on ${o.node} (host ${target}) and landed on ${host}`);
    if (!target && !computeHosts.includes(host)) {
      findings.push(`server ${s.name} landed on ${host}, not on a node with the compute role (${computeHosts.join(', ')})`);
    }
    const hypervisor = await hypervisorOf(t.cloud, s['OS-EXT-SRV-ATTR:hypervisor_hostname'] ?? '');
    if (hypervisor?.hypervisor_type.toLowerCase() !== want.toLowerCase()) {
      const seen = `${hypervisor?.hypervisor_hostname ?? '?'} of type ${hypervisor?.hypervisor_type ?? '?'}`;
      findings.push(`server ${s.name} runs on hypervisor ${seen}, not ${want}`);
    }
    await attach(`console log${of(o.node)}`, await t.consoleLog(s.id));
    await needs(`the floating IP${o.node ? ` of the guest on ${o.node}` : ''} (compute.floating-ip-range)`, t.floatingIp(o.node));
    const [fip, port] = await Promise.all([t.associate(o.node), t.port(o.node)]);
    if (fip.port_id !== port.id) {
      findings.push(`floating IP ${fip.floating_ip_address} is associated with ${fip.port_id ?? 'nothing'}, not with port ${port.name} of server ${s.name}`);
    }
  }
  expect(findings, `servers on ${nodes.map((n) => n ?? 'the compute node').join(', ')}`).toEqual([]);
  // Bounded by the spec's build timeout (the run's guests began to boot before this check started).
}, { timeout: 360_000 });

// Before compute.guest-reachable, which takes the floating IP away at its end: this one waits for the guest's SSH.
check('compute.guest-dns', "The guest's resolv.conf, from its subnet's DHCP, lists the spec's tenant DNS servers", async ({ lab, requires, tenant, needs, attach, notApplicable }) => {
  const want = lab.spec.neutron?.tenantDnsServers;
  if (!want) notApplicable(`lab ${lab.name}: the spec gives no neutron.tenantDnsServers`);
  requires('guest-dataplane');
  const t = await tenant();
  // Every guest: OVN answers DHCP on the chassis of the guest's port, so each compute node hands out the options.
  const findings = await Promise.all(t.guestNodes().map(async (node) => {
    await needs(`the server${on(node)} with its floating IP (compute.server-boot)`, t.associate(node));
    const [{ server }, { subnet }] = await Promise.all([t.server(node), t.network()]);
    // Read, never used: where the design's resolvers are public, a query would leave this machine.
    const read = t.guestRuns('cat /etc/resolv.conf 2>/dev/null || true', 300_000, node);
    const resolv = await needs(`SSH to guest ${t.guestLabel(node)} (compute.guest-reachable)`, read);
    await attach(`/etc/resolv.conf${of(node)}`, resolv);
    const what = `guest ${server.name}${on(node)} on subnet ${subnet.name} (${subnet.cidr}, no DNS servers of its own): its /etc/resolv.conf`;
    return dnsServersFindings(what, want!, resolvConfNameservers(resolv));
  }));
  expect(findings.flat(), 'tenant DNS servers').toEqual([]);
  // Bounded by the server (its build timeout), the host key on the console (120 s) and SSH (300 s).
}, { timeout: 760_000 });

check('compute.config-drive', "Each guest finds its config drive, as Tempest reads it: the config-2 volume with the server's own metadata", async ({ lab, requires, tenant, needs, attach, notApplicable }) => {
  if (!configDrive(lab)) notApplicable(`lab ${lab.name}: the spec says the cloud builds no config drive`);
  requires('guest-dataplane');
  const t = await tenant();
  const findings = await Promise.all(t.guestNodes().map(async (node) => {
    await needs(`the server${on(node)} with its floating IP (compute.server-boot)`, t.associate(node));
    const { server } = await t.server(node);
    const what = `guest ${server.name}${on(node)}`;
    const read = t.guestRuns(CONFIG_DRIVE_READ, 300_000, node);
    const out = await needs(`SSH to guest ${t.guestLabel(node)} (compute.guest-reachable)`, read);
    await attach(`config drive${of(node)}`, out);
    return configDriveFindings(what, server.id, out);
  }));
  expect(findings.flat(), 'config drives').toEqual([]);
  // Bounded by the server (its build timeout), the host key on the console (120 s) and SSH (300 s).
}, { timeout: 760_000 });

// Its title inline, as every check's: the redaction test reads each title from the source.
check('compute.metadata-service', "Each guest reads its own metadata and key from the metadata service (169.254.169.254), as cloud-init does without a config drive", async ({ requires, tenant, needs, attach }) => {
  requires('guest-dataplane');
  const t = await tenant();
  const findings = await Promise.all(t.guestNodes().map(async (node) => {
    await needs(`the server${on(node)} with its floating IP (compute.server-boot)`, t.associate(node));
    const { server } = await t.server(node);
    const read = t.guestRuns(METADATA_READ, 300_000, node);
    const out = await needs(`SSH to guest ${t.guestLabel(node)} (compute.guest-reachable)`, read);
    await attach(`metadata service${of(node)}`, out);
    return metadataServiceFindings(`guest ${server.name}${on(node)}`, server.id, server.key_name ?? undefined, out);
  }));
  expect(findings.flat(), 'the metadata service').toEqual([]);
  // Bounded by the server (its build timeout), the host key on the console (120 s) and SSH (300 s).
}, { timeout: 760_000 });

/** Tempest's way (remote_client.mount_config_drive): the device labelled config-2, mounted, its metadata read. */
const CONFIG_DRIVE_READ = [
  'dev=$(blkid -L config-2 -o device) || { echo "no config-2 volume; blkid lists:"; blkid; exit 0; }',
  'mkdir -p /mnt/config-2 && mount -o ro "$dev" /mnt/config-2 || { echo "the config-2 volume $dev does not mount"; exit 0; }',
  'echo "config-2 on $dev"; cat /mnt/config-2/openstack/latest/meta_data.json; echo; umount /mnt/config-2',
].join('\n');

function configDriveFindings(what: string, serverId: string, out: string): string[] {
  const first = out.split('\n')[0] ?? '';
  if (!first.startsWith('config-2 on ')) return [`${what}: ${out.trim().replaceAll('\n', '; ') || 'no answer'}`];
  const json = out.slice(out.indexOf('\n') + 1).trim();
  let uuid: unknown;
  try {
    uuid = (JSON.parse(json) as { uuid?: unknown }).uuid;
  } catch {
    return [`${what}: ${first.slice('config-2 on '.length)} holds no readable openstack/latest/meta_data.json (${json.slice(0, 200) || 'empty'})`];
  }
  return uuid === serverId ? [] : [`${what}: the config drive's meta_data.json names instance ${String(uuid)}, not ${serverId}`];
}

/** Where a check needs two compute nodes: not applicable, from the spec, on a lab with fewer. */
function twoComputeNodes(lab: Lab, notApplicable: (reason: string) => never, why: string): void {
  const compute = lab.novaComputeNodes;
  if (compute.length >= 2) return;
  if (compute.length === 0) notApplicable(`lab ${lab.name}: ${noNovaCompute(lab)}: ${why}`);
  notApplicable(`lab ${lab.name}: the spec has one compute node (${compute[0]!.name}): ${why}`);
}

// Before compute.guest-reachable, which takes the first guest's floating IP away at its end.
check('compute.east-west', 'Guests on different compute nodes reach each other on the tenant network: ping and their SSH port, through the tunnel between the chassis', async ({ lab, requires, tenant, needs, attach, notApplicable }) => {
  twoComputeNodes(lab, notApplicable, 'east-west traffic between compute nodes needs two');
  requires('guest-dataplane');
  const t = await tenant();
  const { port: sshPort } = guestSsh(lab);
  const guests = await Promise.all(t.guestNodes().map(async (node) => {
    await needs(`the server${on(node)} with its floating IP (compute.server-boot)`, t.associate(node));
    const [{ server }, port] = await Promise.all([t.server(node), t.port(node)]);
    const address = port.fixed_ips[0]?.ip_address ?? '';
    return { node, label: t.guestLabel(node), host: server['OS-EXT-SRV-ATTR:host'] ?? '?', address };
  }));
  // Two guests on one host exchange packets without a tunnel: that proves nothing here.
  const hosts = new Map<string, string[]>();
  for (const g of guests) hosts.set(g.host, [...(hosts.get(g.host) ?? []), g.label]);
  const together = [...hosts].filter(([, labels]) => labels.length > 1);
  expect(together.map(([host, labels]) => `guests ${labels.join(' and ')} both run on host ${host}`), 'each guest on a compute node of its own').toEqual([]);
  // From each guest to every other one, the sources side by side; a first packet may wait for ARP and the flows.
  const findings = await Promise.all(guests.map(async (from) => {
    const out: string[] = [];
    for (const to of guests.filter((g) => g !== from)) {
      const probe = async () => {
        const run = t.guestRuns(eastWestScript(to.address, sshPort), 180_000, from.node);
        const text = await needs(`SSH to guest ${from.label} (compute.guest-reachable)`, run);
        return { text, findings: eastWestFindings(from.label, to.label, to.address, sshPort, parseEastWest(text)) };
      };
      let seen = await probe();
      for (const until = Date.now() + 30_000; seen.findings.length > 0 && Date.now() < until; seen = await probe()) await sleep(2000);
      await attach(`east-west ${from.node} → ${to.node}`, seen.text);
      out.push(...seen.findings);
    }
    return out;
  }));
  expect(findings.flat(), 'east-west between guests on different compute nodes').toEqual([]);
  // Bounded by the guests' boot (their build timeout), SSH (180 s) and 30 s of probes per direction.
}, { timeout: 900_000 });

check('compute.guest-reachable', 'Each guest answers ping and SSH with its injected key on its floating IP, and not once the IP is gone', async ({ lab, requires, tenant, needs, attach }) => {
  requires('guest-dataplane');
  const t = await tenant();
  const { user } = guestSsh(lab);
  const problems = await Promise.all(t.guestNodes().map(async (node) => {
    const fip = await needs(`the server${on(node)} with its floating IP (compute.server-boot)`, t.associate(node));
    const { server } = await t.server(node);
    const port = await t.port(node);
    const where = `guest ${server.name}${on(node)} at ${fip.floating_ip_address}`;
    const t0 = Date.now();
    const consoleLog = () => t.consoleLog(server.id, undefined);
    const withConsole = async (why: string) => {
      await attach(`console log${of(node)}`, await consoleLog());
      return why;
    };
    // A slow boot may take minutes under emulation; a guest that shows its address and stays silent has a data path fault.
    const fixedIp = port.fixed_ips[0]?.ip_address ?? '';
    const ping = await pingOnceConfigured({ address: fip.floating_ip_address, fixedIp, console: consoleLog, maxMs: 300_000, afterConfiguredMs: 60_000 });
    if (!ping.reached) return withConsole(`${where} does not answer ping within ${ping.bound} (${await pathTo(fip.floating_ip_address)})`);
    const pinged = (Date.now() - t0) / 1000;
    // The guest prints its SSH host key on the console before it starts its SSH server: SSH verifies the key against it.
    const keys = await t.hostKeys(node).catch((error: Error) => error);
    if (keys instanceof Error) return withConsole(`${where}: ${keys.message}`);
    // A login of its own: this check's claim is that the injected key logs in.
    const uptime = await t.guestRuns('cat /proc/uptime', 180_000, node, true).catch((error: Error) => error);
    const login = `SSH as ${user} with the run's key pair (from the config drive or the metadata service), ` +
      `host key ${keys.fingerprints.join(', ')}`;
    if (uptime instanceof Error) return withConsole(`${where}: ${login}: ${uptime.message}`);
    if (!/^\d+/.test(uptime)) return `${where}: ${login}: /proc/uptime read "${uptime.slice(0, 80)}"`;
    const configured = ping.configuredAfterS?.toFixed(1) ?? '—';
    const ssh = `SSH (host key ${keys.fingerprints.join(', ')} from the console) after ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    await attach(`reachability${of(node)}`, `ping after ${pinged.toFixed(1)} s (address on the console after ${configured} s), ${ssh} from the floating IP's association; guest uptime ${uptime}`);
    return undefined;
  }));
  expect(problems.filter((p) => p !== undefined), 'every guest reachable on its floating IP').toEqual([]);
  // Other layers' checks use the guest over this address (storage.volume-attach): only once they are done is it taken
  // away. The first guest's address only: the other nodes' guests keep theirs for compute.live-migration.
  const holding = await t.whenOthersDone();
  if (holding.length) await attach('guest still borrowed', `taken away while ${holding.join(', ')} had not finished`);
  const fip = await t.associate();
  const where = `guest ${t.guestLabel(t.guestNodes()[0])} at ${fip.floating_ip_address}`;
  await t.closeGuestSessions();
  await t.cloud.put('network', `/v2.0/floatingips/${fip.id}`, { floatingip: { port_id: null } });
  // Neutron has removed the NAT from OVN's northbound when the call returns; the chassis' flows follow within moments.
  // An echo request left unanswered for 1 s (the guest answered in milliseconds before) is the proof; one answered is
  // sent again, for 3 s: a NAT left behind stays for good, so longer would tell no more.
  const silent = await untilSilent(fip.floating_ip_address, 3000);
  expect(silent, `${where} still answers ping 3 s after the floating IP was disassociated`).toBe(true);
  // Bounded by its waits: ping 300 s (60 s once the guest shows its address), host key on the console 120 s, SSH 180 s
  // (the guests side by side), the other layers' checks on the guest (their own time-outs), ping gone 4 s.
}, { timeout: 1_400_000 });

// After compute.guest-reachable: the other layers' checks are done with the guests, and the last node's guest still
// has its floating IP. It moves that guest to the first compute node.
check('compute.live-migration', 'A running guest live-migrates to another compute node (cold migration where the spec says live is impossible), keeps its addresses and answers SSH with the same host key', async ({ lab, requires, tenant, needs, attach, notApplicable }) => {
  twoComputeNodes(lab, notApplicable, 'a server can only move between two');
  requires('guest-dataplane');
  const cold = lab.lacks('live-migration');
  const kind: MoveKind = cold ? 'cold' : 'live';
  const named = cold ? `cold migration (lab ${lab.name} lacks live-migration: ${cold})` : 'live migration';
  const t = await tenant();
  const nodes = t.guestNodes() as string[];
  const from = nodes.at(-1)!;
  const to = lab.node(nodes[0]!);
  const label = t.guestLabel(from);
  const fip = await needs(`the server on ${from} with its floating IP (compute.server-boot)`, t.associate(from));
  const [{ server }, port] = await Promise.all([t.server(from), t.port(from)]);
  const fixed = port.fixed_ips[0]?.ip_address ?? '';
  const keys = await needs(`the host key of guest ${label} on its console (compute.guest-reachable)`, t.hostKeys(from));
  // Logins of their own: after the move the guest must answer SSH with the host key it had.
  const bootIdOf = (withinMs: number) => t.guestRuns('cat /proc/sys/kernel/random/boot_id', withinMs, from, true);
  const bootId = await needs(`SSH to guest ${label} (compute.guest-reachable)`, bootIdOf(180_000));
  await t.whenOthersDone();
  const bounds = migrationBounds(lab);
  const move = { to: to.hostname, kind, timeoutMs: bounds.moveSeconds * 1000, what: `${named} of server ${label} to ${to.name}`, getServer: (id: string) => t.getServer(id) };
  const moved = await moveServer(t.cloud, server, move).catch(async (error: Error) => {
    await attach('instance actions', JSON.stringify(await t.serverActions(server.id), null, 1), 'application/json');
    const records = await migrationsOf(t.cloud, server.id).catch((e: Error) => e.message);
    await attach('migrations', JSON.stringify(records, null, 1), 'application/json');
    throw error;
  });
  await attach(named, `${server.name}: ${from} → ${to.name} in ${moved.seconds.toFixed(1)} s, ${migrationText(moved.migration)}: ${transitionsText(moved.transitions)}`);
  const findings: string[] = [];
  const what = `server ${server.name} after its ${named} from ${from} to ${to.name}`;
  const done = DONE_STATUS[kind];
  if (moved.migration?.status !== done) findings.push(`${what}: ${migrationText(moved.migration)}, not ${done}`);
  const addresses = Object.values(moved.server.addresses ?? {}).flat().map((a) => a.addr);
  if (!addresses.includes(fixed)) findings.push(`${what}: its addresses are ${addresses.join(', ') || 'none'}, no longer ${fixed}`);
  const [nowFip, nowPort] = await Promise.all([t.getFloatingIp(fip.id), t.getPort(port.id)]);
  if (nowFip.port_id !== port.id || nowFip.fixed_ip_address !== fixed) {
    const points = `port ${nowFip.port_id ?? 'none'} ${nowFip.fixed_ip_address ?? ''}`;
    findings.push(`${what}: floating IP ${fip.floating_ip_address} points at ${points}, not ${port.name} ${fixed}`);
  }
  const bound = nowPort?.['binding:host_id'] || 'no host';
  if (bound !== to.hostname) findings.push(`${what}: port ${port.name} is bound to ${bound}, not ${to.hostname}`);
  // A cold migration boots the guest again, and this guest makes a new host key at every boot: read it anew.
  if (cold) t.forgetHostKeys(from);
  const t0 = Date.now();
  const after = await bootIdOf(bounds.sshSeconds * 1000).then((out) => out, (error: Error) => error);
  if (after instanceof Error) {
    const key = cold ? '' : ` with host key ${keys.fingerprints.join(', ')}`;
    findings.push(`${what}: no SSH on ${fip.floating_ip_address} within ${bounds.sshSeconds} s${key}: ${after.message}`);
  } else {
    await attach('after the move', `SSH on ${fip.floating_ip_address} after ${((Date.now() - t0) / 1000).toFixed(1)} s; boot id ${bootId} before, ${after} after`);
    // A live migration keeps the guest running: the same kernel boot, not a reboot on the other node.
    if (!cold && after !== bootId) findings.push(`${what}: the guest booted again (boot id ${bootId} before, ${after} after)`);
  }
  expect(findings, `${named} of guest ${label}`).toEqual([]);
  // Bounded by SSH before (180 s), the other layers' checks on the guests (their own time-outs), the move and SSH after
  // (compute.migrationTimeoutSeconds, compute.migrationSshSeconds).
}, { timeout: 1_800_000 });

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
