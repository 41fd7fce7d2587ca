/**
 * What `lab up` would run for each bundled local lab, as text under testdata/rendered/: a change to any daemon's
 * argv, files, directories or health shows as a diff of these files in the commit that makes it (`-u` rewrites them).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { renderedText, renderForTest } from './testing.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const labs = {
  embedded: 'embedded', 'embedded-infra': 'embedded-infra', 'embedded-lb': 'embedded-lb', 'four-node': 'four-node', 'all-in-one': 'all-in-one', other: join(here, 'testdata/other/lab.yaml'), 'charmed-twin': 'charmed-twin', 'ha-infra': 'ha-infra',
};

describe('what the local provider renders for the bundled labs', () => {
  test.each(Object.entries(labs))('%s', async (name, spec) => {
    await expect(renderedText(renderForTest(loadLab(spec)))).toMatchFileSnapshot(join(here, 'testdata/rendered', `${name}.txt`));
  });
});
