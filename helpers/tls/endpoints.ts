/** The endpoints a lab's clients reach over TLS, as its spec states them: the catalog, Horizon, Prometheus, Grafana. */
import type { Lab } from '../lab/model.ts';

export interface TlsEndpoint {
  /** `host:port` as clients write it in URLs. */
  readonly id: string;
  /** The host part of the URL: the VIP's FQDN, or its address when it has none. */
  readonly host: string;
  readonly port: number;
  /** Where the probe connects: the VIP address (the dns layer proves that `host` resolves to it). */
  readonly address: string;
  readonly vip: string;
  /** Whether the spec demands TLS here. */
  readonly tls: boolean;
  /** What the spec serves on it, e.g. "keystone public", "horizon", "prometheus". */
  readonly serves: readonly string[];
  /** Why the endpoint is not expected on this lab (a capability it lacks); undefined when it is. */
  readonly notExpected: string | undefined;
}

/** Whether the spec terminates TLS on a VIP: by the interface it publishes (public → tls.external, internal/admin → tls.internal). */
export function vipTerminatesTls(lab: Lab, vip: string): boolean {
  return lab.vipTls(vip);
}

/** Every distinct host:port of the expected catalog, plus Horizon, Prometheus and Grafana where the spec has them. */
export function tlsEndpoints(lab: Lab): TlsEndpoint[] {
  const byId = new Map<string, TlsEndpoint>();
  const add = (vipName: string, port: number, tls: boolean, what: string, notExpected?: string) => {
    const vip = lab.vip(vipName);
    const id = `${vip.host}:${port}`;
    const seen = byId.get(id);
    byId.set(id, {
      id,
      host: vip.host,
      port,
      address: vip.address,
      vip: vip.name,
      tls: (seen?.tls ?? false) || tls,
      serves: seen ? [...seen.serves, what] : [what],
      notExpected: seen ? seen.notExpected && notExpected : notExpected,
    });
  };
  for (const c of lab.expectedCatalog) add(c.vip, c.port, c.scheme === 'https', `${c.service} ${c.interface}`);
  const dashboard = lab.spec.dashboard;
  if (dashboard?.enabled) {
    const port = dashboard.port ?? 443;
    for (const vip of lab.dashboardVips) add(vip.name, port, vipTerminatesTls(lab, vip.name), 'horizon');
  }
  const mon = lab.spec.monitoring;
  if (mon?.prometheus.vip) add(mon.prometheus.vip, mon.prometheus.port, mon.prometheus.tls ?? vipTerminatesTls(lab, mon.prometheus.vip), 'prometheus');
  if (mon?.grafana?.vip) {
    const lacks = lab.lacks('grafana');
    add(mon.grafana.vip, mon.grafana.port, vipTerminatesTls(lab, mon.grafana.vip), 'grafana', lacks && `lab ${lab.name} lacks grafana: ${lacks}`);
  }
  return [...byId.values()];
}

/** A short name for an endpoint in a message: `public.openstack.local:5000 (keystone public)`. */
export function endpointLabel(e: TlsEndpoint): string {
  return `${e.id} (${e.serves.join(', ')})`;
}
