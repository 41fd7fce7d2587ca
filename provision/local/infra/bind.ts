/** BIND: the lab's zones (forward and reverse, from the spec's records) on every DNS node, and its exporter. */
import { createHash } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { dnsServers, labZones } from '../../../helpers/dns/servers.ts';
import { serialMismatches, zoneSerial } from '../../../helpers/dns/zone.ts';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import type { Component, Daemon, LabContext, UpContext } from '../component.ts';
import { startDaemons } from '../exec.ts';
import type { LabPaths } from '../paths.ts';
import { dnsNodes, hasJob, jobPort, need, nodeAddresses } from './roles.ts';

const hash32 = (text: string) => Number.parseInt(createHash('sha256').update(text).digest('hex').slice(0, 7), 16);

export function renderZones(lab: Lab, server: LabNode): { zone: string; file: string; content: string }[] {
  const dns = need(lab.spec.dns, 'no dns in spec');
  const domain = dns.domain;
  const ns = `${server.hostname}.${domain}.`;
  // With secondaries, the one zone all servers serve names each of them (the SOA's MNAME is the primary); alone, itself.
  const secondaries = dns.servers.some((s) => s.role === 'secondary');
  const servers = secondaries ? dnsNodes(lab).map((n) => `${n.hostname}.${domain}.`) : [ns];
  const mname = secondaries ? `${lab.node(need(dns.servers.find((s) => s.role !== 'secondary'), 'no DNS primary').node).hostname}.${domain}.` : ns;
  const head = (body: string) => {
    const nsLines = servers.map((n) => `@ IN NS ${n}\n`).join('');
    const serial = (hash32(secondaries ? nsLines + body : body) % 2_000_000_000) + 1;
    return `$TTL 300\n@ IN SOA ${mname} hostmaster.${domain}. ( ${serial} 3600 600 86400 300 )\n${nsLines}${body}`;
  };
  const forward = lab.dnsRecords
    .filter((r) => r.name === domain || r.name.endsWith(`.${domain}`))
    .map((r) => `${r.name === domain ? '@' : r.name.slice(0, -domain.length - 1)} IN A ${r.address} ; ${r.what}`)
    .join('\n');
  const out = [{ zone: domain, file: `db.${domain}`, content: head(`${forward}\n`) }];
  const byZone = new Map<string, string[]>();
  for (const p of lab.ptrRecords) {
    const rel = p.ptr.slice(0, -p.zone.length - 1);
    byZone.set(p.zone, [...(byZone.get(p.zone) ?? []), `${rel} IN PTR ${p.name}. ; ${p.what}`]);
  }
  for (const [zone, lines] of byZone) out.push({ zone, file: `db.${zone}`, content: head(`${lines.join('\n')}\n`) });
  return out;
}

/**
 * The tenants' DNS servers (neutron.tenantDnsServers) that are a VIP this node can hold (a load balancer on the VIP's
 * network): tenants' VMs reach the external network, not the management one. BIND takes the address up whenever
 * keepalived moves it here.
 */
function tenantListen(lab: Lab, node: LabNode): string[] {
  const wanted = lab.spec.neutron?.tenantDnsServers ?? [];
  const here = (network: string) => node.roles.includes('loadbalancer') && node.nics.some((i) => i.network === network);
  return lab.vips.filter((v) => wanted.includes(v.address) && here(v.network)).map((v) => v.address);
}

/** The node's role in dns.servers (a DNS node the list does not name is a primary, as before secondaries existed). */
export function dnsRole(lab: Lab, node: LabNode): 'primary' | 'secondary' {
  return lab.spec.dns?.servers.find((s) => s.node === node.name)?.role ?? 'primary';
}

function dnsAddress(node: LabNode): string {
  return need(node.apiAddress ?? nodeAddresses(node)[0], `DNS node ${node.name} has no address`);
}

/**
 * A zone statement. Without secondaries: a primary as before. With them, the primary notifies and transfers to
 * exactly the secondaries, and takes dynamic updates from its own loopback only (dns.secondary-propagation adds a
 * record there with nsupdate: no key to keep, no one else can); each secondary transfers from the primary.
 */
function primaryName(lab: Lab, node: LabNode): string {
  return dnsRole(lab, node) === 'secondary' ? (lab.spec.dns?.servers.find((s) => s.role !== 'secondary')?.node ?? node.name) : node.name;
}

type Zone = { zone: string; file: string; hash: string };

function zoneStatement(lab: Lab, dir: string, node: LabNode, zone: Zone): string {
  const nodes = (role: 'primary' | 'secondary') => dnsNodes(lab).filter((n) => dnsRole(lab, n) === role);
  const secondaries = nodes('secondary').map(dnsAddress);
  if (secondaries.length === 0) return `zone "${zone.zone}" { type primary; file "${dir}/zones/${zone.file}"; };`;
  const list = (xs: string[]) => `{ ${xs.map((x) => `${x}; `).join('')}}`;
  if (dnsRole(lab, node) === 'secondary') {
    const primaries = nodes('primary').map(dnsAddress);
    // The copy is named after the primary's content: a serial made from that content need not grow, so a changed
    // zone starts from no copy (a full transfer) rather than lose to the old copy's serial.
    const file = `${dir}/cache/${zone.file}.${zone.hash}.sec`;
    return `zone "${zone.zone}" { type secondary; primaries ${list(primaries)}; file "${file}"; };`;
  }
  return `zone "${zone.zone}" { type primary; file "${dir}/zones/${zone.file}"; notify explicit; ` +
    `also-notify ${list(secondaries)}; allow-transfer ${list(secondaries)}; allow-update { 127.0.0.1; }; };`;
}

/** The root zone of a lab that recurses: only itself, served from this server's loopback. */
const ROOT_ZONE = `$TTL 3600
@ IN SOA localhost. hostmaster.localhost. 1 3600 600 86400 3600
@ IN NS localhost.
localhost. IN A 127.0.0.1
`;

function renderBind(lab: Lab, paths: LabPaths, node: LabNode): Daemon[] {
  const dir = paths.node(node.name, 'bind');
  const secondary = dnsRole(lab, node) === 'secondary';
  // A secondary's zones come by transfer: it gets no zone file of its own to serve instead.
  const zones = secondary ? [] : renderZones(lab, node);
  const names = renderZones(lab, lab.node(primaryName(lab, node))).map((z) => ({ ...z, hash: hash32(z.content).toString(36) }));
  const recursion = (lab.spec.dns?.recursion ?? []).map((n) => lab.network(n).cidr.text);
  // Recursion with Debian's root hints would send every unknown name (this host's own, for one) to the internet's
  // root servers: a lab on this machine answers for the root itself, so such a name is NXDOMAIN at once, and nothing
  // leaves the machine. The lab's own zones are more specific and win.
  const root = recursion.length > 0 ? [{ file: 'root.zone', content: ROOT_ZONE }] : [];
  const statsPort = 8053;
  const conf = `// Rendered by stackgate (local provider) for ${lab.name}/${node.name}; do not edit.
acl lab_recursion { ${recursion.map((c) => `${c}; `).join('')}};
options {
  directory "${dir}/cache";
  pid-file "${dir}/cache/named.pid";
  session-keyfile "${dir}/cache/session.key";
  managed-keys-directory "${dir}/cache";
  listen-on port 53 { ${[...nodeAddresses(node), ...tenantListen(lab, node), '127.0.0.1'].map((a) => `${a}; `).join('')}};
  listen-on-v6 { none; };
  allow-query { any; };
  recursion ${recursion.length > 0 ? 'yes' : 'no'};
  allow-recursion { lab_recursion; };
  allow-query-cache { lab_recursion; };
  dnssec-validation no;
  notify no;
  version none;
};
controls { };
statistics-channels { inet 127.0.0.1 port ${statsPort} allow { 127.0.0.1; }; };
logging { channel stderr_log { stderr; severity info; print-time yes; }; category default { stderr_log; }; category lame-servers { null; }; };
${[...names.map((z) => zoneStatement(lab, dir, node, z)),
    // Only to those it recurses for: a name outside the lab's zones stays REFUSED to every other client.
    ...root.map((z) => `zone "." { type primary; file "${dir}/zones/${z.file}"; allow-query { lab_recursion; }; };`)]
    .join('\n')}
`;
  const addr = need(node.apiAddress ?? nodeAddresses(node)[0], `DNS node ${node.name} has no address`);
  const daemons: Daemon[] = [
    {
      node: node.name,
      service: 'bind',
      program: `${node.name}-bind`,
      argv: ['/usr/sbin/named', '-f', '-u', 'bind', '-c', `${dir}/named.conf`],
      files: [
        { path: `${dir}/named.conf`, content: conf, owner: 'bind' },
        ...[...zones, ...root].map((z) => ({ path: `${dir}/zones/${z.file}`, content: z.content, owner: 'bind' })),
      ],
      dirs: [
        { path: dir, owner: 'bind' },
        { path: `${dir}/zones`, owner: 'bind' },
        { path: `${dir}/cache`, owner: 'bind' },
      ],
      health: [{ kind: 'tcp', host: addr, port: 53 }],
    },
  ];
  if (hasJob(lab, 'bind') && node.apiAddress) {
    const port = jobPort(lab, 'bind', 9119);
    daemons.push({
      node: node.name,
      service: 'bind-exporter',
      program: `${node.name}-bind-exporter`,
      argv: ['/usr/bin/prometheus-bind-exporter', `--bind.stats-url=http://127.0.0.1:${statsPort}/`, `--web.listen-address=${node.apiAddress}:${port}`],
      user: 'prometheus',
      files: [],
      dirs: [],
      health: [{ kind: 'tcp', host: node.apiAddress, port }],
    });
  }
  return daemons;
}

const removeIn = (dir: string, suffix: string) => {
  for (const f of readdirSync(dir, { withFileTypes: true })) if (f.isFile() && f.name.endsWith(suffix)) rmSync(`${dir}/${f.name}`);
};

/**
 * The primary's zone file was rewritten (the spec changed, or BIND had dumped its dynamic updates into it): its journal
 * no longer matches (BIND would refuse the zone) and goes. The serial comes from the content and may now be below the
 * secondaries' copies (dns.secondary-propagation's updates raised them), so those go too, and the secondaries restart
 * once the primary serves: each transfers the zone afresh.
 */
function primaryRewritten(c: UpContext): Daemon[] {
  const withSecondaries = c.lab.spec.dns?.servers.some((s) => s.role === 'secondary');
  if (!withSecondaries) return [];
  const primaries = dnsNodes(c.lab).filter((n) => dnsRole(c.lab, n) === 'primary');
  // Rewritten also after `lab down`, where nothing is restarted: BIND had dumped its updates into the file at its stop.
  if (!primaries.some((n) => (c.rewritten ?? c.changed).has(`${n.name}-bind`))) return [];
  return c.daemons.filter((d) => d.service === 'bind' && dnsRole(c.lab, c.lab.node(d.node)) === 'secondary');
}

export const bind: Component = {
  name: 'bind',
  needed: (lab) => dnsNodes(lab).length > 0,
  packages: () => ['bind9', 'bind9-dnsutils', 'prometheus-bind-exporter'],
  render: ({ lab, paths }: LabContext) => dnsNodes(lab).flatMap((n) => renderBind(lab, paths, n)),
  keeps: ({ lab, paths }: LabContext) => dnsNodes(lab).map((n) => paths.node(n.name, 'bind')),
  // dns.secondary-serials takes transferred zones for granted: a secondary that has not transferred yet is not ready.
  ready: ({ lab }) => (lab.spec.dns?.servers.some((s) => s.role === 'secondary') ? [{
    what: 'every DNS secondary serves the primary\'s serial of every lab zone',
    probe: async () => {
      const serials = await Promise.all(dnsServers(lab).flatMap((s) => labZones(lab).map((z) => zoneSerial(s, z))));
      const wrong = serialMismatches(serials);
      return wrong.length === 0 || wrong.join('; ');
    },
  }] : []),
  bootstrap: async (c) => {
    if (primaryRewritten(c).length === 0) return;
    for (const n of dnsNodes(c.lab)) {
      const dir = c.paths.node(n.name, 'bind');
      removeIn(`${dir}/${dnsRole(c.lab, n) === 'primary' ? 'zones' : 'cache'}`, dnsRole(c.lab, n) === 'primary' ? '.jnl' : '.sec');
    }
  },
  configure: async (c) => {
    const secondaries = primaryRewritten(c);
    if (secondaries.length === 0) return;
    // The primary started (at boot) before bootstrap dropped its journal, and refused the zone: it loads the file alone.
    const primaries = c.daemons.filter((d) => d.service === 'bind' && dnsRole(c.lab, c.lab.node(d.node)) === 'primary');
    const again = new Set(primaries.map((d) => d.program));
    await c.step('primary loads its rewritten zone', () => startDaemons(c.lab, c.paths, primaries, again, 60_000));
    const restart = new Set(secondaries.map((d) => d.program));
    await c.step('secondaries transfer afresh', () => startDaemons(c.lab, c.paths, secondaries, restart, 60_000));
  },
};
