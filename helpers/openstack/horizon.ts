/** A Horizon login the way a browser does it: the login form, its CSRF token and cookies, then the redirects. */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import type { Lab } from '../lab/model.ts';
import { labLookup } from './cloud.ts';
import type { Credentials } from './credentials.ts';

export interface HorizonLogin {
  readonly base: string;
  readonly user: string;
  readonly loginPage: number;
  /** The path the login's redirects ended on ("/project/" when it worked, "/auth/login/" when refused). */
  readonly landedOn: string;
  readonly steps: string[];
}

/**
 * Where Horizon serves its login: the public VIP, over TLS where the spec's external endpoints have it (tls.external),
 * at dashboard.port (the schema's default 443).
 */
export function horizonBase(lab: Lab): string {
  const vip = lab.dashboardPublicVip ?? lab.vip('external');
  const scheme = lab.tls.external ? 'https' : 'http';
  const port = lab.spec.dashboard?.port ?? 443;
  const usual = port === (scheme === 'https' ? 443 : 80);
  return `${scheme}://${vip.host}${usual ? '' : `:${port}`}`;
}

/**
 * The region the login form posts: the first option of its select (several regions), or the value of its hidden
 * input (one region: `<input type="hidden" name="region" value="default" id="id_region">`). Without it Horizon
 * refuses the login ("Invalid region None").
 */
export function loginRegion(html: string): string | undefined {
  const select = /name=["']region["'][^>]*>\s*<option value=["']([^"']+)/.exec(html)?.[1];
  const input = /<input[^>]*name=["']region["'][^>]*>/.exec(html)?.[0];
  return select ?? (input ? /value=["']([^"']+)/.exec(input)?.[1] : undefined);
}

export async function horizonLogin(lab: Lab, credentials: Credentials): Promise<HorizonLogin> {
  const base = horizonBase(lab);
  const lookup = labLookup(lab);
  const ca = credentials.cacert ? readFileSync(credentials.cacert, 'utf8') : undefined;
  const agent = new Agent({ connect: { timeout: 10_000, ...(ca ? { ca } : {}), ...(lookup ? { lookup } : {}) } });
  const cookies = new Map<string, string>();
  const steps: string[] = [];
  const go = async (method: 'GET' | 'POST', path: string, form?: Record<string, string>) => {
    const headers: Record<string, string> = { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '), referer: `${base}/auth/login/` };
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const r = await request(`${base}${path}`, { method, headers, body: form ? new URLSearchParams(form).toString() : undefined, dispatcher: agent, headersTimeout: 30_000, bodyTimeout: 30_000 });
    for (const c of [r.headers['set-cookie'] ?? []].flat()) {
      const m = /^([^=]+)=([^;]*)/.exec(c);
      if (m) cookies.set(m[1]!, m[2]!);
    }
    const body = await r.body.text();
    const location = typeof r.headers.location === 'string' ? r.headers.location : undefined;
    steps.push(`${method} ${path} → ${r.statusCode}${location ? ` ${location}` : ''}`);
    return { status: r.statusCode, body, location };
  };
  try {
    const page = await go('GET', '/auth/login/');
    const csrf = /name=["']csrfmiddlewaretoken["'] value=["']([^"']+)/.exec(page.body)?.[1] ?? cookies.get('csrftoken') ?? '';
    const region = loginRegion(page.body);
    const form: Record<string, string> = { csrfmiddlewaretoken: csrf, username: credentials.username, password: credentials.password, next: '' };
    if (region) form.region = region;
    if (/name=["']domain["']/.test(page.body)) form.domain = credentials.userDomainName;
    let r = await go('POST', '/auth/login/', form);
    let path = '/auth/login/';
    for (let hops = 0; r.location && hops < 5; hops++) {
      const next = new URL(r.location, base);
      path = next.pathname;
      r = await go('GET', `${next.pathname}${next.search}`);
    }
    return { base, user: credentials.username, loginPage: page.status, landedOn: path, steps };
  } finally {
    await agent.close();
  }
}
