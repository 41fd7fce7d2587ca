import { describe, expect, it } from 'vitest';
import { caUserData, parseReach, publicEndpoints, reachFindings, reachScript, resolvedAddresses, type PublicEndpoint } from './tenant-api.ts';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIBzz\nAbCd==\n-----END CERTIFICATE-----';
const keystone: PublicEndpoint = { service: 'keystone', url: 'https://public.openstack.local:5000', host: 'public.openstack.local', port: 5000, path: '/' };
const nova: PublicEndpoint = { service: 'nova', url: 'https://public.openstack.local:8774/v2.1', host: 'public.openstack.local', port: 8774, path: '/v2.1' };
const glance: PublicEndpoint = { service: 'glance', url: 'https://public.openstack.local:9292', host: 'public.openstack.local', port: 9292, path: '/' };
const cinder: PublicEndpoint = { service: 'cinder', url: 'https://volume.openstack.local:8776/v3/p1', host: 'volume.openstack.local', port: 8776, path: '/v3/p1' };

const resolved = (name: string) => `Server:\t\t192.168.105.101\nAddress:\t192.168.105.101:53\n\nName:\t${name}\nAddress: 10.0.2.250\n`;
// What the script prints in the stackgate guest (busybox nslookup, openssl s_client -quiet), taken from a real run.
const OUT = [
  '@@ servers 10.0.2.250 ',
  '@@ ca 1',
  '@@ 0 dns', resolved('public.openstack.local'), '@@ 0 tls 0 0.4',
  'depth=1 CN = stackgate embedded lab CA', 'verify return:1', 'HTTP/1.1 300 MULTIPLE CHOICES', 'content-type: application/json', '',
  '@@ 1 dns', resolved('public.openstack.local'), '@@ 1 tls 1 0.2',
  'depth=0 CN = public.openstack.local', 'verify error:num=20:unable to get local issuer certificate',
  '40770289FF7E0000:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889:', '',
  '@@ 2 dns', resolved('public.openstack.local'), '@@ 2 tls 143 15.0', '',
  '@@ 3 dns', 'Server:\t\t10.0.2.250\nAddress:\t10.0.2.250:53\n\n** server can\'t find volume.openstack.local: NXDOMAIN\n', '@@ 3 tls - 0.1',
].join('\n');

describe('the CA shipped in the user data', () => {
  it('is a #cloud-config with every certificate of the bundle under ca_certs: trusted, and nothing else', () => {
    const data = caUserData(`junk\n${CERT}\n${CERT.replace('AbCd', 'EfGh')}\n`)!;
    expect(data.startsWith('#cloud-config\nca_certs:\n  trusted:\n    - |\n      -----BEGIN CERTIFICATE-----\n')).toBe(true);
    expect(data.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(data).not.toContain('junk');
    // The guest's /init takes the PEM lines back out of it, unindented.
    const back = data.split('\n').map((l) => l.trim()).filter((l, i, all) => all.slice(0, i + 1).some((x) => x.startsWith('-----BEGIN')));
    expect(back.join('\n')).toContain(CERT);
  });

  it('is absent for a bundle without a certificate', () => {
    expect(caUserData('no pem here')).toBeUndefined();
  });
});

describe('the public endpoints of the catalog', () => {
  it('takes the public ones of the region, each URL once, with host, port and request target', () => {
    const eps = publicEndpoints([
      { type: 'identity', name: 'keystone', endpoints: [
        { interface: 'public', region: 'RegionOne', url: 'https://public.openstack.local:5000' },
        { interface: 'internal', region: 'RegionOne', url: 'https://internal.openstack.local:5000' },
      ] },
      { type: 'compute', name: 'nova', endpoints: [
        { interface: 'public', region: 'RegionTwo', url: 'https://other:8774/v2.1' },
        { interface: 'public', region: 'RegionOne', url: 'https://public.openstack.local:8774/v2.1?x=1' },
      ] },
      { type: 'object-store', name: 'swift', endpoints: [{ interface: 'public', region: undefined, url: 'https://s3.example' }] },
    ], 'RegionOne');
    expect(eps).toEqual([
      keystone,
      { ...nova, url: 'https://public.openstack.local:8774/v2.1?x=1', path: '/v2.1?x=1' },
      { service: 'swift', url: 'https://s3.example', host: 's3.example', port: 443, path: '/' },
    ]);
  });
});

describe('the script the guest runs', () => {
  it('probes every endpoint side by side, verifying the name against the CA bundle, never without it', () => {
    const s = reachScript([keystone, { ...glance, host: '10.0.2.250', url: 'https://10.0.2.250:9292' }], { caFile: '/etc/ssl/certs/ca-certificates.crt', seconds: 15 });
    expect(s).toContain('p0 >/tmp/sg-reach.0 2>&1 &');
    expect(s).toContain('p1 >/tmp/sg-reach.1 2>&1 &');
    expect(s).toContain('timeout "$T" nslookup public.openstack.local');
    expect(s).toContain('-servername public.openstack.local -verify_hostname public.openstack.local');
    expect(s).toContain('-verify_ip 10.0.2.250');
    expect(s.match(/-verify_return_error -CAfile "\$CA"/g)).toHaveLength(2);
    expect(s).toContain("printf '%b' 'GET / HTTP/1.1\\r\\nHost: public.openstack.local:5000\\r\\n");
    expect(s).not.toMatch(/-no_verify|-k\b|ssl_client/);
  });

  it('quotes a request target the shell would otherwise read', () => {
    const s = reachScript([{ ...keystone, path: "/v3/$(reboot)'x" }], { caFile: '/ca', seconds: 5 });
    expect(s).toContain(`'GET /v3/$(reboot)'"'"'x HTTP/1.1`);
  });
});

describe('the guest output read back', () => {
  const limit = 15;
  const o = parseReach(OUT, [keystone, nova, glance, cinder], limit);

  it('reads the resolvers, the CA count and each endpoint', () => {
    expect(o.servers).toEqual(['10.0.2.250']);
    expect(o.caCerts).toBe(1);
    expect(o.reaches.map((r) => r.answered)).toEqual([
      'HTTP 300',
      'TLS: verify error:num=20:unable to get local issuer certificate',
      `no answer in ${limit} s`,
      "not connected (nslookup: ** server can't find volume.openstack.local: NXDOMAIN)",
    ]);
    expect(o.reaches[0]!.addresses).toEqual(['10.0.2.250']);
  });

  it('names service, URL, name, what resolved, the servers and what answered; an HTTP status is no finding', () => {
    expect(reachFindings(o, '/ca')).toEqual([
      'nova https://public.openstack.local:8774/v2.1: public.openstack.local resolved to 10.0.2.250 (servers 10.0.2.250); TLS: verify error:num=20:unable to get local issuer certificate',
      `glance https://public.openstack.local:9292: public.openstack.local resolved to 10.0.2.250 (servers 10.0.2.250); no answer in ${limit} s`,
      "cinder https://volume.openstack.local:8776/v3/p1: volume.openstack.local resolved to nothing (servers 10.0.2.250); not connected (nslookup: ** server can't find volume.openstack.local: NXDOMAIN)",
    ]);
  });

  it('says when the guest lacks the client or the CA, or printed nothing for an endpoint', () => {
    const bare = parseReach('@@ servers \n@@ ca 0\n@@ no-client\n', [keystone], limit);
    expect(reachFindings(bare, '/ca')).toEqual([
      'the guest has no openssl: it cannot make a verified TLS connection',
      'the guest holds no CA certificate at /ca (the user data ships the lab CA)',
      'keystone https://public.openstack.local:5000: public.openstack.local resolved to nothing (servers none); the guest printed nothing for it',
    ]);
  });

  it('names a refused connection by the TCP error', () => {
    const refused = '@@ 0 dns\nName: x\nAddress: 10.0.2.250\n@@ 0 tls 1 0.0\n40:error:8000006F:system library:BIO_connect:Connection refused:../crypto/bio/bio_sock2.c:117:calling connect()\n';
    expect(parseReach(refused, [keystone], limit).reaches[0]!.answered).toBe('TCP: Connection refused');
  });

  it('reads the addresses nslookup found, not its server', () => {
    expect(resolvedAddresses(resolved('a'))).toEqual(['10.0.2.250']);
    expect(resolvedAddresses('Server: 1.1.1.1\nAddress: 1.1.1.1:53\n\n** server can\'t find a: NXDOMAIN')).toEqual([]);
  });
});
