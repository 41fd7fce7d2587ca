/**
 * Thin wrappers over node:tls and node:net for the tls layer: one TLS handshake (with full verification against the
 * CA given, never the system store), and one cleartext HTTP request. They return what was seen; they never assert.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP, Socket } from 'node:net';
import { connect, type DetailedPeerCertificate, type SecureVersion } from 'node:tls';
import type { Lab } from '../lab/model.ts';

export interface Target {
  /** The address to connect to. */
  readonly address: string;
  readonly port: number;
  /** The host name (or IP) the client uses: sent as SNI when it is a name, and verified against the certificate. */
  readonly host: string;
}

export interface LabCa {
  readonly file: string;
  readonly pem: string;
}

/** The lab's CA bundle, from the spec's credentials.caFile (or OS_CACERT when the spec names none). */
export function labCa(lab: Lab, env: NodeJS.ProcessEnv = process.env): LabCa {
  const file = lab.caFile ?? env.OS_CACERT;
  if (!file) throw new Error(`lab ${lab.name}: the spec names no credentials.caFile and OS_CACERT is not set, so there is no lab CA to verify against`);
  try {
    return { file, pem: readFileSync(file, 'utf8') };
  } catch (error) {
    throw new Error(`lab ${lab.name}: cannot read the lab CA ${file}: ${(error as Error).message}`);
  }
}

export interface Handshake {
  readonly target: Target;
  /** The handshake completed: a protocol was negotiated and the server presented its certificate. */
  readonly completed: boolean;
  readonly protocol: string | undefined;
  readonly cipher: string | undefined;
  /** The peer chain, leaf first (as Node built it: with the trust anchor when the chain verified). */
  readonly chain: readonly X509Certificate[];
  /** Chain verification against the CA given: undefined when it verified, else OpenSSL's code (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE). */
  readonly chainError: string | undefined;
  /** Host name verification (Node's checkServerIdentity), when the chain verified: undefined when it matched. */
  readonly identityError: string | undefined;
  /** Why the handshake did not complete: the error code and message (refused, reset, timed out …). */
  readonly failure: { readonly code: string; readonly message: string } | undefined;
}

export interface HandshakeOptions {
  readonly ca: string;
  readonly minVersion?: SecureVersion;
  readonly maxVersion?: SecureVersion;
  readonly ciphers?: string;
  readonly timeoutMs?: number;
}

function peerChain(cert: DetailedPeerCertificate | undefined): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let c = cert; c?.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
  }
  return out;
}

/**
 * One TLS handshake with verification on: the chain against `ca` alone, then the host name. Node verifies the chain
 * first and the host name only once the chain verified, so an ERR_TLS_CERT_ALTNAME_INVALID rejection means the chain
 * was good. The certificate is read when the handshake completes, before Node accepts or rejects the connection, so
 * a rejected endpoint still shows what it presented. No application data is ever sent.
 */
export function handshake(target: Target, options: HandshakeOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    let completed = false;
    let protocol: string | undefined;
    let cipher: string | undefined;
    let chain: X509Certificate[] = [];
    let settled = false;
    const socket = connect({
      host: target.address,
      port: target.port,
      ...(isIP(target.host) ? {} : { servername: target.host }),
      ca: options.ca,
      // Stated here, so that no environment setting can weaken verification of the lab's endpoints.
      rejectUnauthorized: true,
      ...(options.minVersion ? { minVersion: options.minVersion } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      ...(options.ciphers ? { ciphers: options.ciphers } : {}),
    });
    const done = (rest: Pick<Handshake, 'chainError' | 'identityError' | 'failure'>) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ target, completed, protocol, cipher, chain, ...rest });
    };
    socket.prependOnceListener('secure', () => {
      completed = true;
      protocol = socket.getProtocol() ?? undefined;
      cipher = socket.getCipher()?.name;
      chain = peerChain(socket.getPeerCertificate(true));
    });
    socket.setTimeout(options.timeoutMs ?? 5000, () =>
      done({ chainError: undefined, identityError: undefined, failure: { code: 'ETIMEDOUT', message: `no TLS handshake within ${options.timeoutMs ?? 5000} ms` } }),
    );
    socket.once('secureConnect', () =>
      done({ chainError: socket.authorized ? undefined : String(socket.authorizationError ?? 'NOT_AUTHORIZED'), identityError: undefined, failure: undefined }),
    );
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'ERROR';
      if (!completed) done({ chainError: undefined, identityError: undefined, failure: { code, message: error.message.trim() } });
      else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') done({ chainError: undefined, identityError: error.message, failure: undefined });
      else done({ chainError: code, identityError: undefined, failure: undefined });
    });
    socket.once('close', () =>
      completed
        ? done({ chainError: 'CLOSED_BEFORE_VERIFICATION', identityError: undefined, failure: undefined })
        : done({ chainError: undefined, identityError: undefined, failure: { code: 'ECONNRESET', message: 'closed before the handshake completed' } }),
    );
  });
}

// ---------------------------------------------------------------- protocol versions

export const VERSIONS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** The protocol versions below a minimum, oldest first. SSLv3 is not probed: Node's OpenSSL 3 cannot offer it. */
export function versionsBelow(min: SecureVersion): SecureVersion[] {
  const i = VERSIONS.indexOf(min);
  if (i < 0) throw new Error(`unknown TLS version ${min}`);
  return VERSIONS.slice(0, i);
}

/**
 * OpenSSL 3 refuses TLS 1.0/1.1 at its default security level before a byte is sent; level 0 lets the client offer
 * them (only for these probes, whose connections carry no data).
 */
export const OLD_PROTOCOL_CIPHERS = 'DEFAULT:@SECLEVEL=0';

export type ProtocolOutcome = 'accepted' | 'refused' | 'unreachable' | 'untestable';

/** Error codes by which a server refuses the version offered (alert, a different version, or hanging up on the hello). */
const SERVER_REFUSED = new Set([
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', // alert 70
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', // alert 40
  'ERR_SSL_TLSV1_ALERT_INSUFFICIENT_SECURITY', // alert 71
  'ERR_SSL_UNSUPPORTED_PROTOCOL', // the server answered with a version the client did not offer
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ECONNRESET',
  'EPIPE',
]);
/** Codes by which the client could not reach the server at all. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** What a probe for one protocol version proved: the server accepted or refused it, or the probe proved nothing. */
export function protocolOutcome(h: Handshake): ProtocolOutcome {
  if (h.completed) return 'accepted';
  const code = h.failure?.code ?? '';
  if (SERVER_REFUSED.has(code)) return 'refused';
  if (UNREACHABLE.has(code)) return 'unreachable';
  // e.g. ERR_SSL_NO_PROTOCOLS_AVAILABLE: this client never offered the version, so nothing was learnt.
  return 'untestable';
}

/** One handshake offering exactly one protocol version. */
export function offerProtocol(target: Target, version: SecureVersion, ca: string, timeoutMs?: number): Promise<Handshake> {
  return handshake(target, { ca, minVersion: version, maxVersion: version, ciphers: OLD_PROTOCOL_CIPHERS, timeoutMs });
}

// ---------------------------------------------------------------- cleartext HTTP

export interface PlainAnswer {
  readonly target: Target;
  readonly path: string;
  /** The TCP connection was accepted. */
  readonly connected: boolean;
  /** Why not, or how it ended without an answer (ECONNREFUSED, ETIMEDOUT …). */
  readonly error: string | undefined;
  /** The first bytes the server sent (at most 1 KiB). */
  readonly head: Buffer;
}

/** Send one cleartext `GET path` with the URL's Host header and return what came back before the server closed. */
export function plainHttp(target: Target, path = '/', timeoutMs = 3000): Promise<PlainAnswer> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let connected = false;
    let head = Buffer.alloc(0);
    let settled = false;
    const done = (error: string | undefined) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ target, path, connected, error, head });
    };
    socket.setTimeout(timeoutMs, () => done(connected && head.length === 0 ? 'ETIMEDOUT (connected, no answer)' : head.length ? undefined : 'ETIMEDOUT'));
    socket.on('data', (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]).subarray(0, 1024);
      if (head.includes('\r\n\r\n')) done(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    socket.once('close', () => done(undefined));
    socket.connect(target.port, target.address, () => {
      connected = true;
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nUser-Agent: stackgate\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
    });
  });
}

export interface HttpHead {
  readonly status: number;
  readonly reason: string;
  readonly location: string | undefined;
}

/** The status line and Location of an HTTP/1.x response head; undefined when the bytes are not HTTP. */
export function parseHttpHead(bytes: Buffer): HttpHead | undefined {
  const text = bytes.toString('latin1');
  const m = text.match(/^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?\r?\n/);
  if (!m) return undefined;
  const location = text.match(/\r?\nlocation:[ \t]*([^\r\n]*)/i)?.[1]?.trim();
  return { status: Number(m[1]), reason: m[2] ?? '', location };
}

/** A few printable characters of what a server sent, for a message. */
export function preview(bytes: Buffer): string {
  if (bytes.length === 0) return 'nothing';
  const first = bytes.toString('latin1').split(/\r?\n/)[0]!.replace(/[^\x20-\x7e]/g, '.');
  return `${bytes.length} bytes starting "${first.slice(0, 60)}"`;
}

/**
 * Whether a TLS port refused a cleartext request. Refused: the server sent no HTTP response (it closed, reset, or
 * answered with non-HTTP bytes such as a TLS alert), or it answered exactly 400 — what TLS servers that detect
 * cleartext send (nginx "400 The plain HTTP request was sent to HTTPS port", Apache "400 … speaking plain HTTP to an
 * SSL-enabled server port"). Any other status means the request was parsed and routed in cleartext: 2xx/3xx served
 * it, and 401/404/503 … came from an HTTP service (HAProxy's 503 says it would have forwarded the request to a backend
 * that happens to be down). Returns undefined when refused, else what was served.
 */
export function servedOverCleartext(answer: PlainAnswer): string | undefined {
  if (!answer.connected) return answer.error === 'ECONNREFUSED' ? undefined : `not reachable (${answer.error ?? 'no connection'})`;
  const head = parseHttpHead(answer.head);
  if (!head || head.status === 400) return undefined;
  return `answered cleartext GET ${answer.path} with HTTP ${head.status} ${head.reason}`.trim();
}

/**
 * Whether port 80 only redirects to https: nothing listens (connection refused), the server closes without an HTTP
 * answer, or it answers with a redirect (301, 302, 303, 307, 308) whose Location is an https:// URL.
 * Returns undefined when so, else what was served.
 */
export function notOnlyRedirect(answer: PlainAnswer): string | undefined {
  if (!answer.connected) return answer.error === 'ECONNREFUSED' ? undefined : `not reachable (${answer.error ?? 'no connection'})`;
  const head = parseHttpHead(answer.head);
  if (!head) return undefined;
  const redirect = [301, 302, 303, 307, 308].includes(head.status);
  if (redirect && head.location?.toLowerCase().startsWith('https://')) return undefined;
  return `answered cleartext GET ${answer.path} with HTTP ${head.status} ${head.reason}${head.location ? ` (Location: ${head.location})` : ''}, not a redirect to https`.replace(/ +/g, ' ');
}
