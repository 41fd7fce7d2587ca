/**
 * memcached on every control node (seed 004's "memcached servers", Kolla's memcached on each controller's API
 * address): each asked for its version over its text protocol from where the checks run. Never asserts.
 */
import { Socket } from 'node:net';
import type { Lab, LabNode } from '../lab/model.ts';

/** memcached's own default port: the spec has no field for it, and Kolla and the local provider keep it. */
export const MEMCACHED_PORT = 11211;

/** The control nodes that run memcached for the cloud: every one with an API address, where the lab has Keystone. */
export function memcachedNodes(lab: Lab): LabNode[] {
  return lab.spec.services?.keystone ? lab.nodesWithRole('control').filter((n) => n.apiAddress) : [];
}

export interface MemcachedSeen {
  readonly node: string;
  readonly address: string;
  /** `VERSION 1.6.18`, or why there is no answer. */
  readonly answer?: string;
  readonly error?: string;
}

/** The first line memcached answers to `version`, or why none came within the bound. */
export function askVersion(node: LabNode, port = MEMCACHED_PORT, timeoutMs = 3000): Promise<MemcachedSeen> {
  const address = `${node.apiAddress}:${port}`;
  return new Promise((resolve) => {
    const s = new Socket();
    let got = '';
    const done = (r: { answer?: string; error?: string }) => {
      s.destroy();
      resolve({ node: node.name, address, ...r });
    };
    const partial = () => (got ? ` (got ${JSON.stringify(got)})` : '');
    s.setTimeout(timeoutMs, () => done({ error: `no answer within ${timeoutMs / 1000} s${partial()}` }));
    s.once('error', (e) => done({ error: e.message }));
    s.on('data', (d: Buffer) => {
      got += d.toString('utf8');
      if (got.includes('\r\n')) done({ answer: got.split('\r\n')[0]! });
    });
    s.connect(port, node.apiAddress!, () => s.write('version\r\n'));
  });
}

/** Each control node whose memcached does not answer as memcached, named with its address and what was seen. */
export function memcachedFindings(seen: readonly MemcachedSeen[]): string[] {
  return seen.flatMap((s) => {
    if (s.error) return [`${s.node}: memcached at ${s.address} ${s.error}`];
    if (!/^VERSION \S+/.test(s.answer ?? '')) {
      return [`${s.node}: ${s.address} answered ${JSON.stringify(s.answer)}, not memcached's VERSION`];
    }
    return [];
  });
}
