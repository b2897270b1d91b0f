/** The shared cache and in-flight de-duplicator (src/core/cache.ts). */
import { describe, expect, it } from 'vitest';
import { createInflight, createTtlCache } from './cache.js';

describe('createTtlCache', () => {
  it('returns an entry until its TTL has passed, on a clock that starts at 0', () => {
    let t = 0;
    const c = createTtlCache<string, string>({ max: 10, ttlMs: 1000, now: () => t });
    c.set('a', 'A');
    t = 1000;
    expect(c.get('a')).toBe('A');
    t = 1001;
    expect(c.get('a')).toBeUndefined();
  });

  it('holds at most max entries, dropping the least recently used', () => {
    const c = createTtlCache<string, number>({ max: 2, ttlMs: 60_000 });
    c.set('a', 1);
    c.set('b', 2);
    c.get('a');
    c.set('c', 3);
    expect([c.get('a'), c.get('b'), c.get('c'), c.size]).toEqual([1, undefined, 3, 2]);
  });
});

describe('createInflight', () => {
  it('shares one call among concurrent callers and keeps no failure', async () => {
    const f = createInflight<string, number>();
    let calls = 0;
    const slow = () => new Promise<number>((r) => setTimeout(() => r(++calls), 10));
    const [x, y] = await Promise.all([f.run('k', slow), f.run('k', slow)]);
    expect([x, y, calls]).toEqual([1, 1, 1]);
    await expect(f.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await f.run('k', slow)).toBe(2);
  });

  it('forget detaches a load: later callers start a fresh one', async () => {
    const f = createInflight<string, string>();
    let release!: (v: string) => void;
    const first = f.run('k', () => new Promise((r) => (release = r)));
    f.forget('k');
    const second = f.run('k', async () => 'fresh');
    release('old');
    expect([await first, await second]).toEqual(['old', 'fresh']);
  });
});
