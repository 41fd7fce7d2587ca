/**
 * HTTP to a lab service (Prometheus, Grafana) with undici: through the VIP address the spec gives, under the host
 * name clients use (Host header and SNI), verifying TLS against the lab CA alone, with bounded timeouts.
 * It returns what was seen; it never asserts.
 */
import type { LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import type { Lab } from '../lab/model.ts';
import { labCa } from '../tls/probe.ts';

export interface Service {
  /** For messages: e.g. "Prometheus https://internal.openstack.local:9091 (VIP internal 192.168.105.250)". */
  readonly label: string;
  readonly base: string;
  readonly host: string;
  /** Where the connection goes: the VIP's (or node's) address. */
  readonly address: string;
  readonly port: number;
  readonly tls: boolean;
}

/** A service on a VIP (host = its FQDN, connected at its address) or on a node's API address. */
export function serviceAt(lab: Lab, name: string, where: { vip?: string; node?: string }, port: number, tls: boolean): Service {
  const vip = where.vip ? lab.vip(where.vip) : undefined;
  const node = !vip && where.node ? lab.node(where.node) : undefined;
  const address = vip?.address ?? node?.apiAddress;
  if (!address) throw new Error(`lab ${lab.name}: ${name} has neither a VIP nor a node with an API address in the spec`);
  const host = vip?.host ?? address;
  const base = `${tls ? 'https' : 'http'}://${host}:${port}`;
  const at = vip ? `VIP ${vip.name} ${vip.address}` : `node ${node!.name} ${address}`;
  return { label: `${name} ${base} (${at})`, base, host, address, port, tls };
}

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
}

/** Why a request got no HTTP answer: refused, reset, timed out, TLS verification failed … */
export class Unreachable extends Error {
  override name = 'Unreachable';
}

export interface HttpOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly auth?: { readonly user: string; readonly password: string };
}

const agents = new Map<string, Agent>();

function agentFor(lab: Lab, s: Service): Agent {
  const key = `${lab.file}|${s.host}|${s.address}|${s.tls}`;
  let agent = agents.get(key);
  if (!agent) {
    // The host name resolves to the spec's address here; the dns layer proves that the lab's DNS agrees.
    const lookup: LookupFunction = (_host, options, callback) => {
      if (options.all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: s.address, family: 4 }]);
      else callback(null, s.address, 4);
    };
    agent = new Agent({ connect: { lookup, timeout: 5000, ...(s.tls ? { ca: labCa(lab).pem } : {}) }, keepAliveTimeout: 1000 });
    agents.set(key, agent);
  }
  return agent;
}

/** Close every connection (after a file of checks). */
export async function closeAgents(): Promise<void> {
  await Promise.all([...agents.values()].map((a) => a.close()));
  agents.clear();
}

/** One GET; an HTTP error status is returned, not thrown; no answer at all throws Unreachable. */
export function get(lab: Lab, s: Service, path: string, options: HttpOptions = {}): Promise<Reply> {
  return send(lab, s, 'GET', path, options);
}

/** One request, with a JSON body where given; answers and failures as get's. */
export async function send(lab: Lab, s: Service, method: string, path: string, options: HttpOptions & { json?: unknown } = {}): Promise<Reply> {
  const timeout = options.timeoutMs ?? 10_000;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.auth) headers.authorization = `Basic ${Buffer.from(`${options.auth.user}:${options.auth.password}`).toString('base64')}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const t0 = Date.now();
  try {
    const signals = [AbortSignal.timeout(timeout), ...(options.signal ? [options.signal] : [])];
    const r = await request(`${s.base}${path}`, {
      method,
      headers,
      ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
      dispatcher: agentFor(lab, s),
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: AbortSignal.any(signals),
    });
    const body = await r.body.text();
    return { status: r.statusCode, body, ms: Date.now() - t0 };
  } catch (error) {
    const e = error as Error & { code?: string; cause?: { code?: string; message?: string } };
    const code = e.code ?? e.cause?.code ?? e.name;
    const message = e.cause?.message ?? e.message;
    throw new Unreachable(`${s.label}: ${method} ${path} got no HTTP answer after ${Date.now() - t0} ms (${code}: ${message})`);
  }
}

/** The first line of a body, for messages. */
export function firstLine(body: string, max = 160): string {
  const line = body.trim().split('\n')[0] ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
