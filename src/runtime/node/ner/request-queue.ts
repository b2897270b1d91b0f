/**
 * The NER detector's request queue: the detect() calls waiting for workers and the fair
 * scheduling between them. Node-free logic (no threads here; ./worker-pool.ts runs the jobs).
 *
 * - `plan` cuts each text into overlapping segments (src/detect/ner/segment.ts); each segment
 *   is one unit of work.
 * - `takeJob` takes units round-robin from every waiting request (≤ `maxBatch` units, ≤
 *   `jobChars` characters, at least one), so a small request waits for at most one job per
 *   worker, never behind all of a huge one.
 * - The queue is bounded: `admits` refuses a request that would push the characters of
 *   not-yet-started units past `maxQueuedChars`; a request alone in the queue is always admitted.
 * - Each request settles once: answered (`deliver` of its last unit puts the texts back
 *   together), failed (`fail`, `failAll`), or aborted by its signal (AbortError or the signal's
 *   reason), which drops its queued units.
 */
import { abortError } from '../../../core/errors.js';
import { joinSegmentSpans, type Segment, segmentText } from '../../../detect/ner/index.js';
import type { Span } from '../../../detect/types.js';

/** A request's segments and units, before it is queued. */
export interface Plan {
  readonly texts: readonly string[];
  /** per text, its segments */
  readonly segments: Segment[][];
  /** flat list of (text, segment) in scheduling order */
  readonly units: { text: number; seg: number; chars: number }[];
  /** characters of all units */
  readonly chars: number;
}

/** One detect() call in the queue: its plan, its results, and where the scheduler is in it. */
interface Pending extends Plan {
  /** next unit to hand to a worker */
  next: number;
  /** units not yet answered */
  remaining: number;
  /** per text, per segment: spans (relative to the segment) */
  readonly results: Span[][][];
  /** characters of units not yet handed out */
  queuedChars: number;
  resolve: (spans: Span[][]) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  settled: boolean;
}

/** One unit handed to a worker. */
export interface JobItem {
  readonly p: Pending;
  readonly unit: number;
}

export interface RequestQueue {
  /** Units queued and not yet handed out. */
  readonly queuedUnits: number;
  readonly queuedChars: number;
  /** False when `chars` more would pass the bound (never when the queue is empty). */
  admits(chars: number): boolean;
  /** Queues a planned request; settles when every unit is answered, on failure or on abort. */
  add(plan: Plan, signal?: AbortSignal): Promise<Span[][]>;
  /** The next job (possibly empty when only settled requests were left). */
  takeJob(): JobItem[];
  /** The text a worker runs for a unit: its segment. */
  textOf(item: JobItem): string;
  /** A unit's spans (relative to its segment). */
  deliver(item: JobItem, spans: Span[]): void;
  /** Fails the requests of these units (once each), each with its own `error()`. */
  fail(items: readonly JobItem[], error: () => unknown): void;
  /** Fails every queued request, each with its own `error()`. */
  failAll(error: () => unknown): void;
}

/** Segments and units of `texts` (empty texts have none). */
export function plan(texts: readonly string[], segChars: number, segOverlap: number): Plan {
  const segments = texts.map((t) => (t.length === 0 ? [] : segmentText(t, segChars, segOverlap)));
  const units: Plan['units'] = [];
  let chars = 0;
  segments.forEach((segs, t) =>
    segs.forEach((s, k) => {
      units.push({ text: t, seg: k, chars: s.end - s.start });
      chars += s.end - s.start;
    }),
  );
  return { texts, segments, units, chars };
}

export function createRequestQueue(opts: { maxBatch: number; jobChars: number; maxQueuedChars: number }): RequestQueue {
  /** requests with units not yet handed out, in arrival order; served round-robin */
  let active: Pending[] = [];
  let rr = 0;
  let queuedChars = 0;
  let queuedUnits = 0;

  /** Removes what is still queued of `p` from the counts. */
  function dequeue(p: Pending): void {
    queuedChars -= p.queuedChars;
    queuedUnits -= p.units.length - p.next;
    p.queuedChars = 0;
    p.next = p.units.length;
  }

  function settle(p: Pending, err: unknown, spans?: Span[][]): void {
    if (p.settled) return;
    p.settled = true;
    dequeue(p);
    if (p.signal && p.onAbort) p.signal.removeEventListener('abort', p.onAbort);
    if (err) p.reject(err);
    else p.resolve(spans!);
  }

  return {
    get queuedUnits() {
      return queuedUnits;
    },
    get queuedChars() {
      return queuedChars;
    },
    admits: (chars) => !(queuedChars > 0 && queuedChars + chars > opts.maxQueuedChars),
    add(plan, signal) {
      return new Promise<Span[][]>((resolve, reject) => {
        const p: Pending = {
          ...plan,
          next: 0,
          remaining: plan.units.length,
          results: plan.segments.map((segs) => segs.map(() => [])),
          queuedChars: plan.chars,
          resolve,
          reject,
          settled: false,
        };
        queuedChars += plan.chars;
        queuedUnits += plan.units.length;
        if (signal) {
          p.signal = signal;
          p.onAbort = () => settle(p, abortError(signal));
          signal.addEventListener('abort', p.onAbort, { once: true });
        }
        active.push(p);
      });
    },
    takeJob() {
      const items: JobItem[] = [];
      let chars = 0;
      while (items.length < opts.maxBatch && active.length > 0) {
        if (rr >= active.length) rr = 0;
        const p = active[rr]!;
        if (p.settled || p.next >= p.units.length) {
          active.splice(rr, 1);
          continue;
        }
        const u = p.units[p.next]!;
        if (items.length > 0 && chars + u.chars > opts.jobChars) break;
        items.push({ p, unit: p.next });
        p.next++;
        p.queuedChars -= u.chars;
        queuedChars -= u.chars;
        queuedUnits--;
        chars += u.chars;
        rr++;
      }
      return items;
    },
    textOf({ p, unit }) {
      const u = p.units[unit]!;
      const seg = p.segments[u.text]![u.seg]!;
      const text = p.texts[u.text]!;
      return seg.start === 0 && seg.end === text.length ? text : text.slice(seg.start, seg.end);
    },
    deliver(it, spans) {
      const p = it.p;
      if (p.settled) return;
      const u = p.units[it.unit]!;
      p.results[u.text]![u.seg] = spans;
      if (--p.remaining > 0) return;
      // every segment answered: put each text back together (linear)
      settle(p, null, p.texts.map((_, t) => joinSegmentSpans(p.segments[t]!, p.results[t]!)));
    },
    fail(items, error) {
      for (const it of items) settle(it.p, error());
    },
    failAll(error) {
      for (const p of active) settle(p, error());
      active = [];
    },
  };
}
