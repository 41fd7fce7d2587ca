import { createSocket, type Socket } from 'node:dgram';
import * as packet from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { loadLab } from '../lab/load.ts';
import { recursionFindings, untestableSides, vantages, type RecursionSeen } from './recursion.ts';
import { expectedAnswers, sameAnswer, sameName, seen } from './resolve.ts';
import { catalogNames, dnsServers, expectedEndpoints, labZones, type DnsServer } from './servers.ts';
import { ask } from './wire.ts';
import { authorityFindings, serialMismatches, type ZoneAuthority, type ZoneSerial } from './zone.ts';

const embedded = loadLab('embedded');
const alpine = loadLab('alpine-lxc');

const server = (node: string, address: string, role: DnsServer['role'] = 'primary'): DnsServer => ({ node, role, address, addresses: [address] });
const ns1 = server('ns1', '10.9.0.1');
const ns2 = server('ns2', '10.9.0.2', 'secondary');

describe('servers and zones from the spec', () => {
  it('asks each dns.servers node at its management address, primary unless stated', () => {
    expect(dnsServers(embedded)).toEqual([{ node: 'node1', role: 'primary', address: '192.168.105.101', addresses: ['192.168.105.101', '10.0.1.101', '10.0.3.101'] }]);
    expect(dnsServers(alpine).map((s) => `${s.node} ${s.role}`)).toEqual(['controller-1 primary', 'controller-2 secondary', 'controller-3 secondary']);
  });

  it('serves the domain and one reverse zone per network with records', () => {
    expect(labZones(embedded)).toEqual(['openstack.local', '105.168.192.in-addr.arpa', '2.0.10.in-addr.arpa']);
  });
});

describe('catalog names', () => {
  it('one name per host and interface, on the VIP of that interface', () => {
    const names = catalogNames(embedded, expectedEndpoints(embedded));
    expect(names.map((n) => `${n.interface} ${n.host} → ${n.vip?.address}`)).toEqual([
      'public public.openstack.local → 10.0.2.250',
      'internal internal.openstack.local → 192.168.105.250',
    ]);
    expect(names[0]!.services).toContain('keystone');
  });

  it('takes a real catalog: URLs by service type and interface; IP literals are no names; unknown types use the endpoint VIP', () => {
    const names = catalogNames(embedded, [
      { service: 'keystone', type: 'identity', interface: 'public', url: 'https://Public.OpenStack.local.:5000/v3' },
      { service: 'glance', type: 'image', interface: 'internal', url: 'https://192.168.105.250:9292' },
      { service: 'heat', type: 'orchestration', interface: 'internal', url: 'https://internal.openstack.local:8004/v1/%(tenant_id)s' },
    ]);
    expect(names.map((n) => `${n.interface} ${n.host} ${n.vip?.name} ${n.services.join('+')}`)).toEqual([
      'public public.openstack.local external keystone',
      'internal internal.openstack.local internal heat',
    ]);
  });
});

describe("charmed-twin's names: one per VIP of every service's pair", () => {
  const twin = loadLab('charmed-twin');

  it('resolves each catalog name to the VIP of its own service and interface', () => {
    const names = catalogNames(twin, expectedEndpoints(twin));
    expect(names).toHaveLength(12);
    expect(names.filter((n) => n.host.startsWith('cinder')).map((n) => `${n.interface} ${n.host} → ${n.vip?.name} ${n.vip?.address}`)).toEqual([
      'public cinder.twin.dc0.vr0.cloud.neumatrix.local → cinder-public 10.112.4.230',
      'internal cinder-internal.twin.dc0.vr0.cloud.neumatrix.local → cinder-internal 10.112.8.230',
    ]);
  });

  it("serves an A and a PTR record for every VIP, Horizon's included", () => {
    const vips = twin.dnsRecords.filter((r) => r.what.startsWith('VIP ')).map((r) => r.what.slice(4));
    expect(vips.sort()).toEqual(twin.vips.map((v) => v.name).sort());
    expect(twin.ptrRecords.find((p) => p.what === 'VIP dashboard-internal')).toMatchObject({ ptr: '229.8.112.10.in-addr.arpa', zone: '112.10.in-addr.arpa' });
  });
});

describe('authority findings', () => {
  const good = (s: DnsServer, zone = 'lab.test'): ZoneAuthority => ({
    server: s,
    zone,
    soa: { rcode: 'NOERROR', aa: true, record: { mname: 'ns1.lab.test', rname: 'hostmaster.lab.test', serial: 7 } },
    ns: {
      rcode: 'NOERROR',
      aa: true,
      names: [
        { name: 'ns1.lab.test', a: { values: ['10.9.0.1'] } },
        { name: 'ns2.lab.test', a: { values: ['10.9.0.2'] } },
      ],
    },
  });

  it('finds nothing when every server answers authoritatively and NS names the DNS servers', () => {
    expect(authorityFindings([ns1, ns2], [good(ns1), good(ns2)])).toEqual([]);
  });

  it('names the server and zone of a missing reply, a clear AA, a lame NS and an unnamed server', () => {
    const lame: ZoneAuthority = {
      ...good(ns1),
      soa: { rcode: 'NOERROR', aa: false, record: { mname: 'ns1.lab.test', rname: 'h.lab.test', serial: 7 } },
      ns: { rcode: 'NOERROR', aa: true, names: [{ name: 'ns1.lab.test', a: { values: ['10.9.0.1'] } }, { name: 'web.lab.test', a: { values: ['10.9.0.80'] } }] },
    };
    const findings = authorityFindings([ns1, ns2], [lame, { server: ns2, zone: 'lab.test', error: 'SOA lab.test to 10.9.0.2:53: ECONNREFUSED' }]);
    expect(findings).toEqual([
      'zone lab.test at ns1 (10.9.0.1): answer is not authoritative (AA clear, rcode NOERROR), expected AA set',
      'zone lab.test at ns1 (10.9.0.1): NS web.lab.test resolves to 10.9.0.80, which is no DNS server of the spec (ns1 (10.9.0.1), ns2 (10.9.0.2))',
      'zone lab.test at ns1 (10.9.0.1): no NS record names DNS server ns2 (10.9.0.2)',
      'zone lab.test at ns2 (10.9.0.2): no answer (SOA lab.test to 10.9.0.2:53: ECONNREFUSED), expected an authoritative SOA and NS',
    ]);
  });

  it('flags a missing SOA and an SOA primary that no NS names', () => {
    const z: ZoneAuthority = {
      ...good(ns1),
      soa: { rcode: 'NXDOMAIN', aa: true, record: undefined },
    };
    expect(authorityFindings([ns1, ns2], [z])).toEqual(['zone lab.test at ns1 (10.9.0.1): no SOA record (rcode NXDOMAIN)']);
    const other: ZoneAuthority = { ...good(ns1), soa: { rcode: 'NOERROR', aa: true, record: { mname: 'elsewhere.test.', rname: 'h', serial: 1 } } };
    expect(authorityFindings([ns1, ns2], [other])).toEqual(['zone lab.test at ns1 (10.9.0.1): SOA primary elsewhere.test. is not among its NS (ns1.lab.test, ns2.lab.test)']);
  });
});

describe('secondary serials', () => {
  const ns3 = server('ns3', '10.9.0.3', 'secondary');
  const serial = (s: DnsServer, value: number | undefined, zone = 'lab.test'): ZoneSerial => ({ server: s, zone, serial: value, error: value === undefined ? 'no SOA (rcode REFUSED)' : undefined });

  it('agrees when every secondary has the primary serial', () => {
    expect(serialMismatches([serial(ns1, 42), serial(ns2, 42), serial(ns3, 42)])).toEqual([]);
  });

  it('names the lagging secondary, its serial and the expected one, per zone', () => {
    expect(serialMismatches([serial(ns1, 43), serial(ns2, 42), serial(ns3, 43), serial(ns1, 5, 'r.arpa'), serial(ns2, undefined, 'r.arpa')])).toEqual([
      'zone lab.test at secondary ns2 (10.9.0.2): serial 42, expected the primary\'s serial 43',
      "zone r.arpa at secondary ns2 (10.9.0.2): no serial (no SOA (rcode REFUSED)), expected the primary's serial 5",
    ]);
  });

  it('cannot compare without a primary serial', () => {
    expect(serialMismatches([serial(ns1, undefined), serial(ns2, 1)])).toEqual(['zone lab.test at primary ns1 (10.9.0.1): no serial (no SOA (rcode REFUSED))']);
    expect(serialMismatches([serial(ns2, 1)])).toEqual(['zone lab.test: no primary server to compare with']);
  });
});

describe('recursion policy', () => {
  it("knows this host's address on each lab network and whether the spec allows recursion there", () => {
    expect(vantages(embedded, ['127.0.0.1', '192.168.105.1', '10.0.2.1'])).toEqual([
      { network: 'management', address: '192.168.105.1', allowed: true },
      { network: 'tunnel', address: undefined, allowed: true },
      { network: 'external', address: '10.0.2.1', allowed: false },
      { network: 'storage', address: undefined, allowed: true },
    ]);
  });

  it('reports a side of the policy that no address of this host can test', () => {
    expect(untestableSides(vantages(embedded, ['192.168.105.1']))).toEqual(['recursion refused cannot be tested: this host has no address on network external']);
    expect(untestableSides(vantages(embedded, ['192.168.105.1', '10.0.2.1']))).toEqual([]);
  });

  it('names the server, the client and its network when RA does not follow the spec', () => {
    const client = { network: 'external', address: '10.0.2.1', allowed: false };
    const seenHere: RecursionSeen[] = [
      { server: ns1, client, offered: true },
      { server: ns1, client: { network: 'management', address: '192.168.105.1', allowed: true }, offered: true },
      { server: ns2, client, offered: undefined, error: 'no reply within 1500 ms' },
    ];
    expect(recursionFindings(seenHere)).toEqual([
      'ns1 (10.9.0.1) offers recursion to client 10.0.2.1 on network external (recursion not allowed by the spec): RA set, expected clear',
      'ns2 (10.9.0.2) gave client 10.0.2.1 on network external (recursion not allowed by the spec) no answer (no reply within 1500 ms)',
    ]);
  });
});

describe('names and lookups in messages', () => {
  it('compares names without case or the root dot', () => {
    expect(sameName('Node1.OpenStack.local.', 'node1.openstack.local')).toBe(true);
    expect(sameName('node1.openstack.local', 'node10.openstack.local')).toBe(false);
  });

  it('wants exactly the expected A answer set: a right address beside a wrong one is wrong', () => {
    expect(sameAnswer(['192.168.105.103'], ['192.168.105.103'])).toBe(true);
    expect(sameAnswer(['192.168.105.254', '192.168.105.103'], ['192.168.105.103'])).toBe(false);
    expect(sameAnswer([], ['192.168.105.103'])).toBe(false);
  });

  it('expects every record of one name together (a name may have several)', () => {
    const records = [
      { name: 'api.lab.', address: '10.0.0.1', what: 'record api' },
      { name: 'API.lab', address: '10.0.0.2', what: 'record api2' },
      { name: 'node1.lab', address: '10.0.0.5', what: 'node node1' },
    ];
    expect(expectedAnswers(records).map((r) => r.addresses)).toEqual([['10.0.0.1', '10.0.0.2'], ['10.0.0.5']]);
  });

  it('says what a lookup saw', () => {
    expect(seen({ values: ['10.0.2.250', '192.168.105.250'] })).toBe('10.0.2.250, 192.168.105.250');
    expect(seen({ values: [], error: 'ENOTFOUND' })).toBe('nothing (ENOTFOUND)');
  });
});

describe('ask (against a UDP responder on loopback)', () => {
  let responder: Socket | undefined;
  afterEach(() => {
    responder?.close();
    responder = undefined;
  });

  /** A responder that answers every query via `answer`, after a reply with a wrong id. */
  async function respond(answer: (q: packet.DecodedPacket) => packet.Packet): Promise<number> {
    const socket = createSocket('udp4');
    responder = socket;
    socket.on('message', (msg, rinfo) => {
      const q = packet.decode(msg);
      socket.send(packet.encode({ ...answer(q), id: (q.id! + 1) % 65_536 }), rinfo.port, rinfo.address);
      socket.send(packet.encode({ ...answer(q), id: q.id }), rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return socket.address().port;
  }

  it('reads AA, RA, the rcode and the answers of the reply with its own id', async () => {
    const port = await respond((q) => ({
      type: 'response',
      flags: packet.AUTHORITATIVE_ANSWER | (q.flag_rd ? packet.RECURSION_AVAILABLE : 0),
      questions: q.questions,
      answers: [{ type: 'SOA', name: 'lab.test', ttl: 300, data: { mname: 'ns1.lab.test', rname: 'h.lab.test', serial: 9 } }],
    }));
    const reply = await ask('127.0.0.1', 'lab.test', 'SOA', { port, localAddress: '127.0.0.1' });
    expect(reply).toMatchObject({ rcode: 'NOERROR', aa: true, ra: true, tc: false });
    expect(reply.answers[0]).toMatchObject({ type: 'SOA', data: { mname: 'ns1.lab.test', serial: 9 } });
    expect((await ask('127.0.0.1', 'lab.test', 'SOA', { port, recursionDesired: false })).ra).toBe(false);
  });

  it('fails fast, naming the question and the server, when nothing listens', async () => {
    const port = await respond(() => ({ type: 'response' }));
    responder!.close();
    responder = undefined;
    await expect(ask('127.0.0.1', 'lab.test', 'NS', { port, timeoutMs: 5000 })).rejects.toThrow(`NS lab.test to 127.0.0.1:${port}: ECONNREFUSED`);
  });

  it('gives up after its timeout', async () => {
    const silent = createSocket('udp4');
    responder = silent;
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    await expect(ask('127.0.0.1', 'lab.test', 'A', { port: silent.address().port, timeoutMs: 200 })).rejects.toThrow(/no reply to A lab\.test to 127\.0\.0\.1:\d+ within 200 ms/);
  });
});
