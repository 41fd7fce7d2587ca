/**
 * Whether the OpenStack services on a node are configured with every member of the lab's clusters, as their
 * configuration files say: every RabbitMQ member in transport_url, every memcached in memcache(d)_servers, every OVN
 * RAFT member in ovn_nb/sb_connection, and the database VIP in [database] connection. A service that names one member
 * works until that member is lost, which no other check sees before it happens.
 *
 * The files are the ones the node's processes were started with (`--config-file`, `--config-dir`, and in a uwsgi ini
 * `env = OS_<SERVICE>_CONFIG_DIR=` or pyargv's `--config-file`) and, on a Kolla host, /etc/kolla/<service>/. Only
 * hosts leave the node: the script strips every URL's credentials there. It returns findings; it never asserts.
 */
import type { Lab, LabNode } from '../lab/model.ts';
import { inService } from '../node/deployer.ts';
import { memcachedNodes } from './memcached.ts';
import { ovnClusterOf } from './ovn.ts';
import { pgOf } from './postgres.ts';
import { rabbitOf } from './rabbitmq.ts';

/** One setting of one file: the hosts its value names (`host:port`, `tcp:host:port`), credentials stripped. */
export interface ClientSetting {
  readonly file: string;
  readonly section: string;
  readonly key: string;
  readonly hosts: readonly string[];
}

/** The keys read in any section; `connection` only in [database], [api_database] and [placement_database]. */
const KEYS = ['transport_url', 'memcache_servers', 'memcached_servers', 'ovn_nb_connection', 'ovn_sb_connection'];

/**
 * The shell run on a node: the configuration files of the processes in the node's network namespace, then each
 * one's settings as `file<TAB>section<TAB>key<TAB>host,host`. POSIX sh and awk; nothing but hosts is printed.
 */
export function clientSettingsScript(lab: Lab): string {
  // A process that sets its title (neutron-server, nova's services) has one cmdline string: split on spaces too.
  const args = [
    'f == "file" { print; f = "" } f == "dir" { print $0 "/*.conf"; f = "" } f == "ini" { print "INI " $0; f = "" }',
    '/^--config-file$/ { f = "file" } /^--config-dir$/ { f = "dir" } /^--ini$/ { f = "ini" }',
    '/^--config-file=/ { sub(/^--config-file=/, ""); print } /^--config-dir=/ { sub(/^--config-dir=/, ""); print $0 "/*.conf" }',
  ].join(' ');
  // uwsgi's ini: the directory its `env = OS_<SERVICE>_CONFIG_DIR=` names, the file its pyargv's --config-file names.
  const ini = [
    's/^env *= *OS_[A-Z_]*_CONFIG_DIR=\\(.*\\)$/\\1\\/*.conf/p',
    's/^pyargv *=.*--config-file[= ]\\([^ ]*\\).*/\\1/p',
  ].join('; ');
  return [
    'me=$(readlink /proc/self/ns/net)',
    '{',
    '  for p in /proc/[0-9]*; do',
    '    [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$me" ] || continue',
    `    tr "\\000 " "\\n\\n" < "$p/cmdline" 2>/dev/null | awk '${args}'`,
    '  done',
    '  [ -d /etc/kolla ] && echo "/etc/kolla/*/*.conf" && echo "/etc/kolla/*/*.ini"',
    '} | sort -u | while read -r g; do',
    `  case "$g" in "INI "*) sed -n '${ini}' "\${g#INI }" 2>/dev/null;; *) echo "$g";; esac`,
    'done | sort -u | while read -r g; do for f in $g; do [ -f "$f" ] && echo "$f"; done; done | sort -u | while read -r f; do',
    `  awk '${settingsAwk()}' "$f"`,
    'done',
    // ovn-controller's SB members are in the local OVS database, not in a file (nothing where OVS does not run).
    `r=$(${inService(lab, 'ovs-vsctl', 'ovs-vsctl --timeout=5 get Open_vSwitch . external_ids:ovn-remote')} 2>/dev/null) &&`,
    '  printf "Open_vSwitch\\texternal_ids\\tovn-remote\\t%s\\n" "$(printf %s "$r" | tr -d \'"\')"',
  ].join('\n');
}

/**
 * The awk program that prints a file's settings as `file<TAB>section<TAB>key<TAB>host,host`: each comma-separated
 * part of the value loses its scheme, everything up to its last `@` (user and password) and its path or query.
 */
export function settingsAwk(): string {
  return [
    '/^[ \\t]*\\[/ { s = $0; gsub(/[][ \\t]/, "", s); next }',
    '{ l = $0; sub(/^[ \\t]+/, "", l); i = index(l, "="); if (!i) next',
    '  k = substr(l, 1, i - 1); v = substr(l, i + 1); gsub(/[ \\t]+$/, "", k); gsub(/^[ \\t]+|[ \\t]+$/, "", v)',
    `  if (!(k ~ /^(${KEYS.join('|')})$/ || (k == "connection" && s ~ /^(api_|placement_)?database$/))) next`,
    '  n = split(v, p, ","); o = ""',
    '  for (j = 1; j <= n; j++) { h = p[j]; sub(/^[A-Za-z0-9+]+:\\/\\//, "", h); sub(/^.*@/, "", h);',
    '    sub(/[\\/?].*$/, "", h); o = o (j > 1 ? "," : "") h }',
    '  print FILENAME "\\t" s "\\t" k "\\t" o }',
  ].join('\n');
}

/** The script's lines, parsed; a line that is not four fields is left out. */
export function parseClientSettings(out: string): ClientSetting[] {
  return out.split('\n').map((l) => l.split('\t')).filter((f) => f.length === 4)
    .map(([file, section, key, hosts]) => ({
      file: file!, section: section!, key: key!, hosts: hosts!.split(',').map((h) => h.trim()).filter(Boolean),
    }));
}

/** The host part of `host:port`, `tcp:host:port`, `inet:[host]:port` or `[v6]:port`. */
export function hostOf(token: string): string {
  const t = token.trim().replace(/^(tcp|ssl|unix|inet6?):/, '');
  const v6 = /^\[([^\]]+)\]/.exec(t);
  if (v6) return v6[1]!;
  return t.split(':')[0]!;
}

/** A cluster member as a client may name it: its addresses, hostname, and hostname in the lab's domain. */
export interface Member {
  readonly name: string;
  readonly names: readonly string[];
}

export function memberOf(lab: Lab, node: LabNode): Member {
  const domain = lab.spec.dns?.domain;
  const names = [...Object.values(node.addresses), node.hostname, ...(domain ? [`${node.hostname}.${domain}`] : [])];
  return { name: node.name, names: [...new Set(names.filter(Boolean))] };
}

/** What a setting must name: every member of a cluster, or (the database) the VIP only. */
export interface Expectation {
  readonly what: string;
  readonly applies: (s: ClientSetting) => boolean;
  readonly every?: readonly Member[];
  readonly only?: Member;
}

/** The lab's clusters that clients must name whole; none where the spec has no cluster of two or more. */
export function clientExpectations(lab: Lab): Expectation[] {
  const out: Expectation[] = [];
  const r = rabbitOf(lab);
  if (r && r.nodes.length > 1) {
    out.push({
      what: 'RabbitMQ members', applies: (s) => s.key === 'transport_url', every: r.nodes.map((n) => memberOf(lab, n)),
    });
  }
  const mc = memcachedNodes(lab);
  if (mc.length > 1) {
    out.push({
      what: 'memcached servers', applies: (s) => s.key === 'memcache_servers' || s.key === 'memcached_servers',
      every: mc.map((n) => memberOf(lab, n)),
    });
  }
  const ovn = ovnClusterOf(lab);
  if (ovn && ovn.nodes.length > 1) {
    const keys = ['ovn_nb_connection', 'ovn_sb_connection', 'ovn-remote'];
    out.push({
      what: 'OVN RAFT members', applies: (s) => keys.includes(s.key), every: ovn.nodes.map((n) => memberOf(lab, n)),
    });
  }
  const pg = pgOf(lab);
  if (pg?.spec.openstack && pg.spec.vip) {
    const vip = lab.vip(pg.spec.vip);
    out.push({
      what: 'the database VIP', applies: (s) => s.section === 'database' && s.key === 'connection',
      only: { name: `VIP ${vip.name}`, names: [vip.address, ...(vip.fqdn ? [vip.fqdn] : [])] },
    });
  }
  return out;
}

const named = (m: Member) => `${m.name} (${m.names[0]})`;
/** A host as the finding shows it: anything else (a value the script could not take apart) is not shown. */
const shown = (hosts: readonly string[]) =>
  (hosts.length ? hosts.map((h) => (/^[\w.:/[\]-]+$/.test(h) ? h : '(unparsed)')).join(', ') : 'nothing');

/** Each setting of a node that misses a member (or names another database host), with the file, section and key. */
export function clientFindings(
  node: string, settings: readonly ClientSetting[], expected: readonly Expectation[],
): string[] {
  const out: string[] = [];
  for (const s of settings) {
    const where = `${node}: ${s.file} [${s.section || 'DEFAULT'}] ${s.key}`;
    const hosts = s.hosts.map(hostOf);
    for (const e of expected.filter((x) => x.applies(s))) {
      if (e.every) {
        const missing = e.every.filter((m) => !hosts.some((h) => m.names.includes(h)));
        if (missing.length) {
          out.push(`${where} names ${shown(s.hosts)}: missing ${e.what} ${missing.map(named).join(', ')}`);
        }
      }
      if (e.only) {
        const m = e.only;
        if (hosts.length === 0 || hosts.some((h) => !m.names.includes(h))) {
          out.push(`${where} goes to ${shown(s.hosts)}, not ${e.what} ${m.names.join(' / ')}`);
        }
      }
    }
  }
  return out;
}

/** The nodes whose OpenStack services are judged: every control, compute or network node. */
export const clientNodes = (lab: Lab): LabNode[] =>
  lab.nodes.filter((n) => n.roles.some((r) => r === 'control' || r === 'compute' || r === 'network'));
