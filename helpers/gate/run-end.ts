/**
 * Work that must finish before the gate judges a run: removing the cloud resources of the run's shared guest, so
 * that the gate's look at the run's ledger sees what was really left behind. The global setup and the gate's
 * reporter both run in Vitest's main process but load their modules separately, so the hooks live on globalThis.
 */
const KEY = Symbol.for('stackgate.beforeVerdict');

type Hook = () => Promise<void>;

const hooks = (): Hook[] => ((globalThis as { [KEY]?: Hook[] })[KEY] ??= []);

export function beforeVerdict(hook: Hook): void {
  hooks().push(hook);
}

/** Run (and forget) every hook; a hook's failure is its own to report. */
export async function runBeforeVerdict(): Promise<void> {
  await Promise.all(hooks().splice(0).map((h) => h().catch((error: unknown) => process.stdout.write(`stackgate: ${(error as Error).message}\n`))));
}
