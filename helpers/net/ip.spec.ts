import { describe, expect, it } from 'vitest';
import { broadcastAddress, cidrWithin, contains, inRange, isCidr, parseCidr, ptrName, reverseZone } from './ip.ts';

describe('ip', () => {
  it('knows what lies inside a network', () => {
    const net = parseCidr('192.168.105.0/24');
    expect(contains(net, '192.168.105.250')).toBe(true);
    expect(contains(net, '192.168.106.1')).toBe(false);
    expect(broadcastAddress(net)).toBe('192.168.105.255');
    expect(cidrWithin(parseCidr('10.20.1.0/24'), parseCidr('10.20.0.0/16'))).toBe(true);
    expect(cidrWithin(parseCidr('10.21.1.0/24'), parseCidr('10.20.0.0/16'))).toBe(false);
  });
  it('rejects what is not a CIDR', () => {
    expect(isCidr('10.0.0.0/24')).toBe(true);
    expect(isCidr('10.0.0.0/33')).toBe(false);
    expect(isCidr('10.0.0/24')).toBe(false);
    expect(isCidr('banana')).toBe(false);
  });
  it('names reverse records and zones', () => {
    expect(ptrName('10.0.2.250')).toBe('250.2.0.10.in-addr.arpa');
    expect(reverseZone(parseCidr('192.168.105.0/24'))).toBe('105.168.192.in-addr.arpa');
    expect(reverseZone(parseCidr('10.12.4.0/22'))).toBe('12.10.in-addr.arpa');
    expect(inRange({ start: '10.0.2.100', end: '10.0.2.199' }, '10.0.2.150')).toBe(true);
  });
});
