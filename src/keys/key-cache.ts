/**
 * Unwrapped keys in memory (KEKs, blind-index keys, DEKs), keyed 'kek:<tenant>',
 * 'blind:<tenant>', 'dek:<tenant>:<version>': the shared TTL + size cache (src/core/cache.ts)
 * plus one in-flight de-duplicator, so concurrent loads of one key share one unwrap. Failures
 * and misses (null) are not cached. Keys are never logged. Pure TypeScript; runs on Workers.
 */
import { createInflight, createTtlCache } from '../core/cache.js';

export interface KeyCache {
  /** The cached key, or `fn()` shared among concurrent callers (kept when it is a key). */
  load<V extends Uint8Array | null>(cacheKey: string, fn: () => Promise<V>): Promise<V>;
  set(cacheKey: string, key: Uint8Array): void;
  clear(): void;
}

export function createKeyCache(opts: { ttlMs: number; max: number; now: () => number }): KeyCache {
  const cache = createTtlCache<string, Uint8Array>(opts);
  const inflight = createInflight<string, Uint8Array | null>();
  return {
    load<V extends Uint8Array | null>(cacheKey: string, fn: () => Promise<V>): Promise<V> {
      const hit = cache.get(cacheKey);
      if (hit) return Promise.resolve(hit as V);
      // The in-flight entry of a key always comes from an `fn` of the same V (the cache key names the kind).
      return inflight.run(cacheKey, async () => {
        const v = await fn();
        if (v) cache.set(cacheKey, v);
        return v;
      }) as Promise<V>;
    },
    set: (cacheKey, key) => void cache.set(cacheKey, key),
    clear: () => cache.clear(),
  };
}
