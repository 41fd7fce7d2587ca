import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { loadLab } from '../../helpers/lab/load.ts';
import type { Lab } from '../../helpers/lab/model.ts';
import type { Daemon } from './component.ts';
import { renderZones } from './infra/bind.ts';
import { haproxyMinVer } from './infra/loadbalancer.ts';
import { blackboxProbes } from './infra/monitoring.ts';
import { renderSupervisor, supervisedArgv } from './supervisor.ts';
import { renderForTest, TEST_SECRETS } from './testing.ts';
import { planTopology } from './topology.ts';

const embedded = loadLab('embedded');
const other = loadLab(join(fileURLToPath(new URL('.', import.meta.url)), 'testdata/other/lab.yaml'));
const secrets = { prometheus: TEST_SECRETS.prometheus! };

/** The daemons that start at boot (the infrastructure), the supervisor config and the nodes' name files. */
function renderLab(lab: Lab) {
  const r = renderForTest(lab);
  const file = (suffix: string) => r.files.find((f) => f.path.endsWith(suffix))?.content;
  const daemons = r.all.filter((d) => !d.manual);
  return { daemons, supervisorConf: renderSupervisor(lab, r.paths, r.all), resolvConf: file('/resolv.conf'), hosts: file('/hosts') ?? '', paths: r.paths };
}
const file = (daemons: readonly Daemon[], program: string, suffix: string) => {
  const f = daemons.find((d) => d.program === program)?.files.find((x) => x.path.endsWith(suffix));
  if (!f) throw new Error(`no ${suffix} for ${program}`);
  return f.content;
};

describe('local provider rendering (embedded lab)', () => {
  const r = renderLab(embedded);

  test('every node runs sshd and a node exporter; BIND, HAProxy, keepalived, Prometheus where the roles say', () => {
    const byNode = (n: string) => r.daemons.filter((d) => d.node === n).map((d) => d.service).sort();
    expect(byNode('node1')).toEqual(['bind', 'bind-exporter', 'blackbox-exporter', 'haproxy', 'keepalived', 'node-exporter', 'prometheus', 'sshd']);
    expect(byNode('node2')).toEqual(['node-exporter', 'sshd']);
    expect(byNode('node3')).toEqual(['node-exporter', 'sshd']);
  });

  test('zones carry exactly the derived forward and reverse records', () => {
    const zones = renderZones(embedded, embedded.node('node1'));
    const forward = zones.find((z) => z.zone === 'openstack.local')!.content;
    for (const rec of embedded.dnsRecords) expect(forward).toMatch(new RegExp(`^${rec.name.split('.')[0]} IN A ${rec.address.replace(/\./g, '\\.')} `, 'm'));
    for (const p of embedded.ptrRecords) {
      const z = zones.find((x) => x.zone === p.zone)!.content;
      expect(z).toContain(`${p.ptr.slice(0, -p.zone.length - 1)} IN PTR ${p.name}.`);
    }
    const conf = file(r.daemons, 'node1-bind', 'named.conf');
    expect(conf).toContain('acl lab_recursion { 192.168.105.0/24; 10.0.1.0/24; 10.0.3.0/24; };');
    expect(conf).toContain('allow-recursion { lab_recursion; };');
    // neutron.tenantDnsServers names the external VIP: BIND answers tenants' VMs there too.
    expect(conf).toContain('listen-on port 53 { 192.168.105.101; 10.0.1.101; 10.0.3.101; 10.0.2.250; 127.0.0.1; };');
  });

  test('HAProxy terminates TLS on both VIPs with the spec minimum and serves its metrics on the job port', () => {
    const cfg = file(r.daemons, 'node1-haproxy', 'haproxy.cfg');
    expect(cfg).toContain('bind 192.168.105.101:9101');
    expect(cfg).toContain('use-service prometheus-exporter');
    for (const c of embedded.expectedCatalog) {
      const vip = embedded.vip(c.vip);
      expect(cfg).toMatch(new RegExp(`bind ${vip.address.replace(/\./g, '\\.')}:${c.port} ssl crt \\S+ ssl-min-ver TLSv1\\.2`));
    }
    expect(cfg).toContain('server node1 192.168.105.101:5000 check');
  });

  test('keepalived holds both VIPs in one VRRP instance, the external one on its own interface', () => {
    const conf = file(r.daemons, 'node1-keepalived', 'keepalived.conf');
    expect(conf).toContain('virtual_router_id 51');
    expect(conf).toContain('192.168.105.250/24 dev eth0');
    expect(conf).toContain('10.0.2.250/24 dev eth2');
  });

  test('Prometheus scrapes every expected target under the spec job names', () => {
    const yml = parse(file(r.daemons, 'node1-prometheus', 'prometheus.yml')) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    const scraped = yml.scrape_configs.filter((j) => !j.job_name.startsWith('blackbox_') || j.job_name === 'blackbox_exporter').flatMap((j) => j.static_configs[0]!.targets.map((t) => `${j.job_name} ${t}`));
    expect(scraped.sort()).toEqual(embedded.expectedTargets.filter((x) => !x.notExpected).map((t) => `${t.job} ${t.instance}`).sort());
    expect(blackboxProbes(embedded).some((p) => p.module === 'dns_lab')).toBe(true);
  });

  test('supervisor runs each daemon inside its node namespace, dropping root where the daemon does not', () => {
    const prom = r.daemons.find((d) => d.program === 'node1-prometheus')!;
    const argv = supervisedArgv(embedded, prom, r.paths);
    expect(argv.slice(0, 4)).toEqual(['/usr/bin/ip', 'netns', 'exec', 'embedded-node1']);
    expect(argv).toContain('--reuid=prometheus');
    expect(r.supervisorConf).toMatch(/\[program:node3-sshd\]\ncommand=\/usr\/bin\/ip netns exec embedded-node3 /);
    expect(r.supervisorConf).toContain(`stdout_logfile=${r.paths.logs}/node2/node-exporter.log`);
  });

  test('topology: a bridge per network with the host gateway, veths with the spec names, no address on external/vip ports', () => {
    const t = planTopology(embedded);
    expect(t.bridges.map((b) => `${b.name} ${b.address}`)).toEqual([
      'sg-management 192.168.105.1/24',
      'sg-tunnel 10.0.1.1/24',
      'sg-external 10.0.2.1/24',
      'sg-storage 10.0.3.1/24',
    ]);
    const n1 = t.veths.filter((v) => v.node === 'node1');
    expect(n1.map((v) => `${v.nic}:${v.addresses.join(',')}`)).toEqual(['eth0:192.168.105.101/24', 'eth1:10.0.1.101/24', 'eth2:', 'eth3:', 'eth4:10.0.3.101/24']);
    expect(t.namespaces.every((n) => n.defaultVia?.gateway === '192.168.105.1' && n.defaultVia.dev === 'eth0')).toBe(true);
  });

  test('TLS minimum versions map onto HAProxy keywords', () => {
    expect(haproxyMinVer('TLSv1')).toBe('TLSv1.0');
    expect(haproxyMinVer('TLSv1.3')).toBe('TLSv1.3');
  });
});

describe('local provider rendering (another lab: nothing is hard-coded)', () => {
  const r = renderLab(other);
  const everything = [r.supervisorConf, r.resolvConf ?? '', r.hosts, ...r.daemons.flatMap((d) => d.files.map((f) => f.content)), JSON.stringify(planTopology(other))].join('\n');

  test('no name, address, domain or interface of the embedded lab appears', () => {
    for (const leak of ['192.168.105', '10.0.', 'openstack.local', 'node1', 'node2', 'eth0', 'embedded', 'sg-management']) expect(everything).not.toContain(leak);
  });

  test('its own names, addresses, MTU, VRRP id and TLS policy are used', () => {
    const t = planTopology(other);
    expect(t.bridges.map((b) => `${b.name} ${b.mtu} ${b.address}`)).toEqual(['sg-admin 1450 172.31.10.254/24', 'sg-provider 1500 172.31.20.254/24']);
    expect(t.veths.map((v) => v.host)).toEqual(['ctl-a-ens3', 'ctl-a-ens4', 'ctl-a-ens5', 'ctl-b-ens3', 'ctl-b-ens5']);
    const ka = file(r.daemons, 'ctl-b-keepalived', 'keepalived.conf');
    expect(ka).toContain('virtual_router_id 77');
    expect(ka).toContain('172.31.20.100/24 dev ens5');
    expect(ka).toMatch(/priority 99/);
    const cfg = file(r.daemons, 'ctl-a-haproxy', 'haproxy.cfg');
    expect(cfg).toMatch(/bind 172\.31\.20\.100:5000 ssl crt \S+haproxy\.pem ssl-min-ver TLSv1\.3/);
    expect(cfg).toMatch(/bind 172\.31\.10\.100:5000\n/);
    expect(cfg).toContain('server ctl-b 172.31.10.12:5000 check');
    expect(file(r.daemons, 'ctl-a-bind', 'db.example.test')).toContain('cloud IN A 172.31.20.100');
    expect(file(r.daemons, 'ctl-a-prometheus', 'prometheus.yml')).toContain("targets: ['172.31.10.11:9110', '172.31.10.12:9110']");
  });
});

describe('Prometheus basic auth (monitoring.prometheus.basicAuthUser)', () => {
  const lab = loadLab('embedded');
  const r = renderLab(lab);
  const prom = r.daemons.find((d) => d.program === 'node1-prometheus')!;
  const at = (suffix: string) => prom.files.find((f) => f.path.endsWith(suffix))!;

  test('Prometheus reads a web config with the bcrypt hash, and its password file, both 0600 for its user', () => {
    expect(prom.argv).toContain(`--web.config.file=${r.paths.node('node1', 'prometheus', 'web.yml')}`);
    expect(at('/web.yml')).toMatchObject({ mode: 0o600, owner: 'prometheus', content: expect.stringContaining(`admin: '${secrets.prometheus.bcrypt}'`) });
    expect(at('/password')).toMatchObject({ mode: 0o600, owner: 'prometheus', content: secrets.prometheus.password });
  });

  test('its own scrape, the HAProxy check and the blackbox http modules log in; nothing else does', () => {
    const yml = parse(at('/prometheus.yml').content) as { scrape_configs: { job_name: string; basic_auth?: { username: string } }[] };
    expect(yml.scrape_configs.filter((j) => j.basic_auth).map((j) => [j.job_name, j.basic_auth!.username])).toEqual([['prometheus', 'admin']]);
    const cfg = file(r.daemons, 'node1-haproxy', 'haproxy.cfg');
    expect(cfg).toContain(`http-check send hdr Authorization "Basic ${Buffer.from(`admin:${secrets.prometheus.password}`).toString('base64')}"`);
    const bb = parse(file(r.daemons, 'node1-blackbox-exporter', 'blackbox.yml')) as { modules: Record<string, { http?: { basic_auth?: unknown } }> };
    expect(Object.entries(bb.modules).filter(([, m]) => m.http?.basic_auth).map(([n]) => n)).toEqual(['http_2xx', 'http_2xx_lab']);
  });

  test('a lab without basicAuthUser renders none of it', () => {
    const other = renderLab(loadLab(join(fileURLToPath(new URL('.', import.meta.url)), 'testdata/other/lab.yaml')));
    expect(other.daemons.flatMap((d) => d.files).some((f) => f.path.endsWith('/web.yml'))).toBe(false);
  });
});
