/**
 * Why a server failed on its compute node, from its instance actions (admin, microversion ≥ 2.51 shows tracebacks):
 * Nova's fault after a reschedule says only "Exceeded maximum number of retries"; the compute node's own error is the
 * last line of the first failed event's traceback, e.g. "PermissionError: [Errno 13] Permission denied: 'genisoimage'".
 */
interface Event { event?: string; result?: string | null; traceback?: string | null; host?: string | null }

export function computeFailure(actions: unknown): string | undefined {
  if (!Array.isArray(actions)) return undefined;
  for (const a of actions as { instanceAction?: { events?: Event[] } }[]) {
    for (const e of a.instanceAction?.events ?? []) {
      if (e.result !== 'Error' || !e.traceback) continue;
      const last = e.traceback.trim().split('\n').at(-1)?.trim();
      if (last) return `${e.event ?? 'event'}${e.host ? ` on ${e.host}` : ''}: ${last}`;
    }
  }
  return undefined;
}
