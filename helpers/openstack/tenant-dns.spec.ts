import { describe, expect, it } from 'vitest';
import { dnsServerOption, dnsServersFindings, resolvConfNameservers } from './tenant-dns.ts';

describe('tenant DNS servers, as OVN and the guest hold them', () => {
  it("reads OVN's dns_server option as Neutron writes a list, and a single bare address", () => {
    expect(dnsServerOption('{1.1.1.1, 1.0.0.1}')).toEqual(['1.1.1.1', '1.0.0.1']);
    expect(dnsServerOption('192.168.105.101')).toEqual(['192.168.105.101']);
    expect(dnsServerOption(undefined)).toEqual([]);
  });

  it("reads a resolv.conf's nameservers in order, past search lines and comments", () => {
    const text = 'search openstack.local\n# nameserver 9.9.9.9\nnameserver 1.1.1.1\n  nameserver\t1.0.0.1\noptions ndots:1\n';
    expect(resolvConfNameservers(text)).toEqual(['1.1.1.1', '1.0.0.1']);
    expect(resolvConfNameservers('')).toEqual([]);
  });

  it("passes the spec's servers in its order, and names the object, what it gives and what the spec says otherwise", () => {
    const want = ['1.1.1.1', '1.0.0.1'];
    const what = "subnet sg-r-dns-net-subnet (10.20.1.0/24): OVN's DHCP options";
    expect(dnsServersFindings(what, want, ['1.1.1.1', '1.0.0.1'])).toEqual([]);
    expect(dnsServersFindings(what, want, ['1.0.0.1', '1.1.1.1'])).toEqual([
      `${what} give DNS servers 1.0.0.1, 1.1.1.1, the spec says 1.1.1.1, 1.0.0.1 (neutron.tenantDnsServers)`,
    ]);
    expect(dnsServersFindings(what, want, ['1.1.1.1'])[0]).toContain('give DNS servers 1.1.1.1, the spec');
    expect(dnsServersFindings(what, want, [])[0]).toContain('give DNS servers none,');
  });
});
