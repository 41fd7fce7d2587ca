/** The layers of checks, in the order a lab is judged. A check ID's prefix names its layer. */
export const LAYERS = ['preflight', 'network', 'tls', 'dns', 'compute', 'storage', 'monitoring', 'ha', 'loadbalancer', 'persistence'] as const;
export type Layer = (typeof LAYERS)[number];

/**
 * Layers that change the lab (persistence reboots its nodes): never part of `npm test`; run by name
 * (`npx vitest run --project persistence`), by `npm run test:self` and by the nightly workflow.
 */
export const DESTRUCTIVE: readonly Layer[] = ['persistence'];
/** The layers `npm test` runs. */
export const ACCEPTANCE: readonly Layer[] = LAYERS.filter((l) => !DESTRUCTIVE.includes(l));

const PREFIX: Record<string, Layer> = {
  pre: 'preflight',
  net: 'network',
  tls: 'tls',
  dns: 'dns',
  compute: 'compute',
  storage: 'storage',
  mon: 'monitoring',
  ha: 'ha',
  lb: 'loadbalancer',
  persist: 'persistence',
};

/**
 * The order a gated run judges the layers in (seed 003: each phase ends in a hard gate): a stage runs only after every
 * stage before it, and tls and dns, which stand on the network alone, share one.
 */
export const STAGES: readonly (readonly Layer[])[] = [
  ['preflight'],
  ['network'],
  // Redundancy of the infrastructure (PostgreSQL replication, log delivery) stands on the network alone, as DNS does.
  ['tls', 'dns', 'ha'],
  ['compute'],
  ['storage', 'monitoring'],
  // Octavia stands on Nova and Neutron (its members are servers): after compute and the layers beside it.
  ['loadbalancer'],
  ['persistence'],
];

export function stageOf(layer: Layer): number {
  return STAGES.findIndex((s) => s.includes(layer));
}

export const CHECK_ID = /^(pre|net|tls|dns|compute|storage|mon|ha|lb|persist)\.[a-z0-9]+(-[a-z0-9]+)*$/;

export function layerOf(checkId: string): Layer {
  const layer = PREFIX[checkId.split('.')[0] ?? ''];
  if (!layer || !CHECK_ID.test(checkId)) {
    throw new Error(`invalid check ID "${checkId}": expected <${Object.keys(PREFIX).join('|')}>.<kebab-name>`);
  }
  return layer;
}

/** Layers that talk to a running lab (everything but preflight). */
export function isLive(layer: Layer): boolean {
  return layer !== 'preflight';
}

/** The Vitest project that holds every layer's files in `npm test` (vitest.config.ts). */
export const ACCEPTANCE_PROJECT = 'acceptance';

export const isLayer = (name: string): name is Layer => (LAYERS as readonly string[]).includes(name);

/** The layer of a check file: the folder under suites/ it sits in (suites/<layer>/…). */
export function layerOfFile(file: string): Layer | undefined {
  const folder = /(?:^|\/)suites\/([a-z]+)\//.exec(file)?.[1];
  return folder && isLayer(folder) ? folder : undefined;
}

/**
 * What `npm test [-- …]` hands Vitest: `--gated` taken out (Vitest refuses an option it does not know; it goes on as
 * STACKGATE_GATED=1), and STACKGATE_ACCEPTANCE=1, which leaves the project's own tests (self, drills) out of the
 * configuration (vitest.config.ts), so that Vitest runs every acceptance layer however they are grouped into projects.
 * `--no-ensure` (taken out too) skips `lab ensure`: a benchmark under a drill, whose lab is not ready on purpose.
 */
export function acceptanceArgs(argv: readonly string[]): {
  gated: boolean;
  ensure: boolean;
  vitest: string[];
  env: Record<string, string>;
} {
  const gated = argv.includes('--gated');
  const env = { STACKGATE_ACCEPTANCE: '1', ...(gated ? { STACKGATE_GATED: '1' } : {}) };
  const vitest = ['run', ...argv.filter((a) => a !== '--gated' && a !== '--no-ensure')];
  return { gated, ensure: !argv.includes('--no-ensure'), vitest, env };
}
