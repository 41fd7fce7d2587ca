import { defineConfig } from 'vitest/config';
import { GateReporter } from '../../helpers/gate/reporter.ts';
import { repoRoot } from '../../helpers/lab/load.ts';

// Used by preflight.spec.ts: the real preflight layer with the gate reporter only (no Allure, no JUnit), so that
// runs on mutated specs write their matrix to STACKGATE_REPORTS and leave the real reports alone.
export default defineConfig({
  root: repoRoot,
  test: {
    reporters: ['default', new GateReporter()],
    projects: [
      { extends: true, test: { name: 'preflight', include: ['suites/preflight/**/*.test.ts'], globalSetup: ['helpers/gate/global-setup.ts'] } },
    ],
  },
});
