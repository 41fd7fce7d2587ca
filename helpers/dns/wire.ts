/**
 * One DNS question over UDP, to read what node:dns hides: the header flags (AA, RA) and the rcode. Packets are
 * encoded and decoded by dns-packet; this file only sends, waits (bounded) and matches the reply's id.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import * as packet from 'dns-packet';

export const DNS_TIMEOUT_MS = 1500;

export interface AskOptions {
  /** Source address of the query (an address of this host), e.g. to be seen as a client of one lab network. */
  readonly localAddress?: string;
  /** Ask for recursion (RD); on by default, as a stub resolver does. */
  readonly recursionDesired?: boolean;
  readonly timeoutMs?: number;
  readonly port?: number;
}

export interface Reply {
  readonly rcode: string;
  /** Authoritative answer. */
  readonly aa: boolean;
  /** Recursion available to this client. */
  readonly ra: boolean;
  readonly tc: boolean;
  readonly answers: readonly packet.Answer[];
  readonly authorities: readonly packet.Answer[];
}

/** Where a query went, for messages: "192.168.105.101:53 from 10.0.2.1". */
export function describeQuery(server: string, options: AskOptions = {}): string {
  return `${server}:${options.port ?? 53}${options.localAddress ? ` from ${options.localAddress}` : ''}`;
}

/** The parts of a decoded packet a check reads. */
export function toReply(decoded: packet.DecodedPacket): Reply {
  return {
    rcode: (decoded as { rcode?: string }).rcode ?? 'UNKNOWN',
    aa: decoded.flag_aa,
    ra: decoded.flag_ra,
    tc: decoded.flag_tc,
    answers: decoded.answers ?? [],
    authorities: decoded.authorities ?? [],
  };
}

/** Ask `server` one question; throws with the server, the question and why when no reply comes in time. */
export async function ask(server: string, name: string, type: packet.RecordType, options: AskOptions = {}): Promise<Reply> {
  const timeoutMs = options.timeoutMs ?? DNS_TIMEOUT_MS;
  const id = randomInt(1, 65_535);
  const query = packet.encode({
    type: 'query',
    id,
    flags: options.recursionDesired === false ? 0 : packet.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
  });
  const socket = createSocket('udp4');
  const what = `${type} ${name} to ${describeQuery(server, options)}`;
  try {
    return await new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${what} within ${timeoutMs} ms`)), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(new Error(`${what}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
      };
      socket.on('error', fail);
      socket.on('message', (message) => {
        let decoded: packet.DecodedPacket;
        try {
          decoded = packet.decode(message);
        } catch (error) {
          return fail(error as Error);
        }
        if (decoded.id !== id || decoded.type !== 'response') return; // not ours: keep waiting
        clearTimeout(timer);
        resolve(toReply(decoded));
      });
      // A connected socket hears ICMP port-unreachable as ECONNREFUSED, so a stopped server fails at once.
      socket.bind({ address: options.localAddress, port: 0 }, () => {
        socket.connect(options.port ?? 53, server, () => socket.send(query));
      });
    });
  } finally {
    socket.close();
  }
}
