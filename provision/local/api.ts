/** The REST calls `lab up` makes itself (registrations, networks, types): one admin session, verified with the lab CA. */
import { Agent, request } from 'undici';
import type { Lab } from '../../helpers/lab/model.ts';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export class Api {
  private readonly agent: Agent;
  token = '';
  constructor(ca: string) {
    this.agent = new Agent({ connect: { ca } });
  }

  async call<T = Record<string, unknown>>(
    method: Method, url: string, body?: unknown, ok = [200, 201, 204], headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T; headers: Record<string, unknown> }> {
    const token = this.token ? { 'x-auth-token': this.token } : {};
    const r = await request(url, {
      method,
      dispatcher: this.agent,
      headers: { 'content-type': 'application/json', accept: 'application/json', ...token, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.body.text();
    if (!ok.includes(r.statusCode)) throw new Error(`${method} ${url} → ${r.statusCode}: ${text.slice(0, 300)}`);
    return { status: r.statusCode, body: (text ? JSON.parse(text) : {}) as T, headers: r.headers };
  }

  /** The HTTP status a GET answers with, or 0 when nothing answers. */
  async status(url: string): Promise<number> {
    const r = await this.call('GET', url, undefined, [200, 300, 401, 404, 500, 502, 503, 504]).catch(() => ({ status: 0 }));
    return r.status;
  }

  close() {
    return this.agent.close();
  }
}

/** URLs `lab up` itself uses: the service's internal VIP by address (its certificate carries the address too). */
export function viaVip(lab: Lab, service: string): string {
  const internal = lab.expectedCatalog.find((c) => c.service === service && c.interface === 'internal')?.vip;
  const vip = lab.vip(internal ?? lab.spec.endpoints?.internal ?? lab.vips[0]!.name);
  return `${lab.tls.internal ? 'https' : 'http'}://${vip.address}:${lab.spec.services![service]!.port}`;
}

export const passwordAuth = (user: string, password: string, project: string) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
    scope: { project: { name: project, domain: { id: 'default' } } },
  },
});
