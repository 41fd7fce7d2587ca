/**
 * Gated runs (seed 003: "do not begin the next phase until the current gate passes"): the layers run stage by stage in
 * the design's order (vitest.config.ts gives each stage its own Vitest group), and a layer that does not pass blocks
 * every layer above it. Checks note their layer's failures in a file of the run; a check of a higher stage reads it
 * before it starts, since the stages run one after another in separate workers.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../lab/model.ts';
import { currentRun } from './ledger.ts';
import { LAYERS, layerOf, stageOf, type Layer } from './layers.ts';

/** `npm test -- --gated` sets STACKGATE_GATED=1; without it, the spec's gate.gated decides. */
export function isGated(lab: Pick<Lab, 'spec'> | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.STACKGATE_GATED) return env.STACKGATE_GATED === '1';
  return lab?.spec.gate?.gated === true;
}

/** A check of a gated run that kept its layer from passing. */
interface Stop {
  readonly layer: Layer;
  readonly checkId: string;
  readonly outcome: 'failed' | 'blocked';
  readonly why: string;
}

const stopsFile = () => join(tmpdir(), 'stackgate-gated', `${currentRun().run}.jsonl`);

/** The run's notes go once its gate is judged. */
export function forgetStops(): void {
  rmSync(stopsFile(), { force: true });
}

/** Called by a check of a gated run that failed, or could not run for a cause of its own layer. */
export function noteStop(stop: Stop): void {
  mkdirSync(join(tmpdir(), 'stackgate-gated'), { recursive: true });
  appendFileSync(stopsFile(), `${JSON.stringify({ ...stop, why: stop.why.split('\n')[0]!.slice(0, 300) })}\n`);
}

const listed = (ids: readonly string[], max = 3) =>
  `${ids.slice(0, max).join(', ')}${ids.length > max ? ` and ${ids.length - max} more` : ''}`;

/** The lowest layer below this one's stage that did not pass in this gated run, and why: one line. */
export function blockingLayer(layer: Layer): { layer: Layer; why: string } | undefined {
  if (!existsSync(stopsFile())) return undefined;
  const stops = readFileSync(stopsFile(), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Stop);
  const below = stops.filter((s) => stageOf(s.layer) < stageOf(layer));
  const lowest = LAYERS.find((l) => below.some((s) => s.layer === l));
  if (!lowest) return undefined;
  const own = below.filter((s) => s.layer === lowest);
  const failed = own.filter((s) => s.outcome === 'failed').map((s) => s.checkId);
  const blocked = own.filter((s) => s.outcome === 'blocked').map((s) => s.checkId);
  const parts = [failed.length ? `${listed(failed)} failed` : '', blocked.length ? `${listed(blocked)} could not run` : ''];
  return { layer: lowest, why: `${parts.filter(Boolean).join("; ")} (${own[0]!.why})` };
}

export interface LayerGate {
  readonly layer: Layer;
  /** `blocked`: a lower layer did not pass (gated: its checks did not run; parallel: its failures may follow from it). */
  readonly status: 'passed' | 'failed' | 'blocked';
  readonly passed: number;
  /** Skipped for a reason the spec declares (not applicable, lacking, not due, waived). */
  readonly skipped: number;
  readonly failed: readonly string[];
  /** Checks that could not run for a cause of this layer's own (lab unreachable, no Keystone session …). */
  readonly blocked: readonly string[];
  readonly by?: Layer;
  /** The first failure's message or blocking reason, one line. */
  readonly why?: string;
}

/**
 * Each layer of the run judged as a gate, in the design's order. The lowest stage with a layer that did not pass
 * stops the gate; every layer above it is blocked by it: in a gated run because its checks did not run, in a
 * parallel run when it has failures of its own, which are then shown under the lower layer's failure.
 */
/** What a layer's gate reads of a check's result (verdict.ts's CheckResult). */
interface Outcome {
  readonly checkId: string | undefined;
  readonly status: string;
  readonly skip?: { readonly kind: string; readonly reason: string; readonly by?: Layer };
  readonly message?: string;
}

export function layerGates(results: readonly Outcome[], layers: readonly Layer[], gated: boolean): LayerGate[] {
  const own = LAYERS.filter((l) => layers.includes(l)).map((layer) => {
    const rs = results.filter((r) => r.checkId && layerOf(r.checkId) === layer);
    const failed = rs.filter((r) => r.status === 'failed');
    const blocked = rs.filter((r) => r.skip?.kind === 'blocked' && !r.skip.by);
    const first = failed[0]?.message ?? blocked[0]?.skip?.reason;
    return {
      layer,
      passed: rs.filter((r) => r.status === 'passed').length,
      skipped: rs.filter((r) => r.status === 'skipped' && r.skip?.kind !== 'blocked').length,
      failed: failed.map((r) => r.checkId!),
      blocked: blocked.map((r) => r.checkId!),
      ...(first ? { why: first.split('\n')[0]! } : {}),
    };
  });
  const stop = own.find((g) => g.failed.length + g.blocked.length > 0);
  return own.map((g) => {
    const passed = g.failed.length + g.blocked.length === 0;
    if (!stop || stageOf(g.layer) <= stageOf(stop.layer)) return { ...g, status: passed ? 'passed' : 'failed' };
    if (gated || !passed) return { ...g, status: 'blocked', by: stop.layer };
    return { ...g, status: 'passed' };
  });
}

/** The layer the gate stopped at, if any. */
export const stoppedAt = (gates: readonly LayerGate[]) => gates.find((g) => g.status === 'failed')?.layer;

const cut = (text: string, n = 110) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** One line per layer for the console and the matrix: where the gate stopped, and what stands blocked by it. */
export function layerLines(gates: readonly LayerGate[], gated: boolean): string[] {
  const width = Math.max(...gates.map((g) => g.layer.length), 5);
  const what = (g: LayerGate) =>
    [g.failed.length ? `${listed(g.failed)} failed` : '', g.blocked.length ? `${listed(g.blocked)} could not run` : '']
      .filter(Boolean)
      .join('; ');
  const lines = gates.map((g) => {
    const name = g.layer.padEnd(width);
    if (g.status === 'passed') return `${name}  PASS     ${g.passed} passed${g.skipped ? `, ${g.skipped} skipped` : ''}`;
    if (g.status === 'failed') return `${name}  FAIL     ${what(g)}${g.why ? `: ${cut(g.why)}` : ''}`;
    if (gated) return `${name}  BLOCKED  by ${g.by}`;
    return `${name}  BLOCKED  by ${g.by}: ${what(g)} (ran anyway, may follow from ${g.by})`;
  });
  const stop = stoppedAt(gates);
  const head = gated ? 'Layers, gated (each a hard gate, in the design\'s order):' : 'Layers (run side by side):';
  const tail = stop ? [`The gate stopped at ${stop}${gated ? '; the layers above it did not run' : ''}.`] : [];
  return [head, ...lines.map((l) => `  ${l}`), ...tail];
}
