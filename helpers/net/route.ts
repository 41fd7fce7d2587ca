import { execFile } from 'node:child_process';

/** A command's stdout and exit code, never a rejection: the caller decides (execa would cost a tenth of a second to load). */
function command(file: string, args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  return new Promise((resolve) =>
    execFile(file, args, (error, stdout, stderr) => resolve({ stdout, stderr, exitCode: error ? (typeof error.code === 'number' ? error.code : 127) : 0 })),
  );
}

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
  const { stdout, stderr, exitCode } = await command('ip', ['-j', 'route', ...args]);
  if (exitCode !== 0) throw new Error(`ip -j route ${args.join(' ')} exited ${exitCode}: ${stderr.trim()}`);
  return stdout.trim() ? (JSON.parse(stdout) as IpRoute[]) : [];
}

function darwinField(text: string, field: string): string | undefined {
  return text.match(new RegExp(`^\\s*${field}:\\s*(\\S+)`, 'm'))?.[1];
}

export async function routeTo(address: string): Promise<RouteLookup> {
  if (process.platform === 'darwin') {
    const { stdout } = await command('route', ['-n', 'get', address]);
    return { address, dev: darwinField(stdout, 'interface'), gateway: darwinField(stdout, 'gateway') };
  }
  const { stdout, exitCode } = await command('ip', ['-j', 'route', 'get', address]);
  if (exitCode !== 0 || !stdout.trim()) return { address, dev: undefined, gateway: undefined };
  const [r] = JSON.parse(stdout) as IpRoute[];
  return { address, dev: r?.dev, gateway: r?.gateway };
}

export async function defaultRoute(): Promise<{ dev: string | undefined; gateway: string | undefined }> {
  if (process.platform === 'darwin') {
    const { stdout } = await command('route', ['-n', 'get', 'default']);
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
