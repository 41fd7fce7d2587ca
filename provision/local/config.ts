/** Writing what the components render: INI text, headers, files that change only when their content does. */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Lab, LabNode } from '../../helpers/lab/model.ts';

export type IniValue = string | number | boolean | undefined;
export type IniSections = Record<string, Record<string, IniValue>>;

/** INI text in section order; a key whose value is undefined is left out. */
export function ini(sections: IniSections, head: string): string {
  const out = [head];
  for (const [name, kv] of Object.entries(sections)) {
    out.push('', `[${name}]`);
    for (const [k, v] of Object.entries(kv)) if (v !== undefined) out.push(`${k} = ${String(v)}`);
  }
  return `${out.join('\n')}\n`;
}

/** The first line of every rendered file. */
export const head = (lab: Lab, node: LabNode, what: string) =>
  `# Rendered by stackgate (local provider) for ${lab.name}/${node.name}: ${what}; do not edit.`;

export function writeIfChanged(path: string, content: string, mode?: number): boolean {
  const same = existsSync(path) && readFileSync(path, 'utf8') === content;
  if (!same) {
    mkdirSync(dirname(path), { recursive: true });
    // writeFileSync's mode applies to a new file only: an existing one is narrowed before the secret goes in.
    if (mode !== undefined && existsSync(path)) chmodSync(path, mode);
    writeFileSync(path, content, mode === undefined ? {} : { mode });
  }
  // On every write, changed or not: a secret file someone widened is narrowed again.
  if (mode !== undefined) chmodSync(path, mode);
  return !same;
}

/** uid and gid of a system user (created by its Debian package). */
export function userIds(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`system user ${user} does not exist (is its package installed?)`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
