import { isAbsolute, relative } from 'node:path';
import { execa } from 'execa';

/**
 * The paths (relative to `root`) that git does not ignore there, asked of `git check-ignore` itself. A tracked
 * file counts as not ignored: git ignores only untracked files, so a committed secret is reported too.
 */
export async function notIgnoredByGit(paths: readonly string[], root: string): Promise<string[]> {
  if (paths.length === 0) return [];
  const r = await execa('git', ['-C', root, 'check-ignore', '--', ...paths], { reject: false });
  if (r.exitCode !== 0 && r.exitCode !== 1) {
    throw new Error(`git check-ignore in ${root} failed with exit code ${r.exitCode}: ${r.stderr.trim()}`);
  }
  const ignored = new Set(r.stdout.split('\n').filter(Boolean));
  return paths.filter((p) => !ignored.has(p));
}

/** A path relative to `root`, or undefined when it lies outside it. */
export function insideRoot(path: string, root: string): string | undefined {
  const rel = relative(root, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : undefined;
}
