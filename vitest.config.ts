import { defineConfig } from 'vitest/config';
import { fileReporters } from './helpers/gate/redacting-reporters.ts';
import { ACCEPTANCE, ACCEPTANCE_PROJECT, DESTRUCTIVE, isLayer, LAYERS, stageOf, type Layer } from './helpers/gate/layers.ts';
import { isGated } from './helpers/gate/gated.ts';
import { loadLab } from './helpers/lab/load.ts';
import { environmentInfo } from './helpers/gate/environment.ts';
import { currentRun } from './helpers/gate/ledger.ts';

// One run ID per invocation, inherited by every worker: cloud resources are named sg-<run>-… and ledgered under it.
currentRun();

// A run of only the project's own tests (self, drills) writes no acceptance report.
const projects = process.argv.flatMap((a, i, all) => (a.startsWith('--project=') ? [a.slice(10)] : a === '--project' && all[i + 1] ? [all[i + 1]!] : []));
const selfOnly = projects.length > 0 && projects.every((p) => p === 'self' || p === 'drills');
const named = projects.filter(isLayer);
const filtered = LAYERS.filter((l) => process.argv.some((a) => a.includes(`suites/${l}`)));
const asked = (layer: Layer) => named.includes(layer) || filtered.includes(layer);

const specOrNothing = () => {
  try {
    return loadLab();
  } catch {
    return undefined; // the global setup reports every problem of the spec
  }
};
// Gated (`npm test -- --gated`, or the spec's gate.gated): each stage of layers is a Vitest group of its own, run after
// the stage before it; a check of a later stage is blocked when a lower layer did not pass (helpers/gate/gated.ts).
const gated = !selfOnly && isGated(specOrNothing());
if (gated) process.env.STACKGATE_GATED = '1';

// Every layer in one project, unless layers are named (`--project network`) or the run is gated (a project per layer,
// each stage a group): Vitest reuses a worker only for the next file of the same project, so with a project per layer
// `npm test` started about 20 worker processes, each loading the checks (~0.8 CPU-s) on two vCPUs the lab keeps busy.
// Interleaved here on 2026-12-07: 36.4 s median of 8 in one project, 41.3 s of 8 with a project per layer.
const oneProject = !gated && named.length === 0;
// `npm test` (helpers/gate/test-run.ts): the acceptance alone, without the project's own tests.
const acceptanceOnly = process.env.STACKGATE_ACCEPTANCE === '1';
// Several layers, or a layer whose files wait minutes on the cloud (compute, storage), run their files side by side;
// one quick layer keeps Vitest's default, where extra workers only cost start-up on a small machine.
// (`npx vitest` with no filter runs the project's own tests too, whose child runs are CPU-bound: the default there.)
const all = acceptanceOnly || projects.includes(ACCEPTANCE_PROJECT);
const layersRun = named.length ? named : filtered.length ? filtered : all ? ACCEPTANCE : [];
const waiting: readonly Layer[] = ['compute', 'storage', 'loadbalancer'];
const sideBySide = layersRun.length > 1 || layersRun.some((p) => waiting.includes(p));
// Four, not six: each more worker is one more process loading the checks' modules on a machine the embedded lab
// already fills; `npm test` here took 43.1 s (41.6–44.8, 9 runs) with four, 45.5 s (42.6–48.7) with six, 48.3 s with
// three (with a project per layer).
const ACCEPTANCE_WORKERS = sideBySide ? 4 : undefined;

// A layer that changes the lab (persistence reboots it) exists only when asked for by name or by its folder:
// `npx vitest`, `--ui` or a filter of other layers never reboots anything.
const included = LAYERS.filter((l) => !DESTRUCTIVE.includes(l) || asked(l));
const acceptanceProject = (name: string, layers: readonly Layer[]) => ({
  test: {
    name,
    include: layers.map((l) => `suites/${l}/**/*.test.ts`),
    globalSetup: ['helpers/gate/global-setup.ts'],
    testTimeout: 60_000,
    // Checks share no mutable state between files; one module graph per worker saves seconds per layer.
    isolate: false,
    ...(gated && layers.length === 1 ? { sequence: { groupOrder: stageOf(layers[0]!) } } : {}),
  },
});

const ownTests = [
  {
    test: {
      name: 'self',
      include: ['helpers/**/*.spec.ts', 'provision/**/*.spec.ts', 'reports/**/*.spec.ts', 'suites/**/*.spec.ts'],
      testTimeout: 120_000,
      sequence: { groupOrder: 0 },
    },
  },
  {
    // The fault drills mutate the running embedded lab: after the self-tests, never beside them, and one file at
    // a time (reports/*.live.ts injects a drill too).
    test: { name: 'drills', include: ['provision/**/*.live.ts', 'reports/**/*.live.ts'], testTimeout: 300_000, sequence: { groupOrder: 1 }, fileParallelism: false },
  },
];

export default defineConfig({
  test: {
    // Checks wait on the lab, not on this CPU: run the acceptance files side by side even on a 2-CPU machine
    // (Vitest's default, one worker fewer than CPUs, would run them one after another). The project's own tests keep
    // the default: their child runs are CPU-bound.
    maxWorkers: ACCEPTANCE_WORKERS,
    experimental: { fsModuleCache: true },
    reporters: selfOnly
      ? ['default']
      : [
          'default',
          // The gate (which also writes Vitest's JUnit file and adds the decisions and the reaper's line to it), then
          // Allure's; every file they write redacted. The project's own tests run checks in child runs with these
          // pointed at a scratch folder.
          ...fileReporters(environmentInfo()),
        ],
    // No project `extends: true`: Vitest would load and bundle this file once more per project (0.7 s of every
    // layer's start here), and nothing below the root needs inheriting — reporters and workers are run-wide.
    projects: [
      ...(acceptanceOnly ? [] : ownTests),
      ...(oneProject ? [acceptanceProject(ACCEPTANCE_PROJECT, included)] : included.map((l) => acceptanceProject(l, [l]))),
    ],
  },
});
