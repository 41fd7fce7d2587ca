/**
 * Whether a tenant's VM can use the cloud's own APIs (D-011 item 3): from inside the guest, every public endpoint's
 * host name resolved with the guest's resolver (the subnet's DNS servers) and an HTTPS request to it, verified against
 * the CA the cloud shipped into the guest through the metadata service. Pure parts: the user data that ships the CA,
 * the one shell script the guest runs for all endpoints side by side, and its output read back into findings.
 */
import { quote } from '../node/quote.ts';
import type { CatalogService } from './cloud.ts';

/** Where the guest keeps the CA certificates it trusts (Debian's bundle, where cloud-init's ca_certs writes too). */
export const GUEST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * User data that ships the lab CA as a cloud ships it to tenants: a #cloud-config whose ca_certs module installs it
 * on a cloud-init image (the stackgate guest takes the PEM blocks from it). Undefined when the bundle holds none.
 */
export function caUserData(bundle: string): string | undefined {
  const certs = bundle.match(PEM);
  if (!certs) return undefined;
  const items = certs.map((c) => `    - |\n${c.split('\n').map((l) => `      ${l.trim()}`).join('\n')}`);
  return `#cloud-config\nca_certs:\n  trusted:\n${items.join('\n')}\n`;
}

export interface PublicEndpoint {
  readonly service: string;
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The request target: the URL's path and query. */
  readonly path: string;
}

/** Every public endpoint of the catalog in the region, each once. */
export function publicEndpoints(catalog: readonly CatalogService[], region: string): PublicEndpoint[] {
  const seen = new Set<string>();
  return catalog.flatMap((s) =>
    s.endpoints
      .filter((e) => e.interface === 'public' && (!e.region || e.region === region) && !seen.has(e.url) && seen.add(e.url))
      .map((e) => {
        const u = new URL(e.url);
        const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
        return { service: s.name || s.type, url: e.url, host: u.hostname, port, path: `${u.pathname}${u.search}` || '/' };
      }),
  );
}

const isIpv4 = (host: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(host);

/**
 * One busybox shell script that probes every endpoint side by side and prints, per endpoint, what the resolver said
 * and what the TLS client saw: `@@ <i> dns` then nslookup's output, `@@ <i> tls <rc> <seconds>` then the client's.
 * The client connects to the first IPv4 address resolved, sends the name as SNI, and fails on a certificate that the
 * bundle does not verify or that does not name the host.
 */
export function reachScript(endpoints: readonly PublicEndpoint[], o: { caFile: string; seconds: number }): string {
  const probe = (e: PublicEndpoint, i: number) => {
    const request = `GET ${e.path} HTTP/1.1\\r\\nHost: ${e.host}:${e.port}\\r\\nUser-Agent: stackgate\\r\\nConnection: close\\r\\n\\r\\n`;
    const verify = isIpv4(e.host) ? `-verify_ip ${quote(e.host)}` : `-servername ${quote(e.host)} -verify_hostname ${quote(e.host)}`;
    const resolve = isIpv4(e.host)
      ? `echo "Name: ${e.host}"; echo "Address: ${e.host}"`
      : `timeout "$T" nslookup ${quote(e.host)} 2>&1`;
    return [
      `p${i}() {`,
      `  t0=$(cut -d' ' -f1 /proc/uptime)`,
      `  echo "@@ ${i} dns"`,
      `  r=$(${resolve}); echo "$r"`,
      `  a=$(echo "$r" | awk '/^Name:/{n=1} n && /^Address/ && $NF ~ /^[0-9.]+$/ {print $NF; exit}')`,
      `  rc=-`,
      `  if [ -n "$a" ]; then`,
      `    printf '%b' ${quote(request)} | timeout "$T" openssl s_client -quiet -connect "$a:${e.port}" ${verify} \\`,
      `      -verify_return_error -CAfile "$CA" >/tmp/sg-tls.${i} 2>&1; rc=$?`,
      `  fi`,
      `  echo "@@ ${i} tls $rc $(awk -v t="$t0" '{printf "%.1f", $1 - t}' /proc/uptime)"`,
      `  [ -f /tmp/sg-tls.${i} ] && head -c 2000 /tmp/sg-tls.${i} && echo && rm -f /tmp/sg-tls.${i}`,
      `}`,
    ].join('\n');
  };
  const n = endpoints.length;
  return [
    `T=${o.seconds}; CA=${quote(o.caFile)}`,
    `echo "@@ servers $(awk '/^nameserver/{printf "%s ", $2}' /etc/resolv.conf 2>/dev/null)"`,
    `echo "@@ ca $(grep -c '^-----BEGIN CERTIFICATE-----' "$CA" 2>/dev/null || echo 0)"`,
    `command -v openssl >/dev/null || echo "@@ no-client"`,
    ...endpoints.map(probe),
    ...endpoints.map((_, i) => `p${i} >/tmp/sg-reach.${i} 2>&1 &`),
    'wait',
    ...endpoints.map((_, i) => `cat /tmp/sg-reach.${i}; rm -f /tmp/sg-reach.${i}`),
    n === 0 ? 'true' : '',
  ].filter(Boolean).join('\n');
}

export interface Reach {
  readonly endpoint: PublicEndpoint;
  readonly addresses: readonly string[];
  /** The HTTP status line the API answered with. */
  readonly status?: string;
  /** Why there is no status line, in a few words. */
  readonly answered: string;
}

/** The addresses nslookup printed for the name (after its `Name:` line; the server's own `Address:` comes before). */
export function resolvedAddresses(nslookup: string): string[] {
  const lines = nslookup.split('\n');
  const at = lines.findIndex((l) => /^Name:/.test(l));
  if (at < 0) return [];
  return lines.slice(at).flatMap((l) => /^Address( \d+)?:\s*(\S+)/.exec(l)?.[2] ?? []).filter((a) => !a.includes('#'));
}

/** What the TLS client's output says, when it holds no status line. */
function why(tls: string, rc: string, seconds: number, limit: number, nslookup: string): string {
  if (rc === '-') {
    const said = nslookup.split('\n').find((l) => /can't|timed out|NXDOMAIN|SERVFAIL|REFUSED|no servers|not found/i.test(l));
    return `not connected (nslookup: ${said?.trim() || 'no address'})`;
  }
  const verify = tls.match(/verify error:[^\n]*/)?.[0] ?? tls.match(/[^\n:]*certificate verify failed[^\n]*/)?.[0];
  if (verify) return `TLS: ${verify.trim()}`;
  if (rc === '124' || rc === '143' || seconds >= limit) return `no answer in ${limit} s`;
  const tcp = /BIO_connect:([^:\n]+):/.exec(tls)?.[1];
  if (tcp) return `TCP: ${tcp}`;
  const error = tls.split('\n').find((l) => /error|errno|no peer/i.test(l));
  return `no HTTP answer (exit ${rc}${error ? `: ${error.trim().slice(0, 200)}` : ''})`;
}

export interface ReachOutcome {
  readonly servers: readonly string[];
  /** Certificates the guest holds in its bundle. */
  readonly caCerts: number;
  readonly clientMissing: boolean;
  readonly reaches: readonly Reach[];
}

/** The script's output, endpoint by endpoint. */
export function parseReach(out: string, endpoints: readonly PublicEndpoint[], limit: number): ReachOutcome {
  const servers = /^@@ servers ?(.*)$/m.exec(out)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
  const caCerts = Number(/^@@ ca (\d+)/m.exec(out)?.[1] ?? 0);
  const reaches = endpoints.map((endpoint, i) => {
    const dns = new RegExp(`^@@ ${i} dns\\n([\\s\\S]*?)^@@ ${i} tls (\\S+) (\\S+)(?:\\n|$)([\\s\\S]*?)(?=^@@ |(?![\\s\\S]))`, 'm').exec(out);
    if (!dns) return { endpoint, addresses: [], answered: 'the guest printed nothing for it' };
    const [, nslookup = '', rc = '-', secs = '0', tls = ''] = dns;
    const status = /^HTTP\/\d(\.\d)? \d{3}[^\r\n]*/m.exec(tls)?.[0];
    const answered = status ? `HTTP ${status.split(' ')[1]}` : why(tls, rc, Number(secs), limit, nslookup);
    return { endpoint, addresses: resolvedAddresses(nslookup), ...(status ? { status } : {}), answered };
  });
  return { servers, caCerts, clientMissing: /^@@ no-client$/m.test(out), reaches };
}

/** One finding per endpoint that gave no HTTP status line, and one for a guest without a client or a CA. */
export function reachFindings(o: ReachOutcome, caFile: string): string[] {
  const findings: string[] = [];
  if (o.clientMissing) findings.push('the guest has no openssl: it cannot make a verified TLS connection');
  if (o.caCerts === 0) findings.push(`the guest holds no CA certificate at ${caFile} (the user data ships the lab CA)`);
  const servers = o.servers.join(' ') || 'none';
  for (const r of o.reaches.filter((x) => !x.status)) {
    const e = r.endpoint;
    findings.push(`${e.service} ${e.url}: ${e.host} resolved to ${r.addresses.join(' ') || 'nothing'} (servers ${servers}); ${r.answered}`);
  }
  return findings;
}
