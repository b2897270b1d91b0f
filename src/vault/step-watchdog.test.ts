/** The per-step time bound of vault calls: one stuck step fails, many quick steps do not. */
import { describe, expect, it } from 'vitest';
import { withStepWatchdog } from './step-watchdog.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('withStepWatchdog', () => {
  it('rejects when one step takes longer than the bound', async () => {
    const err = await withStepWatchdog(50, 'vault tokenize', () => new Promise(() => {})).catch((e: unknown) => e);
    expect((err as Error).message).toBe('vault tokenize: a step took longer than 50 ms');
  });

  it('progress() restarts the clock: steps that each fit pass even when all together take longer', async () => {
    const out = await withStepWatchdog(500, 'op', async (progress) => {
      for (let i = 0; i < 6; i++) {
        await sleep(150);
        progress();
      }
      return 'done';
    });
    expect(out).toBe('done');
  });

  it('passes the operation’s own failure through and leaves no timer behind', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await expect(withStepWatchdog(10_000, 'op', async () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    await expect(withStepWatchdog(10_000, 'op', async (progress) => (progress(), 'ok'))).resolves.toBe('ok');
    expect(timers()).toBe(before);
  });
});
