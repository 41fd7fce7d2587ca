/** Who listens where in a lab spec: frontends on VIPs, scrape targets on nodes, and the clashes between them. */
import type { Lab } from './model.ts';
import type { Interface } from './spec.ts';

export interface Listener {
  /** A VIP name or a node name. */
  readonly on: string;
  readonly port: number;
  readonly what: string;
}

/** The frontends the spec puts on VIPs: every catalog endpoint, the dashboard, Prometheus, Grafana and VIP-scraped jobs. */
export function vipListeners(lab: Lab): Listener[] {
  const spec = lab.spec;
  const out: Listener[] = lab.expectedCatalog.map((c) => ({ on: c.vip, port: c.port, what: `service ${c.service}` }));
  if (spec.dashboard?.enabled && spec.dashboard.port) {
    for (const vip of lab.dashboardVips) out.push({ on: vip.name, port: spec.dashboard.port, what: 'dashboard' });
  }
  const mon = spec.monitoring;
  if (mon?.prometheus.vip) out.push({ on: mon.prometheus.vip, port: mon.prometheus.port, what: 'prometheus' });
  if (mon?.grafana?.vip) out.push({ on: mon.grafana.vip, port: mon.grafana.port, what: 'grafana' });
  for (const job of mon?.jobs ?? []) if (job.vip) out.push({ on: job.vip, port: job.port, what: `scrape job ${job.job}` });
  return out;
}

/** (place, port) pairs claimed by more than one listener. */
export function portClashes(listeners: readonly Listener[]): { on: string; port: number; claimants: string[] }[] {
  const byKey = new Map<string, { on: string; port: number; claimants: string[] }>();
  for (const l of listeners) {
    const key = `${l.on}:${l.port}`;
    const entry = byKey.get(key) ?? { on: l.on, port: l.port, claimants: [] };
    if (!entry.claimants.includes(l.what)) entry.claimants.push(l.what);
    byKey.set(key, entry);
  }
  return [...byKey.values()].filter((e) => e.claimants.length > 1);
}

/**
 * Catalog problems: a service interface with no VIP to publish it on (a VIP the spec does not define makes the
 * loader refuse the spec), and VIPs carrying endpoints without an FQDN in the lab's DNS domain.
 */
export function catalogProblems(lab: Lab): string[] {
  const out: string[] = [];
  const catalog = lab.expectedCatalog;
  for (const [name, s] of Object.entries(lab.spec.services ?? {})) {
    for (const iface of s.interfaces ?? (['public', 'internal'] as Interface[])) {
      if (!catalog.some((c) => c.service === name && c.interface === iface)) out.push(`service ${name} wants a ${iface} endpoint, but the spec names no ${iface} VIP for it`);
    }
  }
  const domain = lab.spec.dns?.domain;
  for (const vip of lab.vips.filter((v) => domain && catalog.some((c) => c.vip === v.name))) {
    if (!vip.fqdn) out.push(`VIP ${vip.name} carries catalog endpoints but has no FQDN in the DNS domain ${domain}: the catalog would publish a bare address`);
    else if (!vip.fqdn.endsWith(`.${domain}`)) out.push(`VIP ${vip.name}'s FQDN ${vip.fqdn} lies outside the DNS domain ${domain}`);
  }
  return out;
}

/** The scrape targets the spec implies per node, as listeners, for clash detection. */
export function nodeScrapeListeners(lab: Lab): Listener[] {
  return lab.expectedTargets.filter((t) => t.node).map((t) => ({ on: t.node!, port: Number(t.instance.split(':').pop()), what: `job ${t.job}` }));
}

/** The services (and Horizon, as `dashboard`) that name VIPs of their own, with the interfaces they publish. */
export function ownVipPairs(lab: Lab): { owner: string; interfaces: Interface[]; public?: string; internal?: string }[] {
  const d = lab.spec.dashboard;
  const owners = Object.entries(lab.spec.services ?? {}).map(([name, s]) => ({
    owner: `service ${name}`,
    interfaces: (s.interfaces ?? ['public', 'internal']).filter((i) => i !== 'admin'),
    public: s.vip,
    internal: s.internalVip,
  }));
  if (d?.enabled) {
    owners.push({ owner: 'dashboard', interfaces: ['public', 'internal'], public: d.vip, internal: d.internalVip });
  }
  return owners.filter((o) => o.public !== undefined || o.internal !== undefined);
}

/**
 * Problems of the per-service VIP pairs (a charm's hacluster VIPs, Charmed D-020): a service with a VIP of its own has
 * one for each interface it publishes, the two on different networks (spaces), and no other service shares either.
 */
export function vipPairProblems(lab: Lab): string[] {
  const out: string[] = [];
  const pairs = ownVipPairs(lab);
  const shown = (name: string) => {
    const v = lab.vip(name);
    return `${v.name} (${v.address}, network ${v.network})`;
  };
  for (const p of pairs) {
    for (const iface of p.interfaces) {
      if (p[iface as 'public' | 'internal'] !== undefined) continue;
      const other = iface === 'public' ? `internal VIP ${shown(p.internal!)}` : `public VIP ${shown(p.public!)}`;
      out.push(`${p.owner} has its own ${other} but no ${iface} VIP of its own; expected a pair, one VIP per interface`);
    }
    if (p.public && p.internal && lab.vip(p.public).network === lab.vip(p.internal).network) {
      const net = lab.vip(p.public).network;
      out.push(`${p.owner}'s public VIP ${shown(p.public)} and internal VIP ${shown(p.internal)} share network ${net}; expected two spaces`);
    }
  }
  const owners = new Map<string, string[]>();
  for (const p of pairs) {
    for (const v of [p.public, p.internal]) if (v) owners.set(v, [...new Set([...(owners.get(v) ?? []), p.owner])]);
  }
  for (const [vip, who] of owners) {
    if (who.length > 1) out.push(`VIP ${shown(vip)} is the own VIP of ${who.join(' and ')}; expected each pair its own`);
  }
  return out;
}
