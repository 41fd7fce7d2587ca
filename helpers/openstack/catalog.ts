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

/** A GET that needs a valid token and costs the service nothing, per catalog type (path after the endpoint URL). */
function probePath(type: string, url: string): string {
  switch (type) {
    case 'identity':
      return /\/v3$/.test(url) ? '/auth/projects' : '/v3/auth/projects';
    case 'compute':
      return '/flavors?limit=1';
    case 'network':
      return '/v2.0/networks?limit=1';
    case 'image':
      return '/v2/images?limit=1';
    case 'placement':
      return '/resource_providers';
    case 'volumev3':
    case 'block-storage':
      return '/volumes?limit=1';
    default:
      return '/';
  }
}

export interface Probe {
  readonly type: string;
  readonly interface: string;
  readonly url: string;
  readonly accepted: boolean;
  readonly seen: string;
}

/** One authenticated GET per (service type, interface) the spec expects and the catalog has. */
export async function tokenProbes(lab: Lab, cloud: Cloud): Promise<Probe[]> {
  const wanted = [...new Map(lab.expectedCatalog.map((e) => [`${e.type}|${e.interface}`, e])).values()];
  return Promise.all(
    wanted.map(async (e): Promise<Probe> => {
      let base: string;
      try {
        base = cloud.endpoint(e.type, e.interface);
      } catch (error) {
        return { type: e.type, interface: e.interface, url: '-', accepted: false, seen: (error as Error).message };
      }
      const url = `${base}${probePath(e.type, base)}`;
      try {
        const r = await cloud.requestUrl('GET', url, { timeoutMs: 15_000 });
        return { type: e.type, interface: e.interface, url, accepted: true, seen: `${r.status}${r.requestId ? ` ${r.requestId}` : ''}` };
      } catch (error) {
        const seen = error instanceof ApiError ? `${error.status} ${error.detail}${error.requestId ? ` (${error.requestId})` : ''}` : (error as Error).message;
        return { type: e.type, interface: e.interface, url, accepted: false, seen };
      }
    }),
  );
}
