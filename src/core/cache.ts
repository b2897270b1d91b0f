/**
 * The gateway's one cache and one in-flight de-duplicator.
 *
 * `createTtlCache` is `lru-cache` (bounded to `max` entries, least recently used evicted first,
 * entries older than `ttlMs` never returned) read on an injectable clock, so tests can move time.
 * Every in-memory cache in src/ (unwrapped keys, tokens, API-key lookups, policies) is one of these.
 *
 * `createInflight` shares one promise among concurrent callers asking for the same key; the
 * entry is dropped when the promise settles (so failures are never kept), and `forget` lets a
 * writer detach a load that started before its change (the load still answers its callers).
 * Pure TypeScript; runs on Workers.
 */
import { LRUCache } from 'lru-cache';

export type TtlCache<K extends {}, V extends {}> = LRUCache<K, V>;

export interface TtlCacheOptions {
  /** Most entries held (at least 1). */
  max: number;
  /** How long an entry is returned after it was set, in ms. */
  ttlMs: number;
  /** Clock in ms (default Date.now). */
  now?: () => number;
}

export function createTtlCache<K extends {}, V extends {}>(opts: TtlCacheOptions): TtlCache<K, V> {
  const now = opts.now ?? Date.now;
  return new LRUCache<K, V>({
    max: Math.max(1, Math.floor(opts.max)),
    ttl: Math.max(1, opts.ttlMs),
    // lru-cache reads a start time of 0 as "no TTL" and test clocks start at 0: shift by 1 ms
    // (only differences count). No cached clock reading (ttlResolution 0), so a moved test clock
    // is seen at once and no timer is armed per read.
    perf: { now: () => now() + 1 },
    ttlResolution: 0,
    updateAgeOnGet: false,
    allowStale: false,
  });
}

export interface Inflight<K, V> {
  /** The promise in flight for `key`, or `fn()` (registered until it settles). */
  run(key: K, fn: () => Promise<V>): Promise<V>;
  /** Later callers start a fresh load; the detached one still answers its own callers. */
  forget(key: K): void;
  clear(): void;
}

export function createInflight<K, V>(): Inflight<K, V> {
  const pending = new Map<K, Promise<V>>();
  return {
    run(key, fn) {
      const hit = pending.get(key);
      if (hit) return hit;
      const p = fn().finally(() => {
        if (pending.get(key) === p) pending.delete(key);
      });
      pending.set(key, p);
      return p;
    },
    forget: (key) => void pending.delete(key),
    clear: () => pending.clear(),
  };
}
