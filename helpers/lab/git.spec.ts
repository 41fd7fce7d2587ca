import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { insideRoot, notIgnoredByGit } from './git.ts';
import { repoRoot } from './load.ts';

describe('git', () => {
  it('asks git which paths it does not ignore', async () => {
    expect(await notIgnoredByGit(['.stackgate/x/passwords.yml', 'fixtures/labs/primary/lab.yaml', 'anywhere/id_ed25519'], repoRoot)).toEqual([
      'fixtures/labs/primary/lab.yaml',
    ]);
    expect(await notIgnoredByGit([], repoRoot)).toEqual([]);
  });

  it('says so when git cannot answer', async () => {
    await expect(notIgnoredByGit(['x'], '/nonexistent-stackgate-root')).rejects.toThrow(/git check-ignore in \/nonexistent-stackgate-root failed/);
  });

  it('keeps paths relative to the repository, and none outside it', () => {
    expect(insideRoot(join(repoRoot, '.stackgate/primary/clouds.yaml'), repoRoot)).toBe('.stackgate/primary/clouds.yaml');
    expect(insideRoot('/etc/passwd', repoRoot)).toBeUndefined();
  });
});
