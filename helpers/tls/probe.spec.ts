import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { createServer as createTlsServer, type SecureVersion } from 'node:tls';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainPem, daysLeft, describeCert, groupFindings, sanCovers } from './certificate.ts';
import {
  handshake,
  notOnlyRedirect,
  offerProtocol,
  OLD_PROTOCOL_CIPHERS,
  parseHttpHead,
  plainHttp,
  protocolOutcome,
  servedOverCleartext,
  versionsBelow,
  type Handshake,
  type PlainAnswer,
} from './probe.ts';

const target = { address: '127.0.0.1', port: 1, host: 'good.test' };
const answer = (head: string, connected = true, error?: string): PlainAnswer => ({ target, path: '/', connected, error, head: Buffer.from(head, 'latin1') });
const failed = (code: string): Handshake => ({
  target, completed: false, protocol: undefined, cipher: undefined, chain: [], chainError: undefined, identityError: undefined, failure: { code, message: code },
});

describe('pure parts', () => {
  it('lists the versions below a minimum', () => {
    expect(versionsBelow('TLSv1.2')).toEqual(['TLSv1', 'TLSv1.1']);
    expect(versionsBelow('TLSv1.3')).toEqual(['TLSv1', 'TLSv1.1', 'TLSv1.2']);
    expect(versionsBelow('TLSv1')).toEqual([]);
    expect(() => versionsBelow('SSLv3' as SecureVersion)).toThrow(/unknown TLS version SSLv3/);
  });

  it('tells a server refusal from a probe that proved nothing', () => {
    expect(protocolOutcome(failed('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION'))).toBe('refused');
    expect(protocolOutcome(failed('ECONNRESET'))).toBe('refused');
    expect(protocolOutcome(failed('ECONNREFUSED'))).toBe('unreachable');
    expect(protocolOutcome(failed('ERR_SSL_NO_PROTOCOLS_AVAILABLE'))).toBe('untestable');
    expect(protocolOutcome({ ...failed('x'), completed: true, failure: undefined, protocol: 'TLSv1' })).toBe('accepted');
  });

  it('parses an HTTP response head', () => {
    expect(parseHttpHead(Buffer.from('HTTP/1.1 301 Moved Permanently\r\nLocation: https://a:443/\r\n\r\n'))).toEqual({ status: 301, reason: 'Moved Permanently', location: 'https://a:443/' });
    expect(parseHttpHead(Buffer.from('\x15\x03\x01\x00\x02\x02\x46', 'latin1'))).toBeUndefined();
    expect(parseHttpHead(Buffer.alloc(0))).toBeUndefined();
  });

  it('counts only a close, non-HTTP bytes or a 400 as refusing cleartext on a TLS port', () => {
    expect(servedOverCleartext(answer(''))).toBeUndefined();
    expect(servedOverCleartext(answer('\x15\x03\x01\x00\x02\x02\x46'))).toBeUndefined();
    expect(servedOverCleartext(answer('HTTP/1.1 400 Bad Request\r\n\r\n'))).toBeUndefined();
    expect(servedOverCleartext(answer('HTTP/1.1 503 Service Unavailable\r\n\r\n'))).toBe('answered cleartext GET / with HTTP 503 Service Unavailable');
    expect(servedOverCleartext(answer('HTTP/1.0 200 OK\r\n\r\n'))).toBe('answered cleartext GET / with HTTP 200 OK');
    expect(servedOverCleartext(answer('', false, 'ETIMEDOUT'))).toBe('not reachable (ETIMEDOUT)');
  });

  it('accepts on port 80 nothing listening, a silent close, or a redirect to https only', () => {
    expect(notOnlyRedirect(answer('', false, 'ECONNREFUSED'))).toBeUndefined();
    expect(notOnlyRedirect(answer(''))).toBeUndefined();
    expect(notOnlyRedirect(answer('HTTP/1.1 302 Found\r\nlocation: https://public.openstack.local/\r\n\r\n'))).toBeUndefined();
    expect(notOnlyRedirect(answer('HTTP/1.1 302 Found\r\nLocation: http://public.openstack.local/\r\n\r\n'))).toBe(
      'answered cleartext GET / with HTTP 302 Found (Location: http://public.openstack.local/), not a redirect to https',
    );
    expect(notOnlyRedirect(answer('HTTP/1.1 200 OK\r\n\r\n'))).toBe('answered cleartext GET / with HTTP 200 OK, not a redirect to https');
  });

  it('groups findings by problem', () => {
    expect(groupFindings([{ subject: 'a:1', problem: 'p' }, { subject: 'b:2', problem: 'q' }, { subject: 'a:3', problem: 'p' }])).toEqual(['a:1, a:3: p', 'b:2: q']);
  });
});

/** A throwaway PKI made with openssl: the lab CA, another CA, and leaves. */
describe('against local TLS servers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-tls-'));
  const f = (name: string) => join(dir, name);
  const servers: Server[] = [];
  const openssl = (...args: string[]) => execa('openssl', args);

  async function ca(name: string) {
    await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`), '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  }
  async function leaf(name: string, issuer: string, san: string, days: number) {
    writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
    await openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    await openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${issuer}.crt`), '-CAkey', f(`${issuer}.key`), '-CAcreateserial', '-days', String(days),
      '-out', f(`${name}.crt`), '-extfile', f(`${name}.ext`));
  }
  function serve(name: string, options: { minVersion?: SecureVersion; ciphers?: string } = {}): Promise<number> {
    const server = createTlsServer({ key: readFileSync(f(`${name}.key`)), cert: readFileSync(f(`${name}.crt`)), ...options }, (s) => s.end());
    servers.push(server);
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  }
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    await Promise.all([ca('labca'), ca('otherca')]);
    await Promise.all([
      leaf('good', 'labca', 'DNS:good.test,IP:127.0.0.1', 400),
      leaf('foreign', 'otherca', 'DNS:good.test', 400),
      leaf('wrongname', 'labca', 'DNS:other.test', 400),
    ]);
    ports.good = await serve('good', { minVersion: 'TLSv1.2' });
    ports.foreign = await serve('foreign');
    ports.wrongname = await serve('wrongname');
    ports.old = await serve('good', { minVersion: 'TLSv1', ciphers: OLD_PROTOCOL_CIPHERS });
    const plain = createServer((s) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')));
    servers.push(plain);
    ports.plain = await new Promise((resolve) => plain.listen(0, '127.0.0.1', () => resolve((plain.address() as { port: number }).port)));
  }, 60_000);
  afterAll(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const labCa = () => readFileSync(f('labca.crt'), 'utf8');
  const at = (port: number, host = 'good.test') => ({ address: '127.0.0.1', port, host });

  it('verifies a good chain and name, and reads the certificate', async () => {
    const h = await handshake(at(ports.good!), { ca: labCa() });
    expect(h).toMatchObject({ completed: true, chainError: undefined, identityError: undefined, failure: undefined });
    expect(h.chain.map((c) => c.subject)).toEqual(['CN=good', 'CN=labca']);
    expect(sanCovers(h.chain[0]!, 'good.test')).toBe(true);
    expect(sanCovers(h.chain[0]!, '127.0.0.1')).toBe(true);
    expect(sanCovers(h.chain[0]!, 'bad.test')).toBe(false);
    expect(daysLeft(h.chain[0]!, new Date())).toBeGreaterThanOrEqual(399);
    expect(describeCert(h.chain[0]!, new Date())).toMatch(/^subject CN=good, issuer CN=labca, SANs DNS:good.test, IP Address:127.0.0.1, valid \d{4}-\d\d-\d\d → \d{4}-\d\d-\d\d \((399|400) days left\)$/);
    expect(chainPem(h.chain)).toMatch(/^# leaf: CN=good \(issuer CN=labca\)\n-----BEGIN CERTIFICATE-----[\s\S]*# chain\[1\]: CN=labca/);
    expect(chainPem(h.chain)).not.toMatch(/PRIVATE KEY/);
  });

  it('rejects a chain from another CA, yet shows the certificate presented', async () => {
    const h = await handshake(at(ports.foreign!), { ca: labCa() });
    expect(h).toMatchObject({ completed: true, chainError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', failure: undefined });
    expect(h.chain[0]!.issuer).toBe('CN=otherca');
  });

  it('does not use the system store', async () => {
    const h = await handshake(at(ports.good!), { ca: readFileSync(f('otherca.crt'), 'utf8') });
    expect(h.chainError).toBeDefined();
  });

  it('tells a name mismatch from a chain failure', async () => {
    const h = await handshake(at(ports.wrongname!), { ca: labCa() });
    expect(h.chainError).toBeUndefined();
    expect(h.identityError).toMatch(/good.test/);
    expect(sanCovers(h.chain[0]!, 'good.test')).toBe(false);
  });

  it('sees TLS 1.0 refused by a TLS 1.2 server and accepted by one that allows it', async () => {
    expect(protocolOutcome(await offerProtocol(at(ports.good!), 'TLSv1', labCa()))).toBe('refused');
    expect(protocolOutcome(await offerProtocol(at(ports.good!), 'TLSv1.1', labCa()))).toBe('refused');
    expect(protocolOutcome(await offerProtocol(at(ports.good!), 'TLSv1.2', labCa()))).toBe('accepted');
    const old = await offerProtocol(at(ports.old!), 'TLSv1', labCa());
    expect(protocolOutcome(old)).toBe('accepted');
    expect(old.protocol).toBe('TLSv1');
  });

  it('reports a closed port as unreachable', async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    server.close();
    expect(protocolOutcome(await handshake(at(port), { ca: labCa(), timeoutMs: 2000 }))).toBe('unreachable');
    expect(await plainHttp(at(port))).toMatchObject({ connected: false, error: 'ECONNREFUSED' });
  });

  it('sees a TLS port refuse cleartext and a plain port serve it', async () => {
    expect(servedOverCleartext(await plainHttp(at(ports.good!)))).toBeUndefined();
    expect(servedOverCleartext(await plainHttp(at(ports.plain!)))).toBe('answered cleartext GET / with HTTP 200 OK');
  });
});
