import { describe, expect, it } from 'vitest';
import { loadLab } from '../lab/load.ts';
import { northboundArgs, northboundFindings, parseDhcpOptions, portGroupName, type NeutronTenant, type NorthboundTenant } from './ovn.ts';

const lab = loadLab('embedded');
const sg = '385dad43-6416-4d6b-8a4c-7981925767ce';
const pg = portGroupName(sg);
const neutron: NeutronTenant = {
  network: { id: 'n1', name: 'sg-r-net', 'provider:network_type': 'geneve', 'provider:segmentation_id': 7 },
  subnet: { id: 's1', cidr: '172.16.1.0/24', allocation_pools: [{ start: '172.16.1.2', end: '172.16.1.254' }] },
  port: { id: 'p1', name: 'sg-r-port', mac_address: 'fa:16:3e:12:63:f2', fixed_ips: [{ subnet_id: 's1', ip_address: '172.16.1.23' }], security_groups: [sg], port_security_enabled: true },
  group: { id: sg, name: 'sg-r-secgroup' },
};
/** What Neutron's OVN driver writes for them (acl-list lines as ovn-nbctl prints them, trimmed). */
const written: NorthboundTenant = {
  logicalSwitch: { name: 'neutron-n1', otherConfig: 'mcast_snoop=false', ports: ['u1', 'u0'] },
  port: { uuid: 'u1', addresses: 'fa:16:3e:12:63:f2 172.16.1.23', portSecurity: 'fa:16:3e:12:63:f2 172.16.1.23' },
  portGroup: {
    name: pg,
    ports: ['u1'],
    acls: [
      `from-lport  1002 (inport == @${pg} && ip4) allow-related`,
      `to-lport  1002 (outport == @${pg} && ip4 && ip4.src == 0.0.0.0/0 && tcp && tcp.dst == 22) allow-related`,
      `to-lport  1002 (outport == @${pg} && ip4 && ip4.src == 0.0.0.0/0 && icmp4) allow-related`,
    ],
  },
};
const inPool = (ip: string) => ip.startsWith('172.16.1.');

describe("what Neutron made of the tenant objects, in OVN's northbound DB", () => {
  it('accepts the objects as the OVN driver writes them', () => {
    expect(northboundFindings(lab, neutron, written, inPool)).toEqual([]);
  });

  it('fails a network OVN never got, whatever the API said', () => {
    expect(northboundFindings(lab, neutron, { logicalSwitch: undefined, port: undefined, portGroup: undefined }, inPool)).toEqual([
      "OVN's northbound DB has no logical switch neutron-n1 for network sg-r-net",
      `OVN's northbound DB has no port group ${pg} for security group sg-r-secgroup`,
    ]);
  });

  it('fails a security group whose SSH rule has no ACL, and a port outside its port group', () => {
    const planted = { ...written, portGroup: { ...written.portGroup!, ports: [], acls: written.portGroup!.acls.filter((a) => !a.includes('tcp')) } };
    expect(northboundFindings(lab, neutron, planted, inPool)).toEqual([
      `port group ${pg} (security group sg-r-secgroup) does not hold port p1`,
      `port group ${pg} (security group sg-r-secgroup) has no ingress ACL allowing tcp/22`,
    ]);
  });

  it("fails a segment without an ID, and a port whose OVN addresses are not Neutron's", () => {
    const noSegment = { ...neutron, network: { ...neutron.network, 'provider:segmentation_id': null } };
    const otherMac = { ...written, port: { ...written.port!, addresses: 'fa:16:3e:00:00:01 172.16.1.23' } };
    expect(northboundFindings(lab, noSegment, otherMac, inPool)).toEqual([
      'network sg-r-net (geneve) has no segmentation ID (none)',
      'OVN port p1 has addresses "fa:16:3e:00:00:01 172.16.1.23", Neutron gave it fa:16:3e:12:63:f2 172.16.1.23',
    ]);
  });
});

describe("OVN's DHCP options of a subnet", () => {
  // `ovn-nbctl --format=json --columns=cidr,options,external_ids find DHCP_Options external_ids:subnet_id=s1`: the
  // subnet's own row and one a port's extra DHCP options made (it carries port_id).
  const json = JSON.stringify({
    headings: ['cidr', 'options', 'external_ids'],
    data: [
      ['172.16.1.0/24', ['map', [['dns_server', '{192.168.105.101}'], ['lease_time', '43200'], ['router', '172.16.1.1']]], ['map', [['neutron:revision_number', '1'], ['subnet_id', 's1']]]],
      ['172.16.1.0/24', ['map', [['dns_server', '{10.9.9.9}']]], ['map', [['port_id', 'p1'], ['subnet_id', 's1']]]],
    ],
  });

  it('parses each row into its CIDR, options and external IDs', () => {
    const rows = parseDhcpOptions(json);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual({ cidr: '172.16.1.0/24', options: { dns_server: '{192.168.105.101}', lease_time: '43200', router: '172.16.1.1' }, externalIds: { 'neutron:revision_number': '1', subnet_id: 's1' } });
    expect(rows[1]!.externalIds.port_id).toBe('p1');
    expect(parseDhcpOptions(JSON.stringify({ headings: ['cidr', 'options', 'external_ids'], data: [] }))).toEqual([]);
  });

  it('reaches the northbound DB as the southbound one, on its port, with the SSL files where the spec has them', () => {
    expect(northboundArgs(lab)).toEqual([`--db=tcp:${lab.node('node1').apiAddress}:6641`]);
    const charmed = loadLab('charmed-caracal');
    const args = northboundArgs(charmed);
    expect(args[0]).toMatch(/^--db=ssl:.*:6641$/);
    expect(args.slice(1)).toEqual(['-p', '/etc/ovn/key_host', '-c', '/etc/ovn/cert_host', '-C', '/etc/ovn/ovn-central.crt']);
  });
});
