/**
 * The DNS servers tenant guests are given, judged against the spec's neutron.tenantDnsServers: from the DHCP options
 * OVN answers a subnet's guests with, and from a guest's resolv.conf.
 */

/** OVN's dns_server option: "{1.1.1.1, 1.0.0.1}" as Neutron writes a list, or one bare address. */
export function dnsServerOption(value: string | undefined): string[] {
  return (value ?? '').replace(/^\{|\}$/g, '').split(/[\s,]+/).filter(Boolean);
}

/** The nameserver lines of a resolv.conf, in the order a resolver tries them. */
export function resolvConfNameservers(text: string): string[] {
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
}

/**
 * What differs from the spec: the same servers in the same order (a resolver asks the first one first), where `what`
 * names the object and its source, e.g. "subnet sg-x-dns-subnet (10.0.0.0/24): OVN's DHCP options".
 */
export function dnsServersFindings(what: string, want: readonly string[], seen: readonly string[]): string[] {
  if (seen.length === want.length && seen.every((s, i) => s === want[i])) return [];
  return [`${what} give DNS servers ${seen.join(', ') || 'none'}, the spec says ${want.join(', ')} (neutron.tenantDnsServers)`];
}
