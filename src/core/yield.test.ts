/** Cooperative yielding: results stay in order, and other work runs during a long map. */
import { describe, expect, it } from 'vitest';
import { mapYielding, yielder } from './yield.js';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('mapYielding', () => {
  it('returns fn(x, i) in input order, small and large', async () => {
    const xs = Array.from({ length: 1_000 }, (_, i) => i);
    expect(await mapYielding(xs.slice(0, 10), async (x, i) => x * 2 + i)).toEqual(xs.slice(0, 10).map((x) => x * 3));
    expect(await mapYielding(xs, async (x, i) => x * 2 + i, { sliceItems: 7 })).toEqual(xs.map((x) => x * 3));
  });

  it('lets a timer run between slices of a long map', async () => {
    let fired = false;
    setTimeout(() => (fired = true), 0);
    let seenAt = -1;
    await mapYielding(
      Array.from({ length: 40 }, (_, i) => i),
      (i) => {
        busy(1);
        if (fired && seenAt < 0) seenAt = i;
      },
      { sliceItems: 4, sliceMs: 2 },
    );
    expect(seenAt).toBeGreaterThan(0);
    expect(seenAt).toBeLessThan(40);
  });
});

describe('yielder', () => {
  it('is null within the slice and a later macrotask past it', async () => {
    const tick = yielder(5);
    expect(tick()).toBeNull();
    busy(10);
    const turn = tick();
    expect(turn).toBeInstanceOf(Promise);
    await turn;
    expect(tick()).toBeNull();
  });
});
