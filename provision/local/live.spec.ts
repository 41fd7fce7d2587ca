/**
 * The embedded lab checked with independent, real clients: dig, openssl s_client and node:tls, ssh, curl.
 * Runs only as root, and only when STACKGATE_LIVE=1 (it then brings the lab up if needed) or the lab is up already.
 */
import { connect, type TLSSocket } from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { prometheusOf } from '../../helpers/prometheus/client.ts';
import { labPaths, netnsName, status, up } from './index.ts';
import { bridgeName } from './paths.ts';
import { dnsNodes } from './infra/roles.ts';
import { supervisordPid } from './supervisor.ts';
import { applyTopology, bridgeIsolated, planTopology } from './topology.ts';

const lab = loadLab(process.env.STACKGATE_LAB || 'embedded');
const paths = labPaths(lab.name);
const root = process.getuid?.() === 0;
const live = root && lab.provider === 'local' && (process.env.STACKGATE_LIVE === '1' || supervisordPid(paths) !== undefined);

async function dig(server: string, args: string[], source?: string) {
  const { stdout } = await execa('dig', [`@${server}`, ...(source ? ['-b', source] : []), '+tries=1', '+time=3', ...args]);
  const flags = stdout.match(/;; flags: ([a-z ]+);/)?.[1]?.split(' ') ?? [];
  const status = stdout.match(/status: (\w+)/)?.[1];
  const section = stdout.split(';; ANSWER SECTION:')[1]?.split('\n\n')[0] ?? '';
  const answers = section.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/));
  return { flags, status, answers, stdout };
}

function tlsConnect(host: string, port: number, servername: string, ca: Buffer): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, servername, ca, minVersion: 'TLSv1.2' }, () => resolve(s));
    s.once('error', reject);
    s.setTimeout(5000, () => reject(new Error(`TLS to ${host}:${port} timed out`)));
  });
}

describe.skipIf(!live)(`lab ${lab.name} (live, local provider)`, () => {
  beforeAll(async () => {
    if (!(await status(lab)).up) await up(lab, { log: () => undefined });
  }, 600_000);

  const dnsServer = () => {
    const n = dnsNodes(lab)[0];
    if (!n?.apiAddress) throw new Error('lab has no DNS server with an address');
    return n.apiAddress;
  };

  test('status: every service on every node is running and healthy, every VIP is held', async () => {
    const s = await status(lab);
    expect(s.services.filter((x) => !x.healthy).map((x) => `${x.program}: ${x.problems.join('; ')}`)).toEqual([]);
    expect(Object.entries(s.vips).filter(([, node]) => !node)).toEqual([]);
    expect(s.up).toBe(true);
  });

  test('a lab bridge that forwards (as after the host turns ip_forward on) is not up; the topology step of up isolates it', async () => {
    // Not the management bridge: no node routes anything off its own networks through the others.
    const mgmt = lab.networkFor('management') ?? lab.networkFor('api');
    const net = lab.networks.find((n) => n.name !== mgmt?.name) ?? lab.networks[0]!;
    const bridge = bridgeName(lab, net.name);
    const forwarding = `/proc/sys/net/ipv4/conf/${bridge}/forwarding`;
    try {
      writeFileSync(forwarding, '1');
      const s = await status(lab);
      expect(s.topology.isolated[bridge], `${bridge} forwarding 1`).toBe(false);
      expect(s.up).toBe(false);
      // What `up` (so `npm test`'s ensure, seeing the lab not up) does first; the whole `up` costs 90 s here.
      await applyTopology(planTopology(lab));
      expect(bridgeIsolated(bridge)).toBe(true);
      expect((await status(lab)).up).toBe(true);
    } finally {
      writeFileSync(forwarding, '0');
    }
  }, 300_000);

  test('namespaces carry the spec interfaces: addresses where the spec says, none on neutron-external and vip ports', async () => {
    for (const node of lab.nodes) {
      const { stdout } = await execa('ip', ['-n', netnsName(lab, node), '-j', 'addr', 'show']);
      const links = JSON.parse(stdout) as { ifname: string; mtu: number; addr_info: { family: string; local: string; prefixlen: number }[] }[];
      for (const nic of node.nics) {
        const link = links.find((l) => l.ifname === nic.name);
        expect(link, `${node.name} ${nic.name}`).toBeDefined();
        expect(link!.mtu).toBe(nic.mtu);
        const v4 = link!.addr_info.filter((a) => a.family === 'inet').map((a) => a.local);
        if (nic.use === 'address') expect(v4).toContain(nic.address);
        if (nic.use === 'neutron-external') expect(v4, `${node.name} ${nic.name} must carry no address`).toEqual([]);
        if (nic.use === 'vip') for (const a of v4) expect(lab.vips.map((v) => v.address)).toContain(a);
      }
    }
  });

  test('BIND answers every forward record authoritatively (dig +norec: aa flag)', async () => {
    for (const r of lab.dnsRecords) {
      const d = await dig(dnsServer(), ['+norec', r.name, 'A']);
      expect(d.status, r.name).toBe('NOERROR');
      expect(d.flags, r.name).toContain('aa');
      expect(d.answers.filter((a) => a[3] === 'A').map((a) => a[4])).toEqual([r.address]);
    }
  });

  test('BIND answers every PTR record authoritatively', async () => {
    for (const p of lab.ptrRecords) {
      const d = await dig(dnsServer(), ['+norec', '-x', p.address]);
      expect(d.flags, p.ptr).toContain('aa');
      expect(d.answers.filter((a) => a[3] === 'PTR').map((a) => a[4])).toEqual([`${p.name}.`]);
    }
  });

  test('recursion is offered to lab networks and refused to others', async () => {
    const allowed = lab.networks.find((n) => n.gateway && lab.spec.dns?.recursion?.includes(n.name));
    const refused = lab.networks.find((n) => n.gateway && !lab.spec.dns?.recursion?.includes(n.name));
    if (allowed) expect((await dig(dnsServer(), [lab.dnsRecords[0]!.name], allowed.gateway)).flags).toContain('ra');
    if (refused) {
      const d = await dig(dnsServer(), ['example.com', 'A'], refused.gateway);
      expect(d.status, `recursive query from ${refused.gateway} (${refused.name})`).toBe('REFUSED');
    }
  });

  test('every catalog endpoint presents a VIP certificate from the lab CA for its FQDN and IP (node:tls)', async () => {
    const ca = readFileSync(paths.caCert);
    for (const c of lab.expectedCatalog.filter((x) => x.scheme === 'https')) {
      const vip = lab.vip(c.vip);
      const s = await tlsConnect(vip.address, c.port, vip.host, ca);
      try {
        expect(s.authorized, `${vip.host}:${c.port}`).toBe(true);
        const cert = s.getPeerX509Certificate()!;
        expect(cert.checkHost(vip.host)).toBe(vip.host);
        expect(cert.checkIP(vip.address)).toBe(vip.address);
        expect(Date.parse(cert.validTo) - Date.now()).toBeGreaterThan(lab.tls.minDaysValid * 86_400_000);
      } finally {
        s.destroy();
      }
    }
  });

  test('TLS below the spec minimum is refused (openssl s_client)', async () => {
    const below: Record<string, string | undefined> = { 'TLSv1.1': '-tls1', 'TLSv1.2': '-tls1_1', 'TLSv1.3': '-tls1_2' };
    const flag = below[lab.tls.minVersion];
    const c = lab.expectedCatalog.find((x) => x.scheme === 'https');
    if (!flag || !c) return;
    const vip = lab.vip(c.vip);
    const ok = await execa('openssl', ['s_client', '-connect', `${vip.address}:${c.port}`, '-servername', vip.host, '-CAfile', paths.caCert, '-verify_return_error'], { input: '', reject: false });
    expect(ok.stdout).toContain('Verify return code: 0 (ok)');
    const old = await execa('openssl', ['s_client', '-connect', `${vip.address}:${c.port}`, flag, '-cipher', 'DEFAULT:@SECLEVEL=0'], { input: '', reject: false });
    expect(old.exitCode).not.toBe(0);
    expect(`${old.stdout}\n${old.stderr}`).not.toMatch(/Cipher is (?!\(NONE\))/);
  });

  test('ssh with the lab key reaches every node, which knows its own name (host keys pinned)', async () => {
    for (const node of lab.nodes.filter((n) => n.managementAddress)) {
      const { stdout } = await execa('ssh', [
        '-i', paths.sshKey, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${paths.knownHosts}`,
        '-o', 'ConnectTimeout=5', `root@${node.managementAddress}`, 'hostname; ip -4 -o addr show',
      ]);
      const [hostname, ...addrs] = stdout.split('\n');
      expect(hostname).toBe(node.hostname);
      for (const a of Object.values(node.addresses)) expect(addrs.join('\n')).toContain(` ${a}/`);
    }
  });

  test('Prometheus (curl through the VIP, lab CA) reports every expected target up under its spec job', async () => {
    const prom = lab.spec.monitoring?.prometheus;
    if (!prom) return;
    const vip = prom.vip ? lab.vip(prom.vip) : undefined;
    const host = vip?.host ?? lab.node(prom.node!).apiAddress!;
    const resolve = vip ? ['--resolve', `${host}:${prom.port}:${vip.address}`] : [];
    const scheme = vip && lab.tls.internal ? 'https' : 'http';
    const expected = lab.expectedTargets.filter((t) => !t.notExpected);
    const { auth } = prometheusOf(lab);
    if (prom.basicAuthUser) {
      const anonymous = await execa('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', paths.caCert, ...resolve, `${scheme}://${host}:${prom.port}/-/ready`]);
      expect(anonymous.stdout, 'Prometheus without credentials').toBe('401');
    }
    const deadline = Date.now() + 3 * 1000 * (prom.scrapeIntervalSeconds ?? 60) + 5000;
    let seen: string[] = [];
    for (;;) {
      // Basic auth as the checks log in (credentials.secretsFile), through curl's stdin so the password is in no argv.
      const { stdout } = await execa('curl', ['-sS', '--fail', '--cacert', paths.caCert, ...resolve, '-K', '-', `${scheme}://${host}:${prom.port}/api/v1/targets?state=active`], {
        input: auth ? `user = "${auth.user}:${auth.password}"\n` : '',
      });
      const targets = (JSON.parse(stdout) as { data: { activeTargets: { labels: { job: string; instance: string }; health: string }[] } }).data.activeTargets;
      seen = targets.filter((t) => t.health === 'up').map((t) => `${t.labels.job} ${t.labels.instance}`);
      if (expected.every((t) => seen.includes(`${t.job} ${t.instance}`)) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(expected.map((t) => `${t.job} ${t.instance}`).filter((t) => !seen.includes(t))).toEqual([]);
  }, 240_000);

  test('the host reaches the lab over connected routes only, and forwards nothing between lab networks', async () => {
    for (const vip of lab.vips) {
      const { stdout } = await execa('ip', ['-4', 'route', 'get', vip.address]);
      expect(stdout, vip.address).not.toMatch(/ via /);
    }
    for (const net of lab.networks) {
      const bridge = bridgeName(lab, net.name);
      expect(readFileSync(`/proc/sys/net/ipv4/conf/${bridge}/forwarding`, 'utf8').trim(), bridge).toBe('0');
    }
  });
});
