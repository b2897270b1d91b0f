/**
 * Reveal rate limits, per API key, counted in tokens.
 *
 * {@link createDbRateLimiter} (what the gateway uses): a fixed one-minute window per key in the
 * database (`veil_rate_windows`, drizzle/0005_reveal_rate.sql), shared by every gateway process
 * on the same PostgreSQL. One statement per reveal: an UPSERT that adds the request's tokens
 * only while the window's total stays within the limit (the row lock serializes concurrent
 * takers, so N processes together never exceed it), and deletes the key's older windows. The
 * window is numbered by the database's clock, so processes agree on it. A fixed window lets a
 * key take up to 2× the limit across a window boundary (the end of one minute and the start of
 * the next); never more. A refused take counts nothing. Fails closed: a database error rejects.
 *
 * {@link createRateLimiter}: the same budget as a continuous token bucket in process memory
 * (tests, in-process embedders); with N processes a key could reveal N× the limit. Bounded: at
 * most `maxKeys` buckets, least recently used evicted.
 */
import type { Db } from '../db/client.js';

export interface RateLimiter {
  /** Takes `n` units for `key`; resolves to 0 when allowed, else the seconds to wait. */
  take(key: string, n: number): number | Promise<number>;
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

/** Length of a window of {@link createDbRateLimiter}, in seconds. */
export const RATE_WINDOW_S = 60;

const SQL_TAKE = `with w as (select floor(extract(epoch from clock_timestamp()) / ${RATE_WINDOW_S})::bigint as n,
                         extract(epoch from clock_timestamp())::float8 as s),
old as (delete from veil_rate_windows where key = $1 and window_start < (select n from w)),
up as (insert into veil_rate_windows (key, window_start, used)
         select $1, w.n, $2::int from w where $2::int <= $3::int
       on conflict (key, window_start) do update set used = veil_rate_windows.used + excluded.used
         where veil_rate_windows.used + excluded.used <= $3::int
       returning used)
select (select count(*) from up)::int as taken, (select s from w) as s`;

/** The shared fixed-window limiter: `perMinute` tokens per key per minute (0 = off). */
export function createDbRateLimiter(db: Db, perMinute: number): RateLimiter {
  return {
    async take(key, n) {
      if (perMinute <= 0) return 0;
      const row = (await db.query<{ taken: number; s: number }>(SQL_TAKE, [key, n, perMinute], 'veil_rate_take'))[0];
      if (row && Number(row.taken) > 0) return 0;
      const s = Number(row?.s ?? 0);
      // a request larger than the whole budget never fits: say so with the full window
      if (n > perMinute) return RATE_WINDOW_S;
      return Math.max(1, Math.ceil(RATE_WINDOW_S - (s % RATE_WINDOW_S)));
    },
  };
}
