import { describe, expect, it } from 'vitest';
import { beforeVitestTimeout, CheckTimeout, spareMs, withinBound } from '../gate/budget.ts';
import { waitFor } from './wait.ts';

const never = { state: () => 'creating', done: () => false } as const;

describe('waitFor', () => {
  it('ends at its own bound outside a check and names the state it saw', async () => {
    const wait = waitFor(async () => 0, { what: 'volume v1', timeoutMs: 300, intervalMs: 50, ...never });
    await expect(wait).rejects.toThrow(/^volume v1 still creating after 0 s \(0\.0 s creating\)$/);
  });

  it("ends where the check's own time runs out and says that the check's bound was shorter", async () => {
    const started = Date.now();
    const wait = withinBound(3_400, () => waitFor(async () => 0, { what: 'volume v1', timeoutMs: 300_000, intervalMs: 50, ...never }));
    await expect(wait).rejects.toThrow("when the check's own time ran out (this wait allows 300 s: the check's bound is shorter)");
    expect(Date.now() - started).toBeLessThan(3_400);
  });

  it('keeps its own bound where it is the shorter one, and returns what it waited for', async () => {
    let n = 0;
    const { value } = await withinBound(60_000, () =>
      waitFor(async () => ++n, { what: 'counter', timeoutMs: 5_000, intervalMs: 10, state: String, done: (v) => v >= 3 }),
    );
    expect(value).toBe(3);
    expect(spareMs(60_000)).toBe(6_000);
    expect([spareMs(1_000), spareMs(600_000)]).toEqual([3_000, 15_000]);
  });
});

describe('a check that would run into Vitest timeout', () => {
  it('fails just before it, saying so, and drops what the abandoned body throws later', async () => {
    const never = new Promise<void>((_, reject) => setTimeout(() => reject(new Error('late')), 3_000));
    const started = Date.now();
    await expect(beforeVitestTimeout(never, 2_500)).rejects.toThrow(CheckTimeout);
    expect(Date.now() - started).toBeLessThan(1_000);
    await new Promise((r) => setTimeout(r, 2_600)); // the late rejection must not surface as unhandled
  });

  it('returns what a body that ends in time returns', async () => {
    await expect(beforeVitestTimeout(Promise.resolve(7), 60_000)).resolves.toBe(7);
  });
});
