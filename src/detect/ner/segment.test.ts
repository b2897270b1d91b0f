import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Span } from '../types.js';
import { joinSegmentSpans, segmentText } from './segment.js';

const word = fc.oneof(fc.stringMatching(/^[a-zA-Zé😀]{1,12}$/u), fc.constantFrom(' ', '  ', '\n', 'x'.repeat(300)));
const textArb = fc.array(word, { maxLength: 400 }).map((w) => w.join(' '));

describe('segmentText / joinSegmentSpans', () => {
  it('property: segments cover the text in order, each ≤ max, consecutive ones touch or overlap, no split surrogate', () => {
    fc.assert(
      fc.property(textArb, fc.integer({ min: 64, max: 3000 }), fc.integer({ min: 0, max: 400 }), (text, max, overlap) => {
        const segs = segmentText(text, max, overlap);
        expect(segs[0]!.start).toBe(0);
        expect(segs.at(-1)!.end).toBe(text.length);
        for (let i = 0; i < segs.length; i++) {
          const s = segs[i]!;
          expect(s.end - s.start).toBeLessThanOrEqual(max);
          if (text.length > 0) expect(s.end).toBeGreaterThan(s.start);
          if (i > 0) {
            expect(s.start).toBeGreaterThan(segs[i - 1]!.start);
            expect(s.start).toBeLessThanOrEqual(segs[i - 1]!.end);
          }
          const c = text.charCodeAt(s.start);
          if (s.start > 0) expect(c >= 0xdc00 && c <= 0xdfff).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('property: spans seen by each segment join back to the spans of the whole text (names shorter than half the overlap)', () => {
    fc.assert(
      fc.property(textArb, fc.integer({ min: 200, max: 3000 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 24 })), { maxLength: 60 }), (text, max, raw) => {
        fc.pre(text.length > 0);
        const overlap = 200;
        // the true spans: sorted, non-overlapping, ≤ 24 characters (< half the ≥ 50 overlap used)
        const truth: Span[] = [];
        let last = 0;
        for (const [a, len] of raw.map(([a, l]) => [a % text.length, l] as const).sort((x, y) => x[0] - y[0])) {
          if (a < last || a + len > text.length) continue;
          truth.push({ start: a, end: a + len, type: 'PERSON', score: 0.9, source: 'ner' });
          last = a + len;
        }
        const segs = segmentText(text, max, overlap);
        // each segment reports the true spans wholly inside it (a model cannot see across its edge)
        const per = segs.map((g) => truth.filter((s) => s.start >= g.start && s.end <= g.end).map((s) => ({ ...s, start: s.start - g.start, end: s.end - g.start })));
        const ov = Math.min(overlap, Math.floor(max / 4));
        fc.pre(truth.every((s) => s.end - s.start <= ov / 2 - 1));
        expect(joinSegmentSpans(segs, per)).toEqual(truth);
      }),
      { numRuns: 300 },
    );
  });

  it('a 1 MB text is cut in linear time', () => {
    const text = 'I spoke with Priya Raghunathan yesterday. '.repeat(25_000);
    const t0 = performance.now();
    const segs = segmentText(text);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(segs.length).toBeGreaterThan(500);
  });
});
