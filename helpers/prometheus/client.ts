/**
 * A thin Prometheus client for the monitoring layer: where the spec puts Prometheus, its basic auth from the secret
 * source, the readiness probe, the targets API and instant queries. It returns data or throws PrometheusError with
 * the URL, the status and the body; only the checks assert.
 */
import type { Lab } from '../lab/model.ts';
import { servicePassword, type Password } from '../lab/secrets.ts';
import { vipTerminatesTls } from '../tls/endpoints.ts';
import { firstLine, get, serviceAt, type HttpOptions, type Reply, type Service } from './http.ts';
import type { ActiveTarget } from './targets.ts';

export class PrometheusError extends Error {
  override name = 'PrometheusError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface Prometheus {
  readonly service: Service;
  readonly auth: { readonly user: string; readonly password: string; readonly source: string } | undefined;
}

/** Prometheus as the spec places it: its VIP (or node), port, TLS (tls, else the VIP's), basic-auth user. */
export function prometheusOf(lab: Lab, env: NodeJS.ProcessEnv = process.env): Prometheus {
  const p = lab.spec.monitoring?.prometheus;
  if (!p) throw new Error(`lab ${lab.name}: the spec has no monitoring.prometheus`);
  const tls = p.tls ?? (p.vip ? vipTerminatesTls(lab, p.vip) : false);
  const service = serviceAt(lab, 'Prometheus', { vip: p.vip, node: p.node }, p.port, tls);
  let auth: Prometheus['auth'];
  if (p.basicAuthUser) {
    const password: Password = servicePassword(
      lab,
      { what: `Prometheus basic auth (monitoring.prometheus.basicAuthUser ${p.basicAuthUser})`, env: 'STACKGATE_PROMETHEUS_PASSWORD', key: p.passwordKey, keyField: 'monitoring.prometheus.passwordKey' },
      env,
    );
    auth = { user: p.basicAuthUser, password: password.value, source: password.source };
  }
  return { service, auth };
}

const DEFAULT_TIMEOUT = 10_000;

function authNote(prom: Prometheus): string {
  return prom.auth ? `basic auth as ${prom.auth.user}, password from ${prom.auth.source}` : 'no basic auth (the spec names no basicAuthUser)';
}

/** An HTTP status that is not 2xx, as a message: 401/403 say whose credentials were refused. */
export function statusProblem(prom: Prometheus, path: string, r: Reply): PrometheusError {
  if (r.status === 401 || r.status === 403) {
    return new PrometheusError(`${prom.service.label} refused the credentials on GET ${path}: HTTP ${r.status} (${authNote(prom)}): ${firstLine(r.body)}`, r.status);
  }
  return new PrometheusError(`${prom.service.label} answered GET ${path} with HTTP ${r.status} (${authNote(prom)}): ${firstLine(r.body)}`, r.status);
}

async function call(prom: Prometheus, lab: Lab, path: string, options: Omit<HttpOptions, 'auth'>): Promise<Reply> {
  return get(lab, prom.service, path, { timeoutMs: DEFAULT_TIMEOUT, ...options, auth: prom.auth });
}

async function api<T>(prom: Prometheus, lab: Lab, path: string, options: Omit<HttpOptions, 'auth'> = {}): Promise<T> {
  const r = await call(prom, lab, path, options);
  if (r.status < 200 || r.status >= 300) throw statusProblem(prom, path, r);
  let json: { status?: string; data?: T; error?: string };
  try {
    json = JSON.parse(r.body) as typeof json;
  } catch {
    throw new PrometheusError(`${prom.service.label}: GET ${path} answered HTTP ${r.status} with no JSON: ${firstLine(r.body)}`, r.status);
  }
  if (json.status !== 'success' || json.data === undefined) {
    throw new PrometheusError(`${prom.service.label}: GET ${path} answered status ${json.status ?? 'none'}: ${json.error ?? firstLine(r.body)}`, r.status);
  }
  return json.data;
}

/** GET /-/ready: the raw reply (the check judges the status). */
export function ready(prom: Prometheus, lab: Lab, options: Omit<HttpOptions, 'auth'> = {}): Promise<Reply> {
  return call(prom, lab, '/-/ready', options);
}

/** GET /api/v1/status/buildinfo: version and revision. */
export function buildInfo(prom: Prometheus, lab: Lab, options: Omit<HttpOptions, 'auth'> = {}): Promise<{ version: string; revision?: string }> {
  return api(prom, lab, '/api/v1/status/buildinfo', options);
}

/** GET /api/v1/targets?state=active: the active targets. */
export async function activeTargets(prom: Prometheus, lab: Lab, options: Omit<HttpOptions, 'auth'> = {}): Promise<ActiveTarget[]> {
  const data = await api<{ activeTargets?: ActiveTarget[] }>(prom, lab, '/api/v1/targets?state=active', options);
  return data.activeTargets ?? [];
}

export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** An instant PromQL query (now, or `at` a Unix time in seconds); the vector it returns. */
export async function query(prom: Prometheus, lab: Lab, promql: string, options: Omit<HttpOptions, 'auth'> & { at?: number } = {}): Promise<Sample[]> {
  const { at, ...http } = options;
  const when = at === undefined ? '' : `&time=${at}`;
  const data = await api<{ resultType: string; result: Sample[] }>(prom, lab, `/api/v1/query?query=${encodeURIComponent(promql)}${when}`, http);
  if (data.resultType !== 'vector') throw new PrometheusError(`${prom.service.label}: query ${promql} returned a ${data.resultType}, not a vector`);
  return data.result;
}
