/**
 * An authenticated OpenStack session: Keystone v3 password auth, the token's catalog, and one request function
 * that every service client uses. TLS is verified against the CA the credentials name (the lab CA); host names
 * are resolved at the lab's own DNS servers, the way the lab's clients resolve them. It returns what was seen
 * and throws errors with context; it never asserts.
 */
import { isIP, type LookupFunction } from 'node:net';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { resolverAt } from '../dns/resolve.ts';
import { dnsServers } from '../dns/servers.ts';
import { addSecret } from '../gate/redact.ts';
import type { Lab } from '../lab/model.ts';
import { loadCredentials, type Credentials } from './credentials.ts';

export interface CatalogEndpoint {
  readonly interface: string;
  readonly region: string | undefined;
  readonly url: string;
}

export interface CatalogService {
  readonly type: string;
  readonly name: string;
  readonly endpoints: readonly CatalogEndpoint[];
}

/** One request as it went: for the trail attached to a failing check. */
export interface Call {
  readonly method: string;
  readonly url: string;
  readonly status: number | string;
  readonly requestId: string | undefined;
  readonly ms: number;
}

export interface Reply<T> {
  readonly status: number;
  readonly body: T;
  readonly requestId: string | undefined;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** An HTTP answer the caller did not expect, with what an operator needs to find it in the service's log. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly requestId: string | undefined,
    readonly detail: string,
  ) {
    super(`${method} ${url} → ${status}${detail ? ` ${detail}` : ''}${requestId ? ` (request ${requestId})` : ''}`);
  }
}

/** No HTTP answer at all: refused, timed out, TLS verification failed, name not resolvable. */
export class NoAnswer extends Error {
  override name = 'NoAnswer';
}

export interface RequestOptions {
  readonly body?: unknown;
  /** Raw bytes instead of JSON (image upload). */
  readonly data?: Buffer;
  readonly headers?: Record<string, string>;
  readonly iface?: string;
  readonly timeoutMs?: number;
  /** Return the body as bytes (image download). */
  readonly binary?: boolean;
  /** Send no token (to see a service refuse a call without one). */
  readonly withoutToken?: boolean;
  /** Statuses that are answers, not errors; default: any 2xx. */
  readonly ok?: readonly number[];
}

/** The message an OpenStack error body carries: {"error": {...}}, {"itemNotFound": {...}}, {"NeutronError": {...}} … */
export function errorDetail(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    // Placement: {"errors": [{"status": 404, "title": "Not Found", "detail": "…"}]}
    if (Array.isArray(body.errors)) return (body.errors as { title?: string; detail?: string }[]).map((e) => `${e.title ?? ''}: ${(e.detail ?? '').trim()}`).join('; ');
    for (const v of Object.values(body)) {
      if (v && typeof v === 'object' && 'message' in v) return String((v as { message: unknown }).message);
    }
    if (typeof body.message === 'string') return body.message;
  } catch {
    // not JSON: Glance and HAProxy answer in HTML or plain text
  }
  const plain = text.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
  return plain.length > 200 ? `${plain.slice(0, 200)}…` : plain;
}

const addressCache = new Map<string, Promise<string>>();

/**
 * How an API client waits for the lab's DNS: as a system resolver would (glibc: 5 s, twice), not as the dns checks
 * that judge the server (LOOKUP_TIMEOUT_MS). On a loaded two-CPU host a lookup once went unanswered for 1.5 s while
 * guests booted, and an API check failed on DNS it does not judge. 1 + 2 + 4 s: a dead server still fails in 7 s.
 */
const API_LOOKUP = { timeoutMs: 1000, tries: 3 };

/** Resolve at the lab's DNS (its first server); a lab without DNS servers uses the system resolver. */
export function labLookup(lab: Lab): LookupFunction | undefined {
  const servers = dnsServers(lab);
  if (servers.length === 0) return undefined;
  const server = servers[0]!;
  return (host, options, callback) => {
    const key = `${server.address}|${host}`;
    let address = addressCache.get(key);
    if (!address) {
      address = isIP(host)
        ? Promise.resolve(host)
        : resolverAt(server.address, API_LOOKUP)
            .resolve4(host)
            .then((a) => a[0]!)
            .catch((e: NodeJS.ErrnoException) => {
              addressCache.delete(key);
              throw Object.assign(new Error(`${host} does not resolve at the lab's DNS ${server.node} (${server.address}): ${e.code ?? e.message}`), { code: e.code ?? 'ENOTFOUND' });
            });
      addressCache.set(key, address);
    }
    address.then(
      (a) => {
        if (options.all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: a, family: 4 }]);
        else callback(null, a, 4);
      },
      (e: NodeJS.ErrnoException) => callback(e, '', 4),
    );
  };
}

export interface CloudOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** The project a token is scoped to, as Keystone's token body names it. */
export interface TokenProject {
  readonly id: string;
  readonly name: string;
  readonly domain: string;
}

/** Where a token's scope differs from the project the spec names (credentials.project). */
export function projectFindings(want: { name: string; domain: string }, got: TokenProject | undefined): string[] {
  if (!got?.id) return [`the token is not scoped to any project (the spec wants project ${want.name} in domain ${want.domain})`];
  const findings: string[] = [];
  if (got.name !== want.name) findings.push(`the token is scoped to project ${got.name || '(no name)'} (${got.id}), the spec wants ${want.name}`);
  if (got.domain !== want.domain) findings.push(`project ${got.name} of the token is in domain ${got.domain || '(none)'}, the spec wants ${want.domain}`);
  return findings;
}

export class Cloud {
  readonly trail: Call[] = [];
  private constructor(
    readonly lab: Lab,
    readonly credentials: Credentials,
    private readonly agent: Agent,
    private current: string,
    readonly projectId: string,
    /** The token's project; undefined for an unscoped token. */
    readonly project: TokenProject | undefined,
    readonly userId: string,
    readonly catalog: readonly CatalogService[],
    readonly expiresAt: string,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** The session's token (renew replaces it). */
  get token(): string {
    return this.current;
  }

  /**
   * A new token for the same credentials, as a client does when its token is refused: after a reboot, the checks
   * that judge data must not fail on a token the reboot invalidated (persist.token judges that, with the old token).
   */
  async renew(): Promise<void> {
    const fresh = await Cloud.connect(this.lab, this.credentials, { signal: this.signal });
    this.current = fresh.current;
    this.trail.push(...fresh.trail);
    await fresh.close();
  }

  /** Authenticate with the user's credentials: a project-scoped token and its catalog. */
  static async connect(lab: Lab, credentials: Credentials = loadCredentials(lab), options: CloudOptions = {}): Promise<Cloud> {
    let ca: string | undefined;
    if (credentials.cacert) {
      try {
        ca = readFileSync(credentials.cacert, 'utf8');
      } catch (error) {
        throw new Error(`cannot read the CA bundle ${credentials.cacert} named by ${credentials.source}: ${(error as Error).message}`);
      }
    }
    const lookup = labLookup(lab);
    const agent = new Agent({ connect: { timeout: 10_000, ...(ca ? { ca } : {}), ...(lookup ? { lookup } : {}) }, keepAliveTimeout: 4000 });
    const base = credentials.authUrl.replace(/\/+$/, '');
    const authUrl = /\/v3$/.test(base) ? base : `${base}/v3`;
    const body = {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: credentials.username, domain: { name: credentials.userDomainName }, password: credentials.password } },
        },
        scope: { project: { name: credentials.projectName, domain: { name: credentials.projectDomainName } } },
      },
    };
    const trail: Call[] = [];
    const reply = await send<{ token: { catalog?: RawService[]; project?: { id: string; name?: string; domain?: { name?: string } }; user: { id: string }; expires_at: string } }>(
      agent,
      trail,
      'POST',
      `${authUrl}/auth/tokens`,
      { body, timeoutMs: options.timeoutMs ?? 30_000 },
      undefined,
      options.signal,
    ).catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 401) {
        throw new ApiError(error.method, error.url, 401, error.requestId, `Keystone refused the credentials of ${credentials.source} (user ${credentials.username}, project ${credentials.projectName}): ${error.detail}`);
      }
      throw error;
    });
    const token = String(reply.headers['x-subject-token'] ?? '');
    addSecret(token);
    const t = reply.body.token;
    const catalog = (t.catalog ?? []).map((s) => ({
      type: s.type,
      name: s.name,
      endpoints: s.endpoints.map((e) => ({ interface: e.interface, region: e.region_id ?? e.region, url: e.url })),
    }));
    const project = t.project ? { id: t.project.id, name: t.project.name ?? '', domain: t.project.domain?.name ?? '' } : undefined;
    const cloud = new Cloud(lab, credentials, agent, token, t.project?.id ?? '', project, t.user.id, catalog, t.expires_at, options.signal);
    cloud.trail.push(...trail);
    return cloud;
  }

  /** The endpoint URL of a service type at an interface in the lab's region. */
  endpoint(type: string, iface: string = this.credentials.interface): string {
    const service = this.catalog.find((s) => s.type === type);
    if (!service) throw new Error(`the catalog has no service of type ${type} (it has: ${this.catalog.map((s) => s.type).join(', ') || 'nothing'})`);
    const region = this.credentials.regionName ?? this.lab.region;
    const e = service.endpoints.find((x) => x.interface === iface && (!x.region || x.region === region));
    if (!e) throw new Error(`the catalog has no ${iface} endpoint for ${type} in region ${region}`);
    return e.url.replace(/\/+$/, '');
  }

  /** A request to a service by catalog type; `path` is relative to the endpoint URL. */
  request<T = unknown>(type: string, method: string, path: string, options: RequestOptions = {}): Promise<Reply<T>> {
    const url = `${this.endpoint(type, options.iface)}${path}`;
    return send<T>(this.agent, this.trail, method, url, options, this.token, this.signal);
  }

  /** A request to an absolute URL with this token (version documents, an endpoint of another interface). */
  requestUrl<T = unknown>(method: string, url: string, options: RequestOptions = {}): Promise<Reply<T>> {
    return send<T>(this.agent, this.trail, method, url, options, this.token, this.signal);
  }

  get = <T = unknown>(type: string, path: string, options?: RequestOptions) => this.request<T>(type, 'GET', path, options);
  post = <T = unknown>(type: string, path: string, body: unknown, options?: RequestOptions) => this.request<T>(type, 'POST', path, { ...options, body });
  put = <T = unknown>(type: string, path: string, body: unknown, options?: RequestOptions) => this.request<T>(type, 'PUT', path, { ...options, body });
  delete = (type: string, path: string, options?: RequestOptions) => this.request(type, 'DELETE', path, options);

  /** The requests made so far, one per line, for a failing check's attachment. */
  trailText(): string {
    return this.trail.map((c) => `${c.method} ${c.url} → ${c.status} ${c.ms} ms${c.requestId ? ` ${c.requestId}` : ''}`).join('\n');
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

interface RawService {
  type: string;
  name: string;
  endpoints: { interface: string; region?: string; region_id?: string; url: string }[];
}

async function send<T>(
  agent: Agent,
  trail: Call[],
  method: string,
  url: string,
  options: RequestOptions,
  token: string | undefined,
  signal: AbortSignal | undefined,
): Promise<Reply<T>> {
  const timeout = options.timeoutMs ?? 60_000;
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (token && !options.withoutToken) headers['x-auth-token'] = token;
  let payload: string | Buffer | undefined;
  if (options.data) {
    payload = options.data;
    headers['content-type'] ??= 'application/octet-stream';
  } else if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const t0 = Date.now();
  let r;
  try {
    r = await request(url, {
      method: method as 'GET',
      headers,
      body: payload,
      dispatcher: agent,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: AbortSignal.any([AbortSignal.timeout(timeout), ...(signal ? [signal] : [])]),
    });
  } catch (error) {
    const e = error as Error & { code?: string; cause?: { code?: string; message?: string } };
    const code = e.code ?? e.cause?.code ?? e.name;
    trail.push({ method, url, status: String(code), requestId: undefined, ms: Date.now() - t0 });
    throw new NoAnswer(`${method} ${url}: no HTTP answer after ${Date.now() - t0} ms (${code}: ${e.cause?.message ?? e.message})`);
  }
  const requestId = [r.headers['x-openstack-request-id'], r.headers['x-compute-request-id']].flat().find((x): x is string => typeof x === 'string');
  const ok = options.ok ? options.ok.includes(r.statusCode) : r.statusCode >= 200 && r.statusCode < 300;
  trail.push({ method, url, status: r.statusCode, requestId, ms: Date.now() - t0 });
  if (!ok) {
    const text = await r.body.text();
    throw new ApiError(method, url, r.statusCode, requestId, errorDetail(text));
  }
  let body: unknown;
  if (options.binary) body = Buffer.from(await r.body.arrayBuffer());
  else {
    const text = await r.body.text();
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
  }
  return { status: r.statusCode, body: body as T, requestId, headers: r.headers };
}
