/**
 * A per-step time bound for multi-step operations: `withStepWatchdog` runs `fn` and rejects
 * with a plain Error once a single step takes longer than `timeoutMs`. `fn` calls `progress()`
 * after each step it completes, which restarts the clock, so a long run of quick steps is not
 * failed for its size while one stuck step fails after `timeoutMs`. The timer is always
 * cleared when the operation settles. Pure TypeScript; runs on Workers.
 */

export async function withStepWatchdog<T>(
  timeoutMs: number,
  label: string,
  fn: (progress: () => void) => Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let fire: (e: Error) => void = () => {};
  let done = false;
  const arm = () => {
    clearTimeout(timer);
    if (done) return;
    timer = setTimeout(() => fire(new Error(`${label}: a step took longer than ${timeoutMs} ms`)), timeoutMs);
  };
  const timeout = new Promise<never>((_, reject) => {
    fire = reject;
  });
  arm();
  try {
    return await Promise.race([fn(arm), timeout]);
  } finally {
    done = true;
    clearTimeout(timer);
  }
}
