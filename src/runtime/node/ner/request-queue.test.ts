/**
 * The NER request queue on its own (no model, no threads): fair round-robin jobs within their
 * limits, the bound on queued characters, answers put back together per text, failures and
 * aborts settling each request once.
 */
import { describe, expect, it } from 'vitest';
import { isVeilError } from '../../../core/errors.js';
import type { Span } from '../../../detect/types.js';
import { createRequestQueue, plan } from './request-queue.js';

const SEG = 100;
const q = (maxBatch = 4, jobChars = 1_000, maxQueuedChars = 10_000) => createRequestQueue({ maxBatch, jobChars, maxQueuedChars });
const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i % 10}`).join(' ');
const span = (start: number, end: number): Span => ({ start, end, type: 'PERSON', score: 0.9, source: 'ner' });

describe('NER request queue', () => {
  it('takes units round-robin from every waiting request, within maxBatch and jobChars', async () => {
    const queue = q(4, 250);
    const big = plan([words(300)], SEG, 10); // ~900 chars: many segments
    const small = plan(['Ada went home'], SEG, 10);
    void queue.add(big);
    void queue.add(small);
    const job = queue.takeJob();
    // one unit of the big request, then the small one's only unit, then the big one again
    expect(job.map((it) => it.p.texts)).toEqual([big.texts, small.texts, big.texts]);
    expect(job.reduce((n, it) => n + queue.textOf(it).length, 0)).toBeLessThanOrEqual(250);
    expect(queue.queuedUnits).toBe(big.units.length - 2);
  });

  it('a request alone is always admitted; beyond maxQueuedChars others are refused', () => {
    const queue = q(4, 1_000, 500);
    const huge = plan([words(400)], SEG, 10);
    expect(huge.chars).toBeGreaterThan(500);
    expect(queue.admits(huge.chars)).toBe(true);
    void queue.add(huge);
    expect(queue.admits(1)).toBe(false);
  });

  it('puts segment answers back together per text and resolves once every unit is answered', async () => {
    const queue = q(16, 100_000);
    const text = `${words(60)} Ada Lovelace ${words(60)}`;
    const p = plan([text, 'x'], SEG, 10);
    const answer = queue.add(p);
    const job = queue.takeJob();
    expect(job).toHaveLength(p.units.length);
    const at = text.indexOf('Ada Lovelace');
    for (const it of job) {
      const u = p.units[it.unit]!;
      const seg = p.segments[u.text]![u.seg]!;
      const inside = u.text === 0 && at >= seg.start && at + 12 <= seg.end;
      queue.deliver(it, inside ? [span(at - seg.start, at - seg.start + 12)] : []);
    }
    const spans = await answer;
    expect(spans[0]!.map((s) => text.slice(s.start, s.end))).toEqual(['Ada Lovelace']);
    expect(spans[1]).toEqual([]);
  });

  it('a failed job fails its requests once, with their own error; later answers are ignored', async () => {
    const queue = q();
    const a = queue.add(plan(['one'], SEG, 10));
    const b = queue.add(plan(['two'], SEG, 10));
    const job = queue.takeJob();
    let made = 0;
    queue.fail(job, () => new Error(`down ${++made}`));
    await expect(a).rejects.toThrow('down 1');
    await expect(b).rejects.toThrow('down 2');
    queue.deliver(job[0]!, []);
    expect(queue.queuedUnits).toBe(0);
  });

  it('an abort rejects with an AbortError and drops the queued units; failAll fails the rest', async () => {
    const queue = q(1);
    const ac = new AbortController();
    const aborted = queue.add(plan([words(300)], SEG, 10), ac.signal);
    const other = queue.add(plan(['two'], SEG, 10));
    queue.takeJob();
    ac.abort();
    const err = await aborted.catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(isVeilError(err)).toBe(false);
    expect(queue.queuedUnits).toBe(1);
    queue.failAll(() => new Error('closed'));
    await expect(other).rejects.toThrow('closed');
    expect(queue.queuedUnits).toBe(0);
    expect(queue.takeJob()).toEqual([]);
  });
});
