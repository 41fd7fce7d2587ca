/**
 * Fault drills of the dns layer: each edits one BIND file of the embedded lab (after a backup beside it) or stops
 * BIND, then restarts BIND through supervisor; revert restores the backup. Targets are derived from the lab spec;
 * `object` is what the embedded lab calls them.
 */
import { dnsServers, type DnsServer } from '../../../helpers/dns/servers.ts';
import { ask } from '../../../helpers/dns/wire.ts';
import type { Lab } from '../../../helpers/lab/model.ts';
import { contains } from '../../../helpers/net/ip.ts';
import { labPaths } from '../paths.ts';
import { renderZones } from '../infra/bind.ts';
import { run, sleep, tryRun } from '../sh.ts';
import { programStatus } from '../supervisor.ts';
import { fileDrill, type Drill, type FileDrill } from './drill.ts';
import { spareAddress } from './network.ts';

function primary(lab: Lab): DnsServer {
  const s = dnsServers(lab).find((x) => x.role === 'primary');
  if (!s) throw new Error(`lab ${lab.name}: spec dns.servers has no primary`);
  return s;
}

const program = (lab: Lab) => `${primary(lab).node}-bind`;
const supervisorctl = (lab: Lab, ...args: string[]) => tryRun('supervisorctl', ['-c', labPaths(lab.name).supervisorConf, ...args]);
const bindDir = (lab: Lab) => labPaths(lab.name).node(primary(lab).node, 'bind');
const namedConf = (lab: Lab) => `${bindDir(lab)}/named.conf`;

function zoneFile(lab: Lab, zone: string): string {
  const z = renderZones(lab, lab.node(primary(lab).node)).find((x) => x.zone === zone);
  if (!z) throw new Error(`lab ${lab.name}: BIND serves no zone ${zone}`);
  return `${bindDir(lab)}/zones/${z.file}`;
}

/** Restart BIND and wait until it answers again. */
async function restartBind(lab: Lab): Promise<void> {
  await supervisorctl(lab, 'restart', program(lab));
  await answering(lab);
}

/** Wait (at most 10 s) until BIND answers for the lab domain. */
async function answering(lab: Lab): Promise<void> {
  const server = primary(lab);
  let last = '';
  for (let i = 0; i < 50; i++) {
    try {
      await ask(server.address, lab.spec.dns!.domain, 'SOA', { recursionDesired: false, timeoutMs: 500 });
      return;
    } catch (error) {
      last = (error as Error).message;
      await sleep(200);
    }
  }
  throw new Error(`${program(lab)} does not answer after 10 s: ${last}`);
}

/** A drill that edits one BIND file, restarting BIND after each write. */
const bindFileDrill = (meta: Omit<Drill, 'inject' | 'revert'>, target: FileDrill['target']): FileDrill => fileDrill(meta, target, restartBind);

const lineOf = (rel: string, type: string) => new RegExp(`^${rel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+IN\\s+${type}\\s.*\\n`, 'm');

/** A node record of a node that serves no DNS (so no NS depends on it): the last one. */
function plainNodeRecord(lab: Lab) {
  const servers = new Set(dnsServers(lab).map((s) => s.node));
  const node = [...lab.nodes].reverse().find((n) => !servers.has(n.name) && n.managementAddress);
  const record = node && lab.dnsRecords.find((r) => r.what === `node ${node.name}`);
  if (!node || !record) throw new Error(`lab ${lab.name}: no node record outside the DNS servers`);
  return { node, record };
}

const relName = (name: string, zone: string) => name.replace(/\.$/, '').slice(0, -zone.length - 1);

export const dnsFileDrills: FileDrill[] = [
  bindFileDrill(
    {
      name: 'dns-ptr-missing',
      description: "the PTR record of a node that is no DNS server is deleted from its reverse zone",
      decisions: ['DNS-02'],
      checks: ['dns.reverse-records'],
      object: '103.105.168.192.in-addr.arpa',
    },
    (lab) => {
      const { record } = plainNodeRecord(lab);
      const ptr = lab.ptrRecords.find((p) => p.address === record.address)!;
      return { file: zoneFile(lab, ptr.zone), edit: (text) => text.replace(lineOf(relName(ptr.ptr, ptr.zone), 'PTR'), '') };
    },
  ),
  bindFileDrill(
    {
      name: 'dns-a-missing',
      description: 'the A record of a node that is no DNS server is deleted from the forward zone',
      decisions: ['DNS-02'],
      checks: ['dns.forward-records'],
      object: 'node3.openstack.local',
    },
    (lab) => {
      const { record } = plainNodeRecord(lab);
      const domain = lab.spec.dns!.domain;
      return { file: zoneFile(lab, domain), edit: (text) => text.replace(lineOf(relName(record.name, domain), 'A'), '') };
    },
  ),
  bindFileDrill(
    {
      name: 'dns-a-extra',
      description: 'a node name gets a second A record (an unused management address) beside its right one',
      decisions: ['DNS-02'],
      checks: ['dns.forward-records'],
      object: 'node3.openstack.local',
    },
    (lab) => {
      const { node, record } = plainNodeRecord(lab);
      const domain = lab.spec.dns!.domain;
      const mgmt = lab.networks.find((n) => n.cidr && node.managementAddress && contains(n.cidr, node.managementAddress));
      if (!mgmt) throw new Error(`lab ${lab.name}: no network holds ${record.address}`);
      const extra = spareAddress(lab, mgmt);
      return { file: zoneFile(lab, domain), edit: (text) => text.replace(lineOf(relName(record.name, domain), 'A'), (l) => `${l}${relName(record.name, domain)} IN A ${extra}\n`) };
    },
  ),
  bindFileDrill(
    {
      name: 'dns-catalog-wrong-vip',
      description: "the public endpoints' host name points at the internal VIP instead of the external one",
      decisions: ['DNS-02', 'DNS-03'],
      checks: ['dns.forward-records', 'dns.catalog-names'],
      object: 'public.openstack.local',
    },
    (lab) => {
      const domain = lab.spec.dns!.domain;
      const entry = lab.expectedCatalog.find((c) => c.interface === 'public' && c.host.endsWith(`.${domain}`));
      if (!entry) throw new Error(`lab ${lab.name}: no public catalog host in ${domain}`);
      const right = lab.vip(entry.vip);
      const wrong = lab.vips.find((v) => v.address !== right.address);
      if (!wrong) throw new Error(`lab ${lab.name}: only one VIP address, nothing to point at wrongly`);
      const line = lineOf(relName(entry.host, domain), 'A');
      return { file: zoneFile(lab, domain), edit: (text) => text.replace(line, (l) => l.replace(right.address, wrong.address)) };
    },
  ),
  bindFileDrill(
    {
      name: 'dns-recursion-open',
      description: 'BIND offers recursion to every client (allow-recursion and allow-query-cache { any; })',
      decisions: ['DNS-04'],
      checks: ['dns.recursion-policy'],
      object: 'network external',
    },
    (lab) => ({
      file: namedConf(lab),
      edit: (text) => text.replace(/allow-recursion \{[^}]*\};/, 'allow-recursion { any; };').replace(/allow-query-cache \{[^}]*\};/, 'allow-query-cache { any; };'),
    }),
  ),
  bindFileDrill(
    {
      name: 'dns-lame-ns',
      description: 'the lab domain is delegated (NS) to a node that runs no DNS server: a lame delegation',
      decisions: ['DNS-01'],
      checks: ['dns.authoritative-soa'],
      object: 'zone openstack.local',
    },
    (lab) => {
      const domain = lab.spec.dns!.domain;
      const { node } = plainNodeRecord(lab);
      return { file: zoneFile(lab, domain), edit: (text) => text.replace(/^(@\s+IN\s+NS\s+)\S+/m, `$1${node.hostname}.${domain}.`) };
    },
  ),
  bindFileDrill(
    {
      name: 'dns-reverse-zone-unserved',
      description: "BIND no longer serves the management network's reverse zone (its zone statement is removed)",
      decisions: ['DNS-01', 'DNS-02'],
      checks: ['dns.authoritative-soa', 'dns.reverse-records'],
      object: '105.168.192.in-addr.arpa',
    },
    (lab) => {
      const address = primary(lab).address;
      const zone = lab.ptrRecords.find((p) => p.address === address)?.zone;
      if (!zone) throw new Error(`lab ${lab.name}: no reverse zone for ${address}`);
      return { file: namedConf(lab), edit: (text) => text.replace(new RegExp(`^zone "${zone.replace(/\./g, '\\.')}" .*\\n`, 'm'), '') };
    },
  ),
];

export const dnsDrills: Drill[] = [
  ...dnsFileDrills,
  {
    name: 'dns-bind-stopped',
    description: 'BIND on the primary DNS node is stopped',
    decisions: ['DNS-01', 'DNS-02', 'DNS-03', 'DNS-04'],
    checks: ['dns.authoritative-soa', 'dns.forward-records', 'dns.reverse-records', 'dns.catalog-names', 'dns.recursion-policy'],
    object: 'node1',
    async inject(lab) {
      await supervisorctl(lab, 'stop', program(lab));
      const state = (await programStatus(labPaths(lab.name))).find((p) => p.program === program(lab))?.state;
      if (state !== 'STOPPED') throw new Error(`${program(lab)} is ${state ?? 'unknown'} after stop`);
    },
    async revert(lab) {
      const state = (await programStatus(labPaths(lab.name))).find((p) => p.program === program(lab))?.state;
      if (state === 'RUNNING') return;
      await run('supervisorctl', ['-c', labPaths(lab.name).supervisorConf, 'start', program(lab)]);
      await answering(lab);
    },
  },
];
