/**
 * East-west between guests on different compute nodes: from inside one guest (over SSH), ping the other guest's fixed
 * address on the tenant network and open its SSH port, so that the packets cross the Geneve tunnel between the two
 * chassis and never the router. The guest has busybox (ping, nc, timeout), as the embedded lab's image and cirros do.
 */

/** The one shell command run in the source guest; the address is checked to be an IPv4 address first. */
export function eastWestScript(address: string, port: number): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) throw new Error(`east-west: "${address}" is not an IPv4 address`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`east-west: ${port} is not a TCP port`);
  return [
    `ping -c 3 -W 2 ${address} >/tmp/sg-east-west 2>&1; echo "ping-exit $?"`,
    "grep 'packets transmitted' /tmp/sg-east-west",
    // An SSH server speaks first: its banner line proves the TCP connection across.
    `echo "tcp $( (sleep 2) | timeout 6 nc -w 3 ${address} ${port} 2>&1 | head -n 1 | tr -d '\\r')"`,
  ].join('; ');
}

export interface EastWest {
  /** Echo replies out of requests sent; undefined when ping printed no summary. */
  readonly replies: number | undefined;
  readonly sent: number | undefined;
  /** The first line the far guest's SSH port sent back ('' when nothing). */
  readonly banner: string;
}

export function parseEastWest(out: string): EastWest {
  const ping = out.match(/(\d+) packets transmitted, (\d+) (?:packets )?received/);
  const banner = out.match(/^tcp ?(.*)$/m)?.[1]?.trim() ?? '';
  return { sent: ping ? Number(ping[1]) : undefined, replies: ping ? Number(ping[2]) : undefined, banner };
}

/** What is wrong with one direction, each finding naming both guests and the address; none when both probes got across. */
export function eastWestFindings(from: string, to: string, address: string, port: number, seen: EastWest): string[] {
  const where = `from guest ${from} to guest ${to} at ${address}`;
  const out: string[] = [];
  if (seen.replies === undefined) out.push(`${where}: ping printed no summary`);
  else if (seen.replies === 0) out.push(`${where}: no echo reply to ${seen.sent ?? '?'} pings`);
  const got = seen.banner ? `got "${seen.banner.slice(0, 60)}"` : 'nothing came back';
  if (!seen.banner.startsWith('SSH-')) out.push(`${where}: TCP ${port} gave no SSH banner (${got})`);
  return out;
}
