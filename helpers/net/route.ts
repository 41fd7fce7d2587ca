import { execa } from 'execa';

/** How the kernel would send a packet to an address, read from its routing table; nothing is sent. */
export interface RouteLookup {
  readonly address: string;
  readonly dev: string | undefined;
  readonly gateway: string | undefined;
}

interface IpRoute {
  dst?: string;
  dev?: string;
  gateway?: string;
}

async function linuxRoute(args: string[]): Promise<IpRoute[]> {
  const { stdout } = await execa('ip', ['-j', 'route', ...args]);
  return stdout.trim() ? (JSON.parse(stdout) as IpRoute[]) : [];
}

function darwinField(text: string, field: string): string | undefined {
  return text.match(new RegExp(`^\\s*${field}:\\s*(\\S+)`, 'm'))?.[1];
}

export async function routeTo(address: string): Promise<RouteLookup> {
  if (process.platform === 'darwin') {
    const { stdout } = await execa('route', ['-n', 'get', address], { reject: false });
    return { address, dev: darwinField(stdout, 'interface'), gateway: darwinField(stdout, 'gateway') };
  }
  const { stdout, exitCode } = await execa('ip', ['-j', 'route', 'get', address], { reject: false });
  if (exitCode !== 0 || !stdout.trim()) return { address, dev: undefined, gateway: undefined };
  const [r] = JSON.parse(stdout) as IpRoute[];
  return { address, dev: r?.dev, gateway: r?.gateway };
}

export async function defaultRoute(): Promise<{ dev: string | undefined; gateway: string | undefined }> {
  if (process.platform === 'darwin') {
    const { stdout } = await execa('route', ['-n', 'get', 'default'], { reject: false });
    return { dev: darwinField(stdout, 'interface'), gateway: darwinField(stdout, 'gateway') };
  }
  const [r] = await linuxRoute(['show', 'default']);
  return { dev: r?.dev, gateway: r?.gateway };
}

/**
 * Why an address would leave this host the wrong way, or undefined when it is on a directly attached lab
 * interface: no route at all, a route through a gateway, or the default route's own interface.
 */
export function offLabRoute(route: RouteLookup, def: { dev: string | undefined; gateway: string | undefined }): string | undefined {
  if (!route.dev) return `no route to ${route.address}`;
  if (route.gateway) return `${route.address} would go via gateway ${route.gateway} on ${route.dev}, not a directly attached lab interface`;
  if (def.dev && route.dev === def.dev) return `${route.address} would leave through ${route.dev}, the default route's interface`;
  if (route.dev === 'lo') return `${route.address} is routed to loopback`;
  return undefined;
}
