/**
 * Bench-only preload (NODE_OPTIONS=--import=…): measures the gateway's event-loop delay with
 * perf_hooks.monitorEventLoopDelay. On SIGUSR2 it prints `LOOPDELAY <max ms> <p99 ms>` to
 * stderr for the time since the previous signal, then resets. Main thread only.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  process.on('SIGUSR2', () => {
    process.stderr.write(`LOOPDELAY ${(h.max / 1e6).toFixed(1)} ${(h.percentile(99) / 1e6).toFixed(1)}\n`);
    h.reset();
  });
}
