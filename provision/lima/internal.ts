/** The few file operations of `lab up` that stackgate does itself (each shown in `lab plan` with what it does). */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, parseDocument } from 'yaml';
import type { Lab } from '../../helpers/lab/model.ts';
import { kollaCephFiles as cephFileMap } from '../render/ceph.ts';
import { kollaServiceGroups, ownGroups } from '../render/kolla.ts';
import type { LimaPaths } from './paths.ts';

/** What an internal step is given: where commands run, their environment, the log. */
export interface RunContext {
  /** Where commands run (the repository root). */
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
}

export function limaHome(env: NodeJS.ProcessEnv): string {
  return env.LIMA_HOME || join(env.HOME || homedir(), '.lima');
}

/** Set the lab's entries under `networks:` of Lima's networks.yaml, keeping its paths, comments and other networks. */
export function mergeNetworksYaml(current: string, rendered: string): string {
  const entries = (parse(rendered) as { networks: Record<string, unknown> }).networks;
  const doc = parseDocument(current);
  for (const [name, entry] of Object.entries(entries)) doc.setIn(['networks', name], doc.createNode(entry));
  return doc.toString({ lineWidth: 0 });
}

export function mergeNetworks(rendered: string) {
  return async (ctx: RunContext): Promise<string> => {
    const target = join(limaHome(ctx.env), '_config/networks.yaml');
    if (!existsSync(target)) throw new Error(`${target} does not exist: Lima writes it on first use (limactl network list)`);
    const before = readFileSync(target, 'utf8');
    const after = mergeNetworksYaml(before, readFileSync(join(ctx.cwd, rendered), 'utf8'));
    if (after === before) return `${target} already current`;
    writeFileSync(target, after);
    return `updated ${target}`;
  };
}

export function kollaGroups(paths: LimaPaths, lab: Lab) {
  return async (ctx: RunContext): Promise<string> => {
    const upstream = join(ctx.cwd, paths.venv, 'share/kolla-ansible/ansible/inventory/multinode');
    if (!existsSync(upstream)) throw new Error(`${upstream} not found: is kolla-ansible installed in ${paths.venv}?`);
    const out = join(ctx.cwd, paths.kolla, 'inventory/kolla-groups');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, kollaServiceGroups(readFileSync(upstream, 'utf8'), ownGroups(lab)));
    return out;
  };
}

/** ceph.conf as Kolla wants it: generate-minimal-conf indents with tabs, which Kolla's config merge rejects. */
export function stripLeadingTabs(text: string): string {
  return text.replace(/^\t+/gm, '');
}

export function kollaCephFiles(paths: LimaPaths, lab: Lab) {
  return async (ctx: RunContext): Promise<string> => {
    const files = cephFileMap(lab);
    for (const f of files) {
      const from = join(ctx.cwd, paths.ceph, f.from);
      const to = join(ctx.cwd, paths.kolla, f.to);
      if (!existsSync(from)) throw new Error(`${from} is missing (fetched by the pools-keys steps)`);
      mkdirSync(dirname(to), { recursive: true });
      if (f.from === 'ceph.conf') writeFileSync(to, stripLeadingTabs(readFileSync(from, 'utf8')), { mode: 0o600 });
      else copyFileSync(from, to);
      chmodSync(to, 0o600);
    }
    return `${files.length} files`;
  };
}
