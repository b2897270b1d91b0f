/**
 * Per-key token bucket for reveals: `perMinute` tokens refill continuously, a burst of at most
 * `perMinute`. In process memory: with N gateway processes a key can reveal up to N× the limit
 * (README says so). Bounded: at most `maxKeys` buckets, least recently used evicted.
 */
export interface RateLimiter {
  /** Takes `n` units for `key`; returns 0 when allowed, else the seconds to wait. */
  take(key: string, n: number): number;
}

export function createRateLimiter(perMinute: number, opts: { maxKeys?: number; now?: () => number } = {}): RateLimiter {
  const now = opts.now ?? Date.now;
  const maxKeys = opts.maxKeys ?? 10_000;
  const rate = perMinute / 60_000;
  const buckets = new Map<string, { level: number; t: number }>();
  return {
    take(key, n) {
      if (perMinute <= 0) return 0;
      const t = now();
      const b = buckets.get(key) ?? { level: perMinute, t };
      buckets.delete(key);
      b.level = Math.min(perMinute, b.level + (t - b.t) * rate);
      b.t = t;
      buckets.set(key, b);
      while (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value as string);
      if (n <= b.level) {
        b.level -= n;
        return 0;
      }
      return Math.max(1, Math.ceil((Math.min(n, perMinute) - b.level) / rate / 1000));
    },
  };
}
