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
