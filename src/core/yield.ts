/**
 * Cooperative yielding for long loops on the event loop: `yielder` tells a loop when it has
 * worked more than `sliceMs` since its last turn and hands back a promise that resolves on a
 * later macrotask, so other requests (and /healthz) run between slices of a huge request;
 * `mapYielding` is `Promise.all(xs.map(fn))` in slices with such turns between them.
 * `setTimeout`, not `setImmediate`: pure TypeScript, runs on Workers.
 */

/** Per-iteration check: null while the slice lasts, else a promise to await (a later macrotask). */
export function yielder(sliceMs = 8): () => Promise<void> | null {
  let since = performance.now();
  return () => {
    if (performance.now() - since <= sliceMs) return null;
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        since = performance.now();
        resolve();
      }, 0),
    );
  };
}

/**
 * `Promise.all(xs.map(fn))` run `sliceItems` at a time, with an event-loop turn before a slice
 * whenever more than `sliceMs` ms of work ran since the last one. Results in input order.
 */
export async function mapYielding<T, R>(
  xs: readonly T[],
  fn: (x: T, i: number) => Promise<R> | R,
  opts: { sliceItems?: number; sliceMs?: number } = {},
): Promise<R[]> {
  const sliceItems = opts.sliceItems ?? 128;
  if (xs.length <= sliceItems) return Promise.all(xs.map(fn));
  const tick = yielder(opts.sliceMs ?? 8);
  const out: R[] = [];
  for (let i = 0; i < xs.length; i += sliceItems) {
    const turn = tick();
    if (turn) await turn;
    out.push(...(await Promise.all(xs.slice(i, i + sliceItems).map((x, j) => fn(x, i + j)))));
  }
  return out;
}
