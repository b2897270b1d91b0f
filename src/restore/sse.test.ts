import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitAt } from '../../test/helpers/split.js';
import { SseParser } from './sse.js';

function parseAll(chunks: (string | Uint8Array)[]) {
  const p = new SseParser();
  const out = chunks.flatMap((c) => p.push(c));
  return [...out, ...p.end()];
}

describe('SseParser', () => {
  it('parses data events, ignores comments, joins multi-line data', () => {
    const evs = parseAll([': keep-alive\n\ndata: {"a":1}\n\nevent: x\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n']);
    expect(evs).toEqual([
      { event: null, data: '{"a":1}' },
      { event: 'x', data: 'line1\nline2' },
      { event: null, data: '[DONE]' },
    ]);
  });

  it('any byte split (CRLF, LF, multi-byte UTF-8) yields the same events', () => {
    const payload = fc.array(
      fc.record({ data: fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !/[\r\n]/.test(s)), nl: fc.constantFrom('\n', '\r\n', '\r') }),
      { maxLength: 10 },
    );
    fc.assert(
      fc.property(payload, fc.array(fc.nat(400), { maxLength: 20 }), (events, cuts) => {
        const text = events.map((e) => `data: ${e.data}${e.nl}${e.nl}`).join('');
        const bytes = new TextEncoder().encode(text);
        expect(parseAll(splitAt(bytes, cuts))).toEqual(events.map((e) => ({ event: null, data: e.data })));
      }),
      { numRuns: 500 },
    );
  });
});

describe('SseParser: linear, bounded (issue 7)', () => {
  it('one 32 MB data line fed in 16 KB chunks parses in linear time (was 83 s)', () => {
    const big = 'x'.repeat(32 * 1024 * 1024);
    const bytes = new TextEncoder().encode(`data: ${big}\n\ndata: [DONE]\n\n`);
    const p = new SseParser();
    const t0 = performance.now();
    const out = [];
    for (let i = 0; i < bytes.length; i += 16 * 1024) out.push(...p.push(bytes.subarray(i, i + 16 * 1024)));
    const ms = performance.now() - t0;
    expect(out.map((e) => e.data.length)).toEqual([big.length, 6]);
    expect(out[0]!.data === big).toBe(true);
    // ~100 ms here; generous for a busy machine
    expect(ms).toBeLessThan(5_000);
  });

  it('property: with a size limit, every event up to the first oversized one is returned, whatever the chunking; then nothing', () => {
    const ev = fc.record({ data: fc.string({ maxLength: 60 }).filter((s) => !/[\r\n]/.test(s)), lines: fc.integer({ min: 1, max: 3 }), nl: fc.constantFrom('\n', '\r\n') });
    fc.assert(
      fc.property(fc.array(ev, { maxLength: 12 }), fc.integer({ min: 1, max: 120 }), fc.array(fc.nat(2000), { maxLength: 30 }), (events, limit, cuts) => {
        const text = events.map((e) => `${Array.from({ length: e.lines }, () => `data: ${e.data}${e.nl}`).join('')}${e.nl}`).join('');
        const bytes = new TextEncoder().encode(text);
        const p = new SseParser(limit);
        const got = splitAt(bytes, cuts).flatMap((c) => p.push(c));
        got.push(...p.end());
        const want: string[] = [];
        let tooLarge = false;
        for (const e of events) {
          const data = Array.from({ length: e.lines }, () => e.data).join('\n');
          // the parser's measure: each data line plus one, or the line being read ("data: …")
          const size = Math.max(e.lines * (e.data.length + 1), (e.lines - 1) * (e.data.length + 1) + 'data: '.length + e.data.length);
          if (size > limit) {
            tooLarge = true;
            break;
          }
          want.push(data);
        }
        expect(got.map((g) => g.data)).toEqual(want);
        expect(p.tooLarge !== null).toBe(tooLarge);
      }),
      { numRuns: 500 },
    );
  });
});
