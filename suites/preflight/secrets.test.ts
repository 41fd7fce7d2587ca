import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { insideRoot, notIgnoredByGit } from '../../helpers/lab/git.ts';
import { repoRoot } from '../../helpers/lab/load.ts';

check('pre.secrets-ignored', 'every secret file of the lab is ignored by git', async ({ lab, notApplicable }) => {
  const clouds = lab.spec.credentials?.cloudsFile && insideRoot(lab.path(lab.spec.credentials.cloudsFile), repoRoot);
  const secrets = [...new Set([...(lab.spec.secrets ?? []), ...(clouds ? [clouds] : [])])];
  if (secrets.length === 0) return notApplicable('the spec lists no secret files');
  const exposed = await notIgnoredByGit(secrets, repoRoot);
  expect(exposed.map((p) => `${p} is not ignored by git (git check-ignore): add it to .gitignore, and untrack it if it is committed`), 'secrets git would take').toEqual([]);
});
