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

/**
 * What `npm test [-- …]` hands Vitest: `--gated` taken out (Vitest refuses an option it does not know; it goes on as
 * STACKGATE_GATED=1), and every layer as a project unless a `--project` is given.
 */
export function acceptanceArgs(argv: readonly string[]): { gated: boolean; vitest: string[] } {
  const rest = argv.filter((a) => a !== '--gated');
  const chosen = rest.some((a) => a === '--project' || a.startsWith('--project='));
  const projects = chosen ? [] : ACCEPTANCE.flatMap((l) => ['--project', l]);
  return { gated: argv.includes('--gated'), vitest: ['run', ...projects, ...rest] };
}
