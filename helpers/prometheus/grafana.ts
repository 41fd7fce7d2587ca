/**
 * A thin Grafana client: where the spec puts it (its VIP, TLS as that VIP terminates it), /api/health, a datasource
 * by name and its health check, dashboards by title. Kolla: port 3000 on the VIPs, admin / grafana_admin_password,
 * datasource "Prometheus". Returns data or throws with the URL, status and body; only the checks assert.
 */
import type { Lab } from '../lab/model.ts';
import { servicePassword } from '../lab/secrets.ts';
import { vipTerminatesTls } from '../tls/endpoints.ts';
import { firstLine, get, serviceAt, type HttpOptions, type Reply, type Service } from './http.ts';

export interface Grafana {
  readonly service: Service;
  readonly datasource: string;
  readonly dashboards: readonly string[];
  /** The login for the API calls that need one (datasources, search); resolved on first use. */
  auth(): { user: string; password: string; source: string };
}

export function grafanaOf(lab: Lab, env: NodeJS.ProcessEnv = process.env): Grafana | undefined {
  const g = lab.spec.monitoring?.grafana;
  if (!g) return undefined;
  const vip = g.vip ?? lab.spec.monitoring?.prometheus.vip;
  const tls = vip ? vipTerminatesTls(lab, vip) : false;
  const service = serviceAt(lab, 'Grafana', { vip, node: lab.spec.monitoring?.prometheus.node }, g.port, tls);
  const user = g.adminUser ?? 'admin';
  let cached: ReturnType<Grafana['auth']> | undefined;
  return {
    service,
    datasource: g.datasource ?? 'Prometheus',
    dashboards: g.dashboards ?? [],
    auth: () => {
      if (!cached) {
        const p = servicePassword(
          lab,
          { what: `Grafana's API (user ${user})`, env: 'STACKGATE_GRAFANA_PASSWORD', key: g.passwordKey, keyField: 'monitoring.grafana.passwordKey' },
          env,
        );
        cached = { user, password: p.value, source: p.source };
      }
      return cached;
    },
  };
}

export class GrafanaError extends Error {
  override name = 'GrafanaError';
}

async function json<T>(lab: Lab, g: Grafana, path: string, options: HttpOptions, authed: boolean): Promise<{ reply: Reply; data: T }> {
  const reply = await get(lab, g.service, path, { timeoutMs: 10_000, ...options, ...(authed ? { auth: g.auth() } : {}) });
  if (reply.status < 200 || reply.status >= 300) {
    const who = authed ? ` (as ${g.auth().user}, password from ${g.auth().source})` : '';
    throw new GrafanaError(`${g.service.label} answered GET ${path} with HTTP ${reply.status}${who}: ${firstLine(reply.body)}`);
  }
  try {
    return { reply, data: JSON.parse(reply.body) as T };
  } catch {
    throw new GrafanaError(`${g.service.label}: GET ${path} answered HTTP ${reply.status} with no JSON: ${firstLine(reply.body)}`);
  }
}

/** GET /api/health (no login): {database: "ok", version, commit}. */
export async function grafanaHealth(lab: Lab, g: Grafana, options: HttpOptions = {}): Promise<{ database?: string; version?: string; commit?: string }> {
  return (await json<{ database?: string; version?: string; commit?: string }>(lab, g, '/api/health', options, false)).data;
}

export interface Datasource {
  readonly uid: string;
  readonly name: string;
  readonly type: string;
  readonly url: string;
}

/** The datasource of that name, or undefined when Grafana has none (404). */
export async function datasourceByName(lab: Lab, g: Grafana, name: string, options: HttpOptions = {}): Promise<Datasource | undefined> {
  const path = `/api/datasources/name/${encodeURIComponent(name)}`;
  const reply = await get(lab, g.service, path, { timeoutMs: 10_000, ...options, auth: g.auth() });
  if (reply.status === 404) return undefined;
  if (reply.status !== 200) throw new GrafanaError(`${g.service.label} answered GET ${path} with HTTP ${reply.status} (as ${g.auth().user}): ${firstLine(reply.body)}`);
  return JSON.parse(reply.body) as Datasource;
}

/** Grafana's own check of a datasource (GET /api/datasources/uid/<uid>/health): status OK or ERROR, and why. */
export async function datasourceHealth(lab: Lab, g: Grafana, uid: string, options: HttpOptions = {}): Promise<{ status: string; message: string; http: number }> {
  const path = `/api/datasources/uid/${encodeURIComponent(uid)}/health`;
  const reply = await get(lab, g.service, path, { timeoutMs: 20_000, ...options, auth: g.auth() });
  let body: { status?: string; message?: string } = {};
  try {
    body = JSON.parse(reply.body) as typeof body;
  } catch {
    body = { message: firstLine(reply.body) };
  }
  return { status: body.status ?? `HTTP ${reply.status}`, message: body.message ?? '', http: reply.status };
}

/** Titles of the dashboards Grafana has (GET /api/search?type=dash-db). */
export async function dashboardTitles(lab: Lab, g: Grafana, options: HttpOptions = {}): Promise<string[]> {
  const { data } = await json<{ title: string }[]>(lab, g, '/api/search?type=dash-db&limit=5000', options, true);
  return data.map((d) => d.title);
}
