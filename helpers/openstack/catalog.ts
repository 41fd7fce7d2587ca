/** The catalog against the spec, and a cheap authenticated request per service and interface. */
import type { Lab } from '../lab/model.ts';
import { ApiError, type CatalogService, type Cloud } from './cloud.ts';

/** Differences between Keystone's catalog and the spec's expected catalog, one line each. */
export function catalogFindings(lab: Lab, catalog: readonly CatalogService[]): string[] {
  const findings: string[] = [];
  for (const e of lab.expectedCatalog) {
    const service = catalog.find((s) => s.type === e.type);
    if (!service) {
      findings.push(`${e.service} (${e.type}): not in the catalog`);
      continue;
    }
    const at = service.endpoints.filter((x) => x.interface === e.interface);
    const inRegion = at.filter((x) => !x.region || x.region === lab.region);
    if (inRegion.length === 0) {
      findings.push(`${e.service} (${e.type}) ${e.interface}: no endpoint in region ${lab.region}${at.length ? ` (seen in ${at.map((x) => x.region).join(', ')})` : ''}`);
      continue;
    }
    for (const x of inRegion) {
      let url: URL;
      try {
        url = new URL(x.url);
      } catch {
        findings.push(`${e.service} ${e.interface}: ${x.url} is not a URL`);
        continue;
      }
      const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      const want = `${e.scheme}://${e.host}:${e.port}`;
      const seen = `${url.protocol.replace(':', '')}://${url.hostname}:${port}`;
      if (seen.toLowerCase() !== want.toLowerCase()) findings.push(`${e.service} ${e.interface}: ${x.url}, expected ${want} (VIP ${e.vip})`);
    }
  }
  return findings;
}

/** The endpoints of a token's catalog (every service, interface and region), as the DNS checks take them. */
export const publishedEndpoints = (catalog: readonly CatalogService[]) =>
  catalog.flatMap((s) => s.endpoints.map((e) => ({ service: s.name, type: s.type, interface: e.interface, url: e.url })));

/** Keystone's live catalog for a check outside the compute layer, or why it could not be read (never a throw). */
export async function liveCatalog(lab: Lab): Promise<{ catalog: readonly CatalogService[] } | { why: string }> {
  try {
    const { Cloud } = await import('./cloud.ts');
    const cloud = await Cloud.connect(lab);
    await cloud.close();
    return { catalog: cloud.catalog };
  } catch (error) {
    return { why: (error as Error).message };
  }
}

/** `path` after the endpoint URL, the version segment added unless the URL already ends in it (`/v1`, `/v2` …). */
const versioned = (url: string, version: string, path: string) => (new RegExp(`/${version}(/[^/]*)?$`).test(url) ? path : `/${version}${path}`);

/**
 * A GET per catalog service type that lists something the token's project may see and costs the service nothing
 * (path after the endpoint URL); undefined for a type stackgate knows no such call for. `GET /` is never one: most
 * services answer their version document without looking at the token.
 */
export function probePath(type: string, url: string): string | undefined {
  switch (type) {
    case 'identity':
      return versioned(url, 'v3', '/auth/projects');
    case 'compute':
      return '/flavors?limit=1';
    case 'network':
      return versioned(url, 'v2.0', '/networks?limit=1');
    case 'image':
      return versioned(url, 'v2', '/images?limit=1');
    case 'placement':
      return '/resource_providers';
    case 'volumev3':
    case 'volumev2':
    case 'block-storage':
      return '/volumes?limit=1';
    case 'load-balancer':
      return versioned(url, 'v2', '/lbaas/loadbalancers?limit=1');
    case 'orchestration':
      return '/stacks?limit=1';
    case 'container-infra':
      return versioned(url, 'v1', '/clusters?limit=1');
    case 'key-manager':
      return versioned(url, 'v1', '/secrets?limit=1');
    case 'dns':
      return versioned(url, 'v2', '/zones?limit=1');
    case 'object-store':
      return '?limit=1';
    case 'sharev2':
    case 'shared-file-system':
      return '/shares?limit=1';
    case 'baremetal':
      return versioned(url, 'v1', '/nodes?limit=1');
    case 'metric':
      return versioned(url, 'v1', '/resource/generic?limit=1');
    case 'alarming':
      return versioned(url, 'v2', '/alarms?limit=1');
    default:
      return undefined;
  }
}

export interface Probe {
  readonly type: string;
  readonly interface: string;
  readonly url: string;
  readonly accepted: boolean;
  readonly seen: string;
}

const replyText = (error: unknown) =>
  error instanceof ApiError ? `${error.status} ${error.detail}${error.requestId ? ` (${error.requestId})` : ''}` : (error as Error).message;

/** One probe: the call with the token must answer, and the same call without it must be refused (else it proves nothing). */
async function probe(cloud: Cloud, type: string, iface: string, base: string): Promise<Probe> {
  const path = probePath(type, base);
  if (path === undefined) return { type, interface: iface, url: base, accepted: false, seen: `not covered: stackgate knows no authenticated call for service type ${type}` };
  const url = `${base}${path}`;
  try {
    const r = await cloud.requestUrl('GET', url, { timeoutMs: 15_000 });
    const anonymous = await cloud.requestUrl('GET', url, { timeoutMs: 15_000, withoutToken: true }).then((x) => `${x.status}`, (error: unknown) => (error instanceof ApiError ? error.status : replyText(error)));
    if (anonymous !== 401) return { type, interface: iface, url, accepted: false, seen: `${r.status} with the token, but ${anonymous} without one (expected 401): the call proves nothing about the token` };
    return { type, interface: iface, url, accepted: true, seen: `${r.status}${r.requestId ? ` ${r.requestId}` : ''}; 401 without the token` };
  } catch (error) {
    return { type, interface: iface, url, accepted: false, seen: replyText(error) };
  }
}

/**
 * One authenticated call per (service type, interface) of the token's catalog in the lab's region and of the spec's
 * expected catalog (one the catalog lacks is a finding).
 */
export async function tokenProbes(lab: Lab, cloud: Cloud): Promise<Probe[]> {
  const region = lab.region;
  const live = cloud.catalog.flatMap((s) => s.endpoints.filter((e) => !e.region || e.region === region).map((e) => ({ type: s.type, interface: e.interface })));
  const wanted = [...new Map([...lab.expectedCatalog, ...live].map((e) => [`${e.type}|${e.interface}`, { type: e.type, interface: e.interface }])).values()];
  return Promise.all(
    wanted.map(async (e): Promise<Probe> => {
      let base: string;
      try {
        base = cloud.endpoint(e.type, e.interface);
      } catch (error) {
        return { type: e.type, interface: e.interface, url: '-', accepted: false, seen: (error as Error).message };
      }
      return probe(cloud, e.type, e.interface, base);
    }),
  );
}

/**
 * Whether one API server behind the VIP (not the VIP) accepts a token: tokenProbes' call for its service type, sent
 * to the server's own address over plain HTTP as HAProxy reaches it, with the path of the type's catalog endpoint
 * (internal, else public, else admin). True where the catalog has no such endpoint (the catalog checks name that)
 * or stackgate knows no call for the type.
 */
export async function serverAccepts(cloud: Cloud, type: string, address: string, port: number): Promise<true | string> {
  const base = ['internal', 'public', 'admin'].map((i) => endpointOrNone(cloud, type, i)).find((u) => u !== undefined);
  if (base === undefined) return true;
  const path = probePath(type, base);
  if (path === undefined) return true;
  const host = address.includes(':') ? `[${address}]` : address;
  const url = `http://${host}:${port}${new URL(base).pathname.replace(/\/$/, '')}${path}`;
  try {
    await cloud.requestUrl('GET', url, { timeoutMs: 15_000 });
    return true;
  } catch (error) {
    return `${type} ${url}: ${replyText(error)}`;
  }
}

function endpointOrNone(cloud: Cloud, type: string, iface: string): string | undefined {
  try {
    return cloud.endpoint(type, iface);
  } catch {
    return undefined;
  }
}
