/** Everything the `lima` provider renders from a lab spec, and writing it into the git-ignored render folder. */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../../helpers/lab/load.ts';
import type { Lab } from '../../helpers/lab/model.ts';
import { limaPaths, type LimaPaths } from '../lima/paths.ts';
import { renderBind } from './bind.ts';
import { renderCeph } from './ceph.ts';
import type { RenderedFile } from './common.ts';
import { renderKolla } from './kolla.ts';
import { renderLimaInstanceYaml, renderNetworksYamlText } from './lima.ts';

export type { RenderedFile } from './common.ts';

export function renderAll(lab: Lab, paths: LimaPaths = limaPaths(lab)): RenderedFile[] {
  if (lab.provider !== 'lima') throw new Error(`lab ${lab.name} has provider ${lab.provider}, not lima`);
  const files = [
    { path: 'lima/networks.yaml', content: renderNetworksYamlText(lab) },
    ...lab.nodes.map((n) => ({ path: `lima/${n.name}.yaml`, content: renderLimaInstanceYaml(lab, n) })),
    ...renderKolla(lab, paths),
    ...renderBind(lab),
    ...renderCeph(lab),
  ];
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new Error(`render: two files at ${f.path}`);
    seen.add(f.path);
  }
  return files;
}

function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

/**
 * Write the rendered files into `dir` (default .stackgate/<lab>/render): unchanged files are left alone, files no
 * longer rendered are removed, so the folder is exactly the render. Returns what changed.
 */
export function writeRender(lab: Lab, dir = join(repoRoot, limaPaths(lab).render)): { dir: string; written: string[]; removed: string[]; unchanged: number } {
  const files = renderAll(lab);
  const written: string[] = [];
  let unchanged = 0;
  for (const f of files) {
    const path = join(dir, f.path);
    if (existsSync(path) && readFileSync(path, 'utf8') === f.content) {
      unchanged++;
      continue;
    }
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.content, { mode: f.path.endsWith('.sh') ? 0o755 : 0o644 });
    written.push(f.path);
  }
  const keep = new Set(files.map((f) => f.path));
  const removed = listFiles(dir).filter((p) => !keep.has(p));
  for (const p of removed) rmSync(join(dir, p));
  return { dir, written, removed, unchanged };
}
