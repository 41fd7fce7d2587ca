import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, visit, type Alias, type Document, type Node as YamlNode } from 'yaml';
import { secretKind } from '../gate/redact.ts';
import { contains, isCidr, isIPv4, networkAddress, parseCidr } from '../net/ip.ts';
import { DEFAULTS, ovnProviderProblems } from './defaults.ts';
import { Lab } from './model.ts';
import { schemaValidator } from './validator.ts';
import type { LabSpec } from './spec.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const labsDir = join(repoRoot, 'fixtures/labs');
export const schemaPath = join(repoRoot, 'fixtures/schema/lab.schema.json');
export const DEFAULT_LAB = 'embedded';

export interface SpecProblem {
  file: string;
  line: number;
  column: number;
  /** JSON pointer into the spec, e.g. /nodes/node1/interfaces/0/address */
  path: string;
  message: string;
}

/** How many problems an error lists; a spec with thousands of mistakes shows the first ones and a count. */
export const MAX_SHOWN = 50;

/** One error that lists every problem of a spec (the first MAX_SHOWN), each with file:line:column and its JSON path. */
export class LabSpecError extends Error {
  // Private, behind getters: Vitest prints an error's own properties after its message, which lists every problem.
  readonly #file: string;
  readonly #problems: readonly SpecProblem[];
  get file(): string {
    return this.#file;
  }
  get problems(): readonly SpecProblem[] {
    return this.#problems;
  }
  constructor(file: string, problems: readonly SpecProblem[]) {
    const show = (f: string) => relative(process.cwd(), f) || f;
    const others = [...new Set(problems.map((p) => p.file))].filter((f) => f !== file).map(show);
    const more = problems.length - MAX_SHOWN;
    super(
      `${basename(file) === 'decisions.yaml' ? 'decision record' : 'lab spec'} ${[show(file), ...others].join(' and ')} ${others.length ? 'are' : 'is'} invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems
          .slice(0, MAX_SHOWN)
          .map((p) => `  ${show(p.file)}:${p.line}:${p.column} ${p.path || '/'}: ${p.message}`)
          .join('\n') +
        (more > 0 ? `\n  … and ${more} more problem${more === 1 ? '' : 's'}` : ''),
    );
    this.name = 'LabSpecError';
    this.#file = file;
    this.#problems = problems;
  }
}

/** A lab name (fixtures/labs/<name>/lab.yaml) or a path to a lab.yaml. */
export function resolveLabFile(nameOrPath: string = process.env.STACKGATE_LAB || DEFAULT_LAB): string {
  if (nameOrPath.endsWith('.yaml') || nameOrPath.endsWith('.yml') || nameOrPath.includes('/')) {
    const path = isAbsolute(nameOrPath) ? nameOrPath : resolve(process.cwd(), nameOrPath);
    // A lab's folder stands for its lab.yaml.
    return isDirectory(path) && existsSync(join(path, 'lab.yaml')) ? join(path, 'lab.yaml') : path;
  }
  return join(labsDir, nameOrPath, 'lab.yaml');
}

type Validate = ReturnType<typeof schemaValidator>;
// Process-wide: Vitest loads this module more than once in one process (the config bundle, the global setup).
const validators: Map<string, Validate> = ((globalThis as { __stackgateValidators?: Map<string, Validate> }).__stackgateValidators ??= new Map());
// What parsed and validated cleanly, by schema, file and text: the second module instance in a process skips YAML.
const parsed: Map<string, unknown> = ((globalThis as { __stackgateParsed?: Map<string, unknown> }).__stackgateParsed ??= new Map());
function validateSchema(schemaFile: string, data: unknown): ErrorObject[] {
  let validate = validators.get(schemaFile);
  if (!validate) validators.set(schemaFile, (validate = schemaValidator(schemaFile, join(repoRoot, 'node_modules/.cache/stackgate'))));
  return validate(data);
}

const escapeSegment = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Where in the YAML source JSON pointers land; for a key (e.g. an unknown property), the key itself; for a path
 * the source does not have (a merged or defaulted key), its deepest ancestor that it has. One walk of the document
 * along the wanted paths only, so that thousands of problems in a large spec are located in linear time.
 */
function locator(doc: Document, lines: LineCounter, wanted: readonly string[]): (pointer: string, key?: string) => { line: number; column: number; endLine: number } {
  const prefixes = new Set<string>(['']);
  for (const pointer of wanted) {
    let at = pointer.indexOf('/', 1);
    while (at > 0) {
      prefixes.add(pointer.slice(0, at));
      at = pointer.indexOf('/', at + 1);
    }
    prefixes.add(pointer);
  }
  const valueAt = new Map<string, number>();
  const keyAt = new Map<string, number>();
  const endAt = new Map<string, number>();
  const rootRange = (doc.contents as YamlNode | null)?.range;
  valueAt.set('', rootRange ? rootRange[0] : 0);
  endAt.set('', rootRange ? rootRange[2] : 0);
  const walk = (node: unknown, path: string): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key) && (pair.key.value === '<<' || (pair.key as { source?: string }).source === '<<')) {
          // A merge key: the merged anchor's keys are found where the anchor is written (this map's own win).
          const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
          for (const source of sources) if (isAlias(source)) mergedFrom.push([source.resolve(doc), path]);
          continue;
        }
        if (!isScalar(pair.key)) continue;
        const child = `${path}/${escapeSegment(String(pair.key.value))}`;
        if (!prefixes.has(child) || valueAt.has(child)) continue;
        const keyRange = (pair.key as YamlNode).range;
        const valueRange = (pair.value as YamlNode | null)?.range ?? keyRange;
        if (keyRange) keyAt.set(child, keyRange[0]);
        if (valueRange) valueAt.set(child, valueRange[0]);
        if (valueRange) endAt.set(child, valueRange[2]);
        walk(pair.value, child);
      }
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) {
        const child = `${path}/${i}`;
        if (!prefixes.has(child)) continue;
        const range = (item as YamlNode | null)?.range;
        if (range) valueAt.set(child, range[0]);
        if (range) endAt.set(child, range[2]);
        walk(item, child);
      }
    }
  };
  const mergedFrom: [unknown, string][] = [];
  walk(doc.contents, '');
  // Own keys first, then merged ones: bounded by the document's size, a merged anchor is walked once per merge.
  for (let i = 0; i < mergedFrom.length && i < 10_000; i++) walk(mergedFrom[i]![0], mergedFrom[i]![1]);
  return (pointer, key) => {
    const full = key === undefined ? pointer : `${pointer}/${escapeSegment(key)}`;
    let offset = key === undefined ? valueAt.get(full) : keyAt.get(full);
    let end = endAt.get(full);
    for (let at = full.length; offset === undefined || end === undefined; at = full.lastIndexOf('/', at - 1)) {
      const prefix = at <= 0 ? '' : full.slice(0, at);
      offset ??= valueAt.get(prefix);
      end ??= endAt.get(prefix);
    }
    const pos = lines.linePos(offset);
    return { line: pos.line, column: pos.col, endLine: lines.linePos(Math.max(offset, end - 1)).line };
  };
}

/** Keys given twice in one mapping (YAML would keep the last), with the JSON pointer of the mapping holding them. */
function duplicateKeys(doc: Document): { pointer: string; offset: number }[] {
  const out: { pointer: string; offset: number }[] = [];
  const walk = (node: unknown, pointer: string): void => {
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key.value : undefined;
        if (key === undefined || typeof key === 'symbol') continue;
        if (seen.has(key)) out.push({ pointer: `${pointer}/${escapeSegment(String(key))}`, offset: (pair.key as YamlNode).range?.[0] ?? 0 });
        seen.add(key);
        walk(pair.value, `${pointer}/${escapeSegment(String(key))}`);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, `${pointer}/${i}`));
    }
  };
  walk(doc.contents, '');
  return out;
}

/** What the schema's named patterns ($defs) allow, in words: a regular expression helps no operator. */
const PATTERN_WORDS: Record<string, string> = {
  hostName: 'an RFC 1123 host name: letters, digits and inner hyphens, dot-separated labels of at most 63 characters',
  ifName: 'a network interface name: at most 15 letters, digits or _ . : -',
  token: 'a plain name: letters, digits and _ . - only, not starting with . or -',
  userName: 'a user name: a letter or _, then letters, digits or _ . -, at most 32 characters',
  volumeGroup: 'an LVM volume group name: letters, digits and _ + . - only, not starting with -',
  filePath: 'a path without line breaks or control characters',
  devicePath: 'a device path under /dev (letters, digits and _ . - only)',
  urlPath: 'a URL path: /segments of letters, digits and . _ ~ -',
  tagSuffix: 'an image tag suffix: letters, digits and _ . - only',
};

interface Found {
  path: string;
  at: string;
  key?: string;
  message: string;
  /** A missing field or an unresolved reference, which a syntax error further down may explain. */
  unsure?: boolean;
}

function describe(error: ErrorObject): { path: string; key?: string; message: string } {
  const path = error.instancePath;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(error.params.additionalProperty);
      return { path: `${path}/${key}`, key, message: `unknown key "${key}"` };
    }
    case 'required':
      return { path, message: `missing required field "${String(error.params.missingProperty)}"` };
    case 'enum':
      return { path, message: `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'pattern': {
      const plain = PATTERN_WORDS[/\$defs\/(\w+)\/pattern$/.exec(error.schemaPath)?.[1] ?? ''];
      return { path, message: plain ? `must be ${plain}` : (error.message ?? error.keyword) };
    }
    case 'propertyNames':
      return { path: `${path}/${String(error.params.propertyName)}`, message: `invalid name "${String(error.params.propertyName)}"` };
    default:
      return { path, message: error.message ?? error.keyword };
  }
}

/** Cross-references and addresses that a schema cannot express. */
function semanticProblems(spec: LabSpec): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const networks = spec.networks ?? {};
  const nodes = spec.nodes ?? {};
  const vips = spec.vips ?? {};
  const needNetwork = (path: string, name: string | undefined) => {
    if (name !== undefined && !(name in networks)) out.push({ path, message: `unknown network "${name}" (networks: ${Object.keys(networks).join(', ')})` });
  };
  const needNode = (path: string, name: string | undefined) => {
    if (name !== undefined && !(name in nodes)) out.push({ path, message: `unknown node "${name}" (nodes: ${Object.keys(nodes).join(', ')})` });
  };
  const needVip = (path: string, name: string | undefined) => {
    if (name !== undefined && !(name in vips)) out.push({ path, message: `unknown VIP "${name}" (vips: ${Object.keys(vips).join(', ') || 'none'})` });
  };
  const inside = (path: string, address: string, networkName: string) => {
    const net = networks[networkName];
    if (net && isCidr(net.cidr) && isIPv4(address) && !contains(parseCidr(net.cidr), address)) {
      out.push({ path, message: `address ${address} is outside network "${networkName}" (${net.cidr})` });
    }
  };
  for (const [netName, net] of Object.entries(networks)) {
    for (const [i, n] of (net.attach ?? []).entries()) needNode(`/networks/${netName}/attach/${i}`, n);
  }
  for (const [nodeName, node] of Object.entries(nodes)) {
    const seen = new Set<string>();
    for (const [i, nic] of (node.interfaces ?? []).entries()) {
      const path = `/nodes/${nodeName}/interfaces/${i}`;
      needNetwork(`${path}/network`, nic.network);
      if (seen.has(nic.name)) out.push({ path: `${path}/name`, message: `interface name "${nic.name}" used twice on node ${nodeName}` });
      seen.add(nic.name);
      if ((nic.use ?? 'address') === 'address' && nic.address === undefined) {
        out.push({ path, message: `interface ${nic.name} carries the node's address on "${nic.network}" but has no address (set address, or use: neutron-external | vip)` });
      }
      if (nic.address !== undefined) inside(`${path}/address`, nic.address, nic.network);
    }
  }
  for (const [name, vip] of Object.entries(vips)) {
    needNetwork(`/vips/${name}/network`, vip.network);
    inside(`/vips/${name}/address`, vip.address, vip.network);
  }
  for (const [iface, vip] of Object.entries(spec.endpoints ?? {})) needVip(`/endpoints/${iface}`, vip);
  for (const [name, svc] of Object.entries(spec.services ?? {})) {
    needVip(`/services/${name}/vip`, svc.vip);
    needVip(`/services/${name}/internalVip`, svc.internalVip);
  }
  needVip('/dashboard/vip', spec.dashboard?.vip);
  needVip('/dashboard/internalVip', spec.dashboard?.internalVip);
  for (const [i, server] of (spec.dns?.servers ?? []).entries()) needNode(`/dns/servers/${i}/node`, server.node);
  const client = spec.deployer?.client;
  needNode('/deployer/client/node', client?.node);
  if (client && (client.node === undefined) === (client.host === undefined)) {
    out.push({ path: '/deployer/client', message: 'deployer.client names either a node of the lab or a host beside it, not both or neither' });
  }
  for (const [i, net] of (spec.dns?.recursion ?? []).entries()) needNetwork(`/dns/recursion/${i}`, net);
  out.push(...replicationProblems(spec, needNode, needVip));
  needNetwork('/neutron/externalNetwork/network', spec.neutron?.externalNetwork?.network);
  for (const [i, backend] of (spec.storage?.cinder?.backends ?? []).entries()) {
    for (const [j, host] of (backend.hosts ?? []).entries()) needNode(`/storage/cinder/backends/${i}/hosts/${j}`, host);
    needNetwork(`/storage/cinder/backends/${i}/iscsiNetwork`, backend.iscsiNetwork);
  }
  const ceph = spec.storage?.ceph;
  if (ceph) {
    for (const [i, n] of (ceph.mons ?? []).entries()) needNode(`/storage/ceph/mons/${i}`, n);
    for (const [i, n] of (ceph.mgrs ?? []).entries()) needNode(`/storage/ceph/mgrs/${i}`, n);
    for (const [i, o] of (ceph.osds ?? []).entries()) needNode(`/storage/ceph/osds/${i}/node`, o.node);
  }
  const mon = spec.monitoring;
  if (mon) {
    needNode('/monitoring/prometheus/node', mon.prometheus?.node);
    needVip('/monitoring/prometheus/vip', mon.prometheus?.vip);
    needVip('/monitoring/grafana/vip', mon.grafana?.vip);
    for (const [i, job] of (mon.jobs ?? []).entries()) needVip(`/monitoring/jobs/${i}/vip`, job.vip);
  }
  const lb = spec.loadbalancer;
  if (lb) {
    if (!Object.values(spec.services ?? {}).some((s) => s.type === 'load-balancer')) {
      out.push({ path: '/loadbalancer', message: 'a load balancer needs a service of type load-balancer (Octavia) in services' });
    }
    const hm = lb.healthMonitor;
    if (hm?.timeoutSeconds !== undefined && hm.timeoutSeconds > (hm.delaySeconds ?? DEFAULTS.lbDelaySeconds)) {
      out.push({ path: '/loadbalancer/healthMonitor/timeoutSeconds', message: 'Octavia refuses a probe timeout longer than the delay between probes' });
    }
    out.push(...ovnProviderProblems(lb));
  }
  return out;
}

type Need = (path: string, name: string | undefined) => void;

/** PostgreSQL, logging and DNS roles that name each other: a standby is not the primary, a sync one is a standby … */
function replicationProblems(spec: LabSpec, needNode: Need, needVip: Need): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const pg = spec.postgresql;
  if (pg) {
    needNode('/postgresql/primary', pg.primary);
    for (const [i, n] of pg.standbys.entries()) {
      needNode(`/postgresql/standbys/${i}`, n);
      const message = `${n} is the primary: it cannot be its own standby`;
      if (n === pg.primary) out.push({ path: `/postgresql/standbys/${i}`, message });
    }
    for (const [i, n] of (pg.synchronous ?? []).entries()) {
      if (!pg.standbys.includes(n)) {
        const standbys = pg.standbys.join(', ') || 'none';
        out.push({ path: `/postgresql/synchronous/${i}`, message: `synchronous "${n}" is not a standby (${standbys})` });
      }
    }
    const sync = (pg.synchronous ?? pg.standbys).length;
    if (pg.quorum !== undefined && pg.quorum > sync) {
      out.push({ path: '/postgresql/quorum', message: `quorum ${pg.quorum} is more than the ${sync} synchronous standbys` });
    }
    needVip('/postgresql/vip', pg.vip);
    if (pg.openstack && !pg.vip) {
      const message = 'the OpenStack databases are reached through the VIP: name postgresql.vip';
      out.push({ path: '/postgresql/openstack', message });
    }
  }
  for (const [i, n] of (spec.logging?.collectors ?? []).entries()) needNode(`/logging/collectors/${i}`, n);
  for (const [i, n] of (spec.rabbitmq?.nodes ?? []).entries()) needNode(`/rabbitmq/nodes/${i}`, n);
  for (const [i, n] of (spec.ovnCluster?.nodes ?? []).entries()) needNode(`/ovnCluster/nodes/${i}`, n);
  for (const [i, n] of (spec.compute?.nodes ?? []).entries()) {
    needNode(`/compute/nodes/${i}`, n);
    const roles = spec.nodes?.[n]?.roles;
    if (roles && !roles.includes('compute')) {
      out.push({ path: `/compute/nodes/${i}`, message: `${n} has no role compute (roles: ${roles.join(', ') || 'none'})` });
    }
  }
  for (const [i, r] of (spec.staticRoutes ?? []).entries()) {
    needNode(`/staticRoutes/${i}/node`, r.node);
    const node = spec.nodes?.[r.node];
    const attached = (node?.interfaces ?? []).map((f) => spec.networks?.[f.network]?.cidr ?? '').filter(isCidr);
    if (node && isIPv4(r.via) && !attached.some((c) => contains(parseCidr(c), r.via))) {
      out.push({ path: `/staticRoutes/${i}/via`, message: `via ${r.via} is on no network ${r.node} is attached to` });
    }
    if (isCidr(r.destination) && isIPv4(r.probe) && !contains(parseCidr(r.destination), r.probe)) {
      out.push({ path: `/staticRoutes/${i}/probe`, message: `probe ${r.probe} is outside destination ${r.destination}` });
    }
  }
  const ovn = spec.ovnCluster;
  if (ovn) {
    const ports = [ovn.nbPort ?? 6641, ovn.sbPort ?? 6642, ovn.nbRaftPort ?? 6643, ovn.sbRaftPort ?? 6644];
    if (new Set(ports).size !== ports.length) {
      out.push({ path: '/ovnCluster', message: `nbPort, sbPort, nbRaftPort and sbRaftPort must differ (${ports.join(', ')})` });
    }
  }
  const pattern = spec.rabbitmq?.policy?.pattern;
  if (pattern !== undefined && !isRegExp(pattern)) {
    out.push({ path: '/rabbitmq/policy/pattern', message: `pattern ${pattern} is not a regular expression` });
  }
  const dir = spec.logging?.directory;
  if (dir !== undefined && (dir.split('/').includes('..') || (spec.logging!.collectors.length > 1 && !dir.includes('{node}')))) {
    const message = `directory ${dir} must not contain ".." and, with several collectors, must contain {node}`;
    out.push({ path: '/logging/directory', message });
  }
  const servers = spec.dns?.servers ?? [];
  const primaries = servers.filter((s) => (s.role ?? 'primary') === 'primary');
  if (servers.some((s) => s.role === 'secondary') && primaries.length !== 1) {
    const named = primaries.map((s) => s.node).join(', ') || 'none';
    out.push({ path: '/dns/servers', message: `secondaries need exactly one primary to transfer from (primaries: ${named})` });
  }
  return out;
}

function isRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

type Extra<T> = (data: T) => { path: string; message: string }[];

/**
 * Parse YAML and validate it against a JSON Schema plus extra rules; every problem is reported at once with its
 * source position and JSON path: YAML errors, the schema's, the content rules every input file obeys
 * (contentProblems) and the extra rules, even when an earlier kind already found something.
 */
export function parseValidatedYaml<T>(text: string, file: string, schemaFile: string, extra: Extra<T> = () => []): T {
  const key = `${schemaFile}\0${file}\0${text}`;
  const known = parsed.get(key);
  if (known !== undefined) return structuredClone(known) as T;
  const lines = new LineCounter();
  // YAML 1.1 merge keys (`<<: *base`) are common in hand-written specs; the `yaml` library needs them asked for.
  // Duplicate keys are found by duplicateKeys (the library's own check compares each key with all before it).
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, merge: true });
  const problems: SpecProblem[] = doc.errors.map((e) => {
    const pos = lines.linePos(e.pos[0]);
    return { file, line: pos.line, column: pos.col, path: '', message: `YAML: ${e.message.split('\n')[0]}` };
  });
  for (const d of duplicateKeys(doc)) {
    const pos = lines.linePos(d.offset);
    problems.push({ file, line: pos.line, column: pos.col, path: d.pointer, message: 'YAML: Map keys must be unique' });
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // An alias to no anchor, or aliases that multiply into millions of nodes (an "alias bomb").
    const at = aliasBlamed(doc, error as Error);
    const pos = lines.linePos(at?.range?.[0] ?? 0);
    problems.push({ file, line: pos.line, column: pos.col, path: '', message: `YAML: ${(error as Error).message.split('\n')[0]}` });
    throw new LabSpecError(file, problems);
  }
  // Each problem's reported path, and where to find it in the source: `at`, or `at`'s key `key`.
  const found: Found[] = [];
  for (const error of validateSchema(schemaFile, data)) {
    // oneOf on dhcp reports each branch; the const-false branch adds nothing an operator needs.
    if (error.keyword === 'const' || error.keyword === 'oneOf') continue;
    // A missing field or a value parsed as empty may be the doing of a syntax error below it.
    const unsure = error.keyword === 'required' || (error.keyword === 'type' && dataAt(data, error.instancePath) === null);
    found.push({ ...describe(error), at: error.instancePath, unsure });
  }
  // Cross-references and addresses are checked even when the schema failed, so that every problem shows at
  // once; on a shape too broken to walk, only the schema's problems are reported.
  let extras: { path: string; message: string }[] = [];
  try {
    extras = extra(data as T);
  } catch {
    extras = [];
  }
  const content = contentProblems(data);
  // What these rules say about a field is more precise than the schema's pattern (a pasted key, a line break).
  const seen = new Set(content.map((p) => p.path));
  const located: Found[] = [...content.map((p) => ({ path: p.path, at: p.path, message: p.message })), ...found.filter((f) => !seen.has(f.path))];
  for (const p of found) seen.add(p.path);
  for (const p of extras) if (!seen.has(p.path)) located.push({ ...p, at: p.path, unsure: true });
  // After a syntax error the parser's recovered structure is sound only above it, and what is missing or
  // unresolved may be missing because of it: there, only what is wrong above the first error is reported.
  const broken = doc.errors.map((e) => lines.linePos(e.pos[0]).line);
  const firstBroken = broken.length > 0 ? Math.min(...broken) : Infinity;
  if (problems.length > 0 || located.length > 0) {
    const where = locator(doc, lines, located.map((p) => (p.key === undefined ? p.at : `${p.at}/${escapeSegment(p.key)}`)));
    for (const p of located) {
      const { line, column, endLine } = where(p.at, p.key);
      if (firstBroken === Infinity || (endLine < firstBroken && !p.unsure)) problems.push({ file, line, column, path: p.path, message: p.message });
    }
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new LabSpecError(file, problems);
  }
  parsed.set(key, structuredClone(data));
  return data as T;
}

function dataAt(data: unknown, pointer: string): unknown {
  let value = data;
  for (const segment of pointer.split('/').slice(1)) {
    const name = segment.replace(/~1/g, '/').replace(/~0/g, '~');
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[name] : undefined;
  }
  return value;
}

/** The alias that `toJS` gave up on: one to no anchor, else the first alias of an anchor that holds aliases itself. */
function aliasBlamed(doc: Document, error: Error): YamlNode | undefined {
  const aliases: Alias[] = [];
  visit(doc, { Alias: (_key, node) => void aliases.push(node) });
  if (/unresolved alias/i.test(error.message)) return aliases.find((a) => a.resolve(doc) === undefined);
  const nested = aliases.find((a) => {
    let inner = false;
    const target = a.resolve(doc);
    if (target) visit(target, { Alias: () => ((inner = true), visit.BREAK) });
    return inner;
  });
  return nested ?? aliases[0];
}

/** A control character; prose may break lines and hold tabs. */
function hasControl(value: string, prose: boolean): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 || c === 0x7f) && !(prose && (c === 0x0a || c === 0x09))) return true;
  }
  return false;
}

/** Field names whose value is prose: line breaks are fine there and nowhere else. */
const PROSE = new Set(['title', 'description', 'statement', 'justification']);

/**
 * Rules every input file obeys, whatever its schema: no control characters in a value that may reach a command, a
 * config file or a path (a line break in a host name adds a section to supervisord.conf), nothing that looks like
 * secret material (named by field, never shown), and no CIDR with host bits set (BIND and the kernel disagree on
 * what it means).
 */
function contentProblems(data: unknown): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const visitValue = (value: unknown, path: string, field: string, prose: boolean): void => {
    if (out.length > 10 * MAX_SHOWN) return;
    if (typeof value === 'string') {
      const kind = secretKind(value);
      if (kind) out.push({ path, message: `looks like ${kind}: a spec names where secrets are kept, never a secret (the value is not shown)` });
      else if (hasControl(value, prose)) {
        out.push({ path, message: `${field || 'value'} holds a control character (line break, tab …): not allowed outside prose` });
      } else if (isCidr(value)) {
        const net = parseCidr(value);
        const base = networkAddress(net);
        if (base !== value.split('/')[0]) out.push({ path, message: `CIDR ${value} has host bits set: the network is ${base}/${net.prefix}` });
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => visitValue(item, `${path}/${i}`, field, prose));
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        const child = `${path}/${escapeSegment(k)}`;
        if (secretKind(k)) out.push({ path: child, message: 'this key looks like secret material (not shown)' });
        visitValue(v, child, k, PROSE.has(k) || path === '/capabilities/lacks');
      }
    }
  };
  visitValue(data, '', '', false);
  return out;
}

export function parseLabSpec(text: string, file: string): LabSpec {
  return parseValidatedYaml<LabSpec>(text, file, schemaPath, semanticProblems);
}

const cache = new Map<string, Lab>();

/** Load a lab by name or path into a frozen, typed model with its derived facts. */
export function loadLab(nameOrPath?: string): Lab {
  const file = resolveLabFile(nameOrPath);
  const cached = cache.get(file);
  if (cached) return cached;
  if (!existsSync(file)) {
    const known = existsSync(labsDir) ? ` (bundled labs: ${listLabs().join(', ')})` : '';
    throw new LabSpecError(file, [{ file, line: 0, column: 0, path: '', message: `no lab spec at this path${known}` }]);
  }
  if (isDirectory(file)) throw new LabSpecError(file, [{ file, line: 0, column: 0, path: '', message: 'is a folder without a lab.yaml, not a lab spec' }]);
  const lab = new Lab(parseLabSpec(readFileSync(file, 'utf8'), file), file);
  cache.set(file, lab);
  return lab;
}

export function listLabs(): string[] {
  return readdirSafe(labsDir).filter((name) => existsSync(join(labsDir, name, 'lab.yaml')));
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
