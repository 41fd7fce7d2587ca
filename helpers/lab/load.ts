import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv';
import { LineCounter, parseDocument, isMap, isPair, isScalar, isSeq, type Document, type Node as YamlNode } from 'yaml';
import { contains, isCidr, isIPv4, parseCidr } from '../net/ip.ts';
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

/** One error that lists every problem of a spec, each with file:line:column and its JSON path. */
export class LabSpecError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly SpecProblem[],
  ) {
    const shown = relative(process.cwd(), file) || file;
    super(
      `lab spec ${shown} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${relative(process.cwd(), p.file) || p.file}:${p.line}:${p.column} ${p.path || '/'}: ${p.message}`).join('\n'),
    );
    this.name = 'LabSpecError';
  }
}

/** A lab name (fixtures/labs/<name>/lab.yaml) or a path to a lab.yaml. */
export function resolveLabFile(nameOrPath: string = process.env.STACKGATE_LAB || DEFAULT_LAB): string {
  if (nameOrPath.endsWith('.yaml') || nameOrPath.endsWith('.yml') || nameOrPath.includes('/')) {
    return isAbsolute(nameOrPath) ? nameOrPath : resolve(process.cwd(), nameOrPath);
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

function pointerSegments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Where in the YAML source a JSON pointer lands; for a key (e.g. an unknown property), the key itself. */
function locate(doc: Document, lines: LineCounter, pointer: string, key?: string): { line: number; column: number } {
  let node: unknown = doc.contents;
  let offset = 0;
  const segments = pointerSegments(pointer);
  if (key !== undefined) segments.push(key);
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === segment);
      if (!pair) break;
      const target = last && key !== undefined ? pair.key : pair.value;
      node = target;
      const range = (target as YamlNode | null)?.range ?? (pair.key as YamlNode | null)?.range;
      if (range) offset = range[0];
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)];
      if (!item) break;
      node = item;
      const range = (item as YamlNode).range;
      if (range) offset = range[0];
    } else break;
  }
  if (segments.length === 0 && doc.contents && (doc.contents as YamlNode).range) offset = (doc.contents as YamlNode).range![0];
  const pos = lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

/**
 * The JSON pointer of the deepest node (or key) at a source offset. Only used where the document's structure is
 * sound (a duplicate key); after a syntax error the recovered structure would point somewhere misleading.
 */
function pointerAt(doc: Document, offset: number): string {
  const within = (n: unknown) => {
    const range = (n as YamlNode | null)?.range;
    return range !== undefined && range !== null && range[0] <= offset && offset < Math.max(range[2], range[0] + 1);
  };
  const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
  let pointer = '';
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => within(p.key) || within(p.value));
      if (!pair || !isScalar(pair.key)) break;
      pointer += `/${escape(String(pair.key.value))}`;
      if (within(pair.key)) break;
      node = pair.value;
    } else if (isSeq(node)) {
      const i = node.items.findIndex((item) => within(item));
      if (i < 0) break;
      pointer += `/${i}`;
      node = node.items[i];
    } else break;
  }
  return pointer;
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
  for (const [i, server] of (spec.dns?.servers ?? []).entries()) needNode(`/dns/servers/${i}/node`, server.node);
  for (const [i, net] of (spec.dns?.recursion ?? []).entries()) needNetwork(`/dns/recursion/${i}`, net);
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
  return out;
}

/**
 * Parse YAML and validate it against a JSON Schema plus extra rules; every problem is reported at once with its
 * source position and JSON path.
 */
export function parseValidatedYaml<T>(
  text: string,
  file: string,
  schemaFile: string,
  extra: (data: T) => { path: string; message: string }[] = () => [],
): T {
  const key = `${schemaFile}\0${file}\0${text}`;
  const known = parsed.get(key);
  if (known !== undefined) return structuredClone(known) as T;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new LabSpecError(
      file,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { file, line: pos.line, column: pos.col, path: e.code === 'DUPLICATE_KEY' ? pointerAt(doc, e.pos[0]) : '', message: `YAML: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  const data: unknown = doc.toJS();
  const problems: SpecProblem[] = [];
  for (const error of validateSchema(schemaFile, data)) {
    // oneOf on dhcp reports each branch; the const-false branch adds nothing an operator needs.
    if (error.keyword === 'const' || error.keyword === 'oneOf') continue;
    const d = describe(error);
    const where = locate(doc, lines, error.instancePath, d.key);
    problems.push({ file, ...where, path: d.path, message: d.message });
  }
  // Cross-references and addresses are checked even when the schema failed, so that every problem shows at
  // once; on a shape too broken to walk, only the schema's problems are reported.
  let extras: { path: string; message: string }[] = [];
  try {
    extras = extra(data as T);
  } catch {
    extras = [];
  }
  const seen = new Set(problems.map((p) => p.path));
  for (const p of extras) if (!seen.has(p.path)) problems.push({ file, ...locate(doc, lines, p.path), path: p.path, message: p.message });
  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new LabSpecError(file, problems);
  }
  parsed.set(key, structuredClone(data));
  return data as T;
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
  const lab = new Lab(parseLabSpec(readFileSync(file, 'utf8'), file), file);
  cache.set(file, lab);
  return lab;
}

export function listLabs(): string[] {
  return readdirSafe(labsDir).filter((name) => existsSync(join(labsDir, name, 'lab.yaml')));
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
