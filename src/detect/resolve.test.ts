import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findPlaceholders } from '../core/token.js';
import { ENTITY_TYPES, type EntityType } from '../core/types.js';
import { expectWellFormed } from '../../test/helpers/spans.js';
import { resolveSpans } from './resolve.js';
import type { Span } from './types.js';

const P = (start: number, end: number, type: EntityType, score = 1): Span => ({ start, end, type, score, source: 'pattern' });
const N = (start: number, end: number, type: EntityType, score = 0.8): Span => ({ start, end, type, score, source: 'ner' });
const at = (text: string, value: string, from = 0) => {
  const s = text.indexOf(value, from);
  if (s < 0) throw new Error('test bug');
  return [s, s + value.length] as const;
};
const show = (text: string, spans: Span[]) => spans.map((s) => [s.type, text.slice(s.start, s.end), s.source]);

describe('resolveSpans rules', () => {
  it('drops a model span mostly covered by a pattern span (PERSON inside an EMAIL)', () => {
    const t = 'write to john.smith@example.com today';
    const email = P(...at(t, 'john.smith@example.com'), 'EMAIL');
    const person = N(...at(t, 'john.smith'), 'PERSON');
    expect(resolveSpans(t, [person, email])).toEqual([email]);
  });

  it('cuts a pattern span out of a larger model span and trims the rest (ADDRESS holding a PHONE)', () => {
    const t = 'Ship to 1 Main Street, Springfield, tel (415) 555-2671, Illinois 62701 please';
    const addr = N(...at(t, '1 Main Street, Springfield, tel (415) 555-2671, Illinois 62701'), 'ADDRESS', 0.7);
    const phone = P(...at(t, '(415) 555-2671'), 'PHONE');
    expect(show(t, resolveSpans(t, [addr, phone]))).toEqual([
      ['ADDRESS', '1 Main Street, Springfield, tel', 'ner'],
      ['PHONE', '(415) 555-2671', 'pattern'],
      ['ADDRESS', 'Illinois 62701', 'ner'],
    ]);
  });

  it('trims a model span that runs into a pattern span; without the text only the overlap is cut', () => {
    const t = 'Jane Doe, jane@example.com';
    const person = N(0, 14, 'PERSON', 0.9); // "Jane Doe, jane"
    const email = P(...at(t, 'jane@example.com'), 'EMAIL');
    expect(show(t, resolveSpans(t, [person, email]))).toEqual([
      ['PERSON', 'Jane Doe', 'ner'],
      ['EMAIL', 'jane@example.com', 'pattern'],
    ]);
    expect(resolveSpans(undefined, [person, email])).toEqual([{ ...person, end: 10 }, email]);
  });

  it('exactly half covered is kept (cut); more than half is dropped', () => {
    expect(resolveSpans(undefined, [P(0, 5, 'PHONE'), N(0, 10, 'ADDRESS')])).toEqual([P(0, 5, 'PHONE'), N(5, 10, 'ADDRESS')]);
    expect(resolveSpans(undefined, [P(0, 6, 'PHONE'), N(0, 10, 'ADDRESS')])).toEqual([P(0, 6, 'PHONE')]);
  });

  it('a pattern span always beats a model span, whatever the rank or score', () => {
    expect(resolveSpans(undefined, [P(0, 4, 'PHONE', 0.5), N(0, 4, 'ADDRESS', 1)])).toEqual([P(0, 4, 'PHONE', 0.5)]);
  });

  it('between pattern spans: the higher rank of the type (entity table), then score, then longer', () => {
    expect(resolveSpans(undefined, [P(0, 10, 'PHONE'), P(2, 8, 'SSN', 0.9)])).toEqual([P(2, 8, 'SSN', 0.9)]);
    expect(resolveSpans(undefined, [P(0, 10, 'PHONE', 0.9), P(2, 12, 'PHONE', 1)])).toEqual([P(2, 12, 'PHONE', 1)]);
    expect(resolveSpans(undefined, [P(0, 10, 'PHONE'), P(2, 8, 'PHONE')])).toEqual([P(0, 10, 'PHONE')]);
    expect(resolveSpans(undefined, [P(0, 10, 'PHONE'), P(0, 10, 'PHONE')])).toEqual([P(0, 10, 'PHONE')]);
  });

  it('between model spans: rank, then score, then longer; the loser is dropped, not cut', () => {
    expect(resolveSpans(undefined, [N(0, 10, 'PERSON', 0.6), N(5, 8, 'LOCATION', 0.9)])).toEqual([N(5, 8, 'LOCATION', 0.9)]);
    expect(resolveSpans(undefined, [N(0, 10, 'PERSON', 0.8), N(5, 8, 'LOCATION', 0.8)])).toEqual([N(0, 10, 'PERSON', 0.8)]);
    expect(resolveSpans(undefined, [N(0, 10, 'PERSON', 0.9), N(5, 14, 'ADDRESS', 0.6)])).toEqual([N(5, 14, 'ADDRESS', 0.6)]);
  });

  it('overlapping model spans of one type are one entity', () => {
    expect(resolveSpans(undefined, [N(4, 10, 'PERSON', 0.9), N(0, 6, 'PERSON', 0.7)])).toEqual([N(0, 10, 'PERSON', 0.9)]);
    // touching is not overlapping
    expect(resolveSpans(undefined, [N(0, 4, 'PERSON'), N(4, 8, 'PERSON')])).toEqual([N(0, 4, 'PERSON'), N(4, 8, 'PERSON')]);
    // pattern spans of one type are not united
    expect(resolveSpans(undefined, [P(0, 6, 'PHONE'), P(4, 12, 'PHONE')])).toEqual([P(4, 12, 'PHONE')]);
  });

  it('placeholders already in the text always win: spans are cut around them', () => {
    const t = 'Call Maria [PERSON_7QX2M4AB] Gonzalez, id [SSN_0000AAAA]';
    const name = N(...at(t, 'Maria [PERSON_7QX2M4AB] Gonzalez'), 'PERSON');
    const inside = P(...at(t, '7QX2M4AB'), 'NATIONAL_ID');
    const overPh = P(at(t, 'Gonzalez')[1] + 2, t.length, 'ACCOUNT_ID');
    expect(show(t, resolveSpans(t, [name, inside, overPh]))).toEqual([
      ['PERSON', 'Maria', 'ner'],
      ['PERSON', 'Gonzalez', 'ner'],
      ['ACCOUNT_ID', 'id', 'pattern'],
    ]);
  });

  it('clips spans to the text and drops empty ones', () => {
    expect(resolveSpans('Jane in Oslo', [N(-3, 4, 'PERSON'), N(5, 5, 'PERSON'), N(8, 20, 'LOCATION')])).toEqual([
      N(0, 4, 'PERSON'),
      N(8, 12, 'LOCATION'),
    ]);
  });
});

describe('resolveSpans properties', () => {
  const PH = ['[PERSON_7QX2M4AB]', '[EMAIL_0000AAAA]', '[LOCATION_ZZZZ9999]'];
  /** Text of words, separators and placeholders. */
  const textArb = fc
    .array(fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 6 }) }, { weight: 1, arbitrary: fc.constantFrom(...PH) }, { weight: 2, arbitrary: fc.constantFrom(' ', ', ', '\n') }), {
      maxLength: 20,
    })
    .map((parts) => parts.join(''));
  const typeArb = fc.constantFrom(...ENTITY_TYPES);
  const spanArb = (len: number) =>
    fc
      .tuple(fc.integer({ min: -3, max: len + 3 }), fc.integer({ min: 0, max: 40 }), typeArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('pattern' as const, 'ner' as const))
      .map(([start, l, type, score, source]): Span => ({ start, end: start + l, type, score, source }));
  const caseArb = textArb.chain((text) => fc.tuple(fc.constant(text), fc.array(spanArb(text.length), { maxLength: 16 })));

  it('output is sorted, disjoint, inside the text, clear of placeholders and inside input spans of its type and source', () => {
    fc.assert(
      fc.property(caseArb, ([text, spans]) => {
        const out = resolveSpans(text, spans);
        const ph = findPlaceholders(text);
        expectWellFormed(text, out);
        for (const s of out) {
          for (const p of ph) expect(s.end <= p.start || p.end <= s.start).toBe(true);
          for (let i = s.start; i < s.end; i++) {
            expect(spans.some((n) => n.type === s.type && n.source === s.source && n.start <= i && i < n.end)).toBe(true);
          }
          // a pattern span is never altered, only kept or dropped (unless a placeholder cut it)
          if (s.source === 'pattern' && ph.length === 0) {
            expect(spans.some((n) => n.source === 'pattern' && n.type === s.type && n.score === s.score && Math.max(0, n.start) === s.start && Math.min(text.length, n.end) === s.end)).toBe(true);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('is idempotent and does not depend on the order of its input', () => {
    fc.assert(
      fc.property(
        caseArb.chain(([text, spans]) => fc.tuple(fc.constant(text), fc.constant(spans), fc.shuffledSubarray(spans, { minLength: spans.length, maxLength: spans.length }))),
        ([text, spans, shuffled]) => {
          const out = resolveSpans(text, spans);
          expect(resolveSpans(text, out)).toEqual(out);
          expect(resolveSpans(text, shuffled)).toEqual(out);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('keeps every span when they are disjoint and clear of placeholders; does not mutate its input', () => {
    fc.assert(
      fc.property(caseArb, ([text, spans]) => {
        const copy = JSON.stringify(spans);
        const ph = findPlaceholders(text);
        const clear = [...spans]
          .filter((s) => s.start >= 0 && s.end <= text.length && s.end > s.start && ph.every((p) => s.end <= p.start || p.end <= s.start))
          .sort((a, b) => a.start - b.start);
        const disjoint: Span[] = [];
        for (const s of clear) if (disjoint.length === 0 || disjoint.at(-1)!.end <= s.start) disjoint.push(s);
        expect(resolveSpans(text, disjoint)).toEqual(disjoint);
        resolveSpans(text, spans);
        expect(JSON.stringify(spans)).toBe(copy);
      }),
      { numRuns: 500 },
    );
  });
});
