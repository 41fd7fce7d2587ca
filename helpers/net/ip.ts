import ipaddr from 'ipaddr.js';

/** An IPv4 network in CIDR form, with the arithmetic the checks need. */
export interface Cidr {
  readonly text: string;
  readonly base: number;
  readonly prefix: number;
}

export function toInt(address: string): number {
  const parts = ipaddr.IPv4.parse(address).octets;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function fromInt(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

export function isIPv4(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

export function parseCidr(text: string): Cidr {
  const [addr, prefix] = ipaddr.IPv4.parseCIDR(text);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return { text, base: (toInt(addr.toString()) & mask) >>> 0, prefix };
}

export function isCidr(text: string): boolean {
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(text)) return false;
  try {
    parseCidr(text);
    return isIPv4(text.split('/')[0]!);
  } catch {
    return false;
  }
}

export function size(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function contains(cidr: Cidr, address: string): boolean {
  const value = toInt(address);
  return value >= cidr.base && value < cidr.base + size(cidr);
}

export function networkAddress(cidr: Cidr): string {
  return fromInt(cidr.base);
}

export function broadcastAddress(cidr: Cidr): string {
  return fromInt(cidr.base + size(cidr) - 1);
}

/** True when every address of `inner` lies in `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return inner.prefix >= outer.prefix && contains(outer, fromInt(inner.base));
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return contains(a, fromInt(b.base)) || contains(b, fromInt(a.base));
}

export interface Range {
  readonly start: string;
  readonly end: string;
}

export function inRange(range: Range, address: string): boolean {
  const value = toInt(address);
  return value >= toInt(range.start) && value <= toInt(range.end);
}

export function rangeWithin(range: Range, cidr: Cidr): boolean {
  return contains(cidr, range.start) && contains(cidr, range.end) && toInt(range.start) <= toInt(range.end);
}

export function rangesOverlap(a: Range, b: Range): boolean {
  return toInt(a.start) <= toInt(b.end) && toInt(b.start) <= toInt(a.end);
}

/** The in-addr.arpa name of an address, e.g. 250.105.168.192.in-addr.arpa. */
export function ptrName(address: string): string {
  return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
}

/** The reverse zone that holds a network's PTR records (octet-aligned, /24 and wider). */
export function reverseZone(cidr: Cidr): string {
  const octets = Math.max(1, Math.floor(cidr.prefix / 8));
  return `${networkAddress(cidr).split('.').slice(0, octets).reverse().join('.')}.in-addr.arpa`;
}
