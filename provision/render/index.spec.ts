import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { renderAll, writeRender } from './index.ts';

const lab = loadLab('primary');
const dir = mkdtempSync(join(tmpdir(), 'sg-render-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('render (primary lab)', () => {
  test('deterministic: two renders are identical, a second write changes nothing, a stale file is removed', () => {
    expect(renderAll(lab)).toEqual(renderAll(loadLab('primary')));
    const first = writeRender(lab, dir);
    expect(first.written.length).toBe(renderAll(lab).length);
    writeFileSync(join(dir, 'lima/stale.yaml'), 'x');
    const second = writeRender(lab, dir);
    expect(second).toMatchObject({ written: [], removed: ['lima/stale.yaml'] });
    expect(existsSync(join(dir, 'lima/stale.yaml'))).toBe(false);
    expect(readFileSync(join(dir, 'kolla/globals.yml'), 'utf8')).toBe(renderAll(lab).find((f) => f.path === 'kolla/globals.yml')!.content);
  });

  test('no secret is rendered: no password, key or keyring content, only paths to the git-ignored state', () => {
    for (const f of renderAll(lab)) {
      expect(f.content, f.path).not.toMatch(/PRIVATE KEY|^\s*key\s*=|_password:\s*\S/m);
    }
  });

  test('a lab of another provider is not rendered by the lima provider', () => {
    expect(() => renderAll(loadLab('embedded'))).toThrow(/provider local, not lima/);
  });
});
