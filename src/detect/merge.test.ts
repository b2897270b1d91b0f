import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENTITY_TYPES, type EntityType } from '../core/types.js';
import { mergeSpans } from './merge.js';
import type { Span } from './types.js';

const P = (start: number, end: number, type: EntityType, score = 1): Span => ({ start, end, type, score, source: 'pattern' });
const N = (start: number, end: number, type: EntityType, score = 0.8): Span => ({ start, end, type, score, source: 'ner' });
const at = (text: string, value: string, from = 0) => {
  const s = text.indexOf(value, from);
  if (s < 0) throw new Error('test bug');
  return [s, s + value.length] as const;
};
const show = (text: string, spans: Span[]) => spans.map((s) => [s.type, text.slice(s.start, s.end), s.source]);

describe('mergeSpans rules', () => {
  it('drops an NER span mostly covered by a pattern span (PERSON inside an EMAIL)', () => {
    const t = 'write to john.smith@example.com today';
    const email = P(...at(t, 'john.smith@example.com'), 'EMAIL');
    const person = N(...at(t, 'john.smith'), 'PERSON');
    expect(mergeSpans([[email], [person]], {}, t)).toEqual([email]);
  });

  it('cuts a pattern span out of a larger NER span and trims the rest (ADDRESS holding a PHONE)', () => {
    const t = 'Ship to 1 Main Street, Springfield, tel (415) 555-2671, Illinois 62701 please';
    const addr = N(...at(t, '1 Main Street, Springfield, tel (415) 555-2671, Illinois 62701'), 'ADDRESS', 0.7);
    const phone = P(...at(t, '(415) 555-2671'), 'PHONE');
    expect(show(t, mergeSpans([[phone], [addr]], {}, t))).toEqual([
      ['ADDRESS', '1 Main Street, Springfield, tel', 'ner'],
      ['PHONE', '(415) 555-2671', 'pattern'],
      ['ADDRESS', 'Illinois 62701', 'ner'],
    ]);
  });

  it('trims an NER span that runs into a pattern span', () => {
    const t = 'Jane Doe, jane@example.com';
    const person = N(0, 14, 'PERSON', 0.9); // "Jane Doe, jane"
    const email = P(...at(t, 'jane@example.com'), 'EMAIL');
    expect(show(t, mergeSpans([[person], [email]], {}, t))).toEqual([
      ['PERSON', 'Jane Doe', 'ner'],
      ['EMAIL', 'jane@example.com', 'pattern'],
    ]);
    // without the text, nothing can be trimmed: only the overlap is cut away
    expect(mergeSpans([[person], [email]])).toEqual([{ ...person, end: 10 }, email]);
  });

  it('exactly half covered is kept (trimmed); more than half is dropped', () => {
    expect(mergeSpans([[P(0, 5, 'PHONE')], [N(0, 10, 'ADDRESS')]])).toEqual([P(0, 5, 'PHONE'), N(5, 10, 'ADDRESS')]);
    expect(mergeSpans([[P(0, 6, 'PHONE')], [N(0, 10, 'ADDRESS')]])).toEqual([P(0, 6, 'PHONE')]);
  });

  it('between NER spans: higher score, then longer, then priority, then earlier', () => {
    expect(mergeSpans([[N(0, 10, 'PERSON', 0.6), N(5, 8, 'LOCATION', 0.9)]])).toEqual([N(5, 8, 'LOCATION', 0.9)]);
    expect(mergeSpans([[N(0, 10, 'PERSON', 0.8)], [N(5, 8, 'LOCATION', 0.8)]])).toEqual([N(0, 10, 'PERSON', 0.8)]);
    expect(mergeSpans([[N(0, 4, 'PERSON')], [N(2, 6, 'ORGANIZATION')]], { ORGANIZATION: 2, PERSON: 1 })).toEqual([
      N(2, 6, 'ORGANIZATION'),
    ]);
    expect(mergeSpans([[N(0, 4, 'PERSON')], [N(2, 6, 'ORGANIZATION')]])).toEqual([N(0, 4, 'PERSON')]);
  });

  it('between pattern spans of different lists: higher score, then priority, then longer', () => {
    expect(mergeSpans([[P(0, 10, 'PHONE', 0.9)], [P(2, 8, 'SSN', 1)]])).toEqual([P(2, 8, 'SSN', 1)]);
    expect(mergeSpans([[P(0, 10, 'PHONE')], [P(2, 8, 'SSN')]], { SSN: 5 })).toEqual([P(2, 8, 'SSN')]);
    expect(mergeSpans([[P(0, 10, 'PHONE')], [P(2, 8, 'SSN')]])).toEqual([P(0, 10, 'PHONE')]);
    expect(mergeSpans([[P(0, 10, 'PHONE')], [P(0, 10, 'PHONE')]])).toEqual([P(0, 10, 'PHONE')]);
  });

  it('clips spans to the text and drops empty ones', () => {
    expect(mergeSpans([[N(-3, 4, 'PERSON'), N(5, 5, 'PERSON'), N(8, 20, 'LOCATION')]], {}, 'Jane in Oslo')).toEqual([
      N(0, 4, 'PERSON'),
      N(8, 12, 'LOCATION'),
    ]);
  });
});

describe('mergeSpans properties', () => {
  const textArb = fc.string({ minLength: 0, maxLength: 120 });
  const typeArb = fc.constantFrom(...ENTITY_TYPES);
  /** Non-overlapping pattern spans from sorted cut points. */
  const patternsArb = (len: number) =>
    fc
      .uniqueArray(fc.integer({ min: 0, max: len }), { maxLength: 12 })
      .chain((cuts) => {
        const c = [...cuts].sort((a, b) => a - b);
        const pairs: Array<[number, number]> = [];
        for (let i = 0; i + 1 < c.length; i += 2) if (c[i]! < c[i + 1]!) pairs.push([c[i]!, c[i + 1]!]);
        return fc.tuple(...pairs.map(([s, e]) => fc.tuple(typeArb, fc.double({ min: 0.5, max: 1, noNaN: true })).map(([t, sc]) => P(s, e, t, sc))));
      });
  const nerArb = (len: number) =>
    fc.array(
      fc
        .tuple(fc.integer({ min: -5, max: len + 5 }), fc.integer({ min: 0, max: 40 }), typeArb, fc.double({ min: 0, max: 1, noNaN: true }))
        .map(([s, l, t, sc]) => N(s, s + l, t, sc)),
      { maxLength: 15 },
    );
  const caseArb = textArb.chain((text) =>
    fc.tuple(fc.constant(text), patternsArb(text.length), nerArb(text.length), fc.boolean()),
  );

  it('output is sorted, non-overlapping, within the text; every pattern span survives; NER output lies inside an NER input', () => {
    fc.assert(
      fc.property(caseArb, ([text, pats, ners, split]) => {
        const lists = split ? [pats.filter((_, i) => i % 2 === 0), ners, pats.filter((_, i) => i % 2 === 1)] : [[...pats, ...ners]];
        const out = mergeSpans(lists, {}, text);
        let prevEnd = 0;
        for (const s of out) {
          expect(s.start).toBeGreaterThanOrEqual(prevEnd);
          expect(s.end).toBeGreaterThan(s.start);
          expect(s.end).toBeLessThanOrEqual(text.length);
          prevEnd = s.end;
          if (s.source === 'ner') expect(ners.some((n) => n.type === s.type && n.start <= s.start && s.end <= n.end)).toBe(true);
        }
        for (const p of pats) expect(out).toContainEqual(p);
      }),
      { numRuns: 1000 },
    );
  });

  it('is pure: does not mutate its input and gives the same answer twice', () => {
    fc.assert(
      fc.property(caseArb, ([text, pats, ners]) => {
        const lists = [pats, ners];
        const copy = JSON.stringify(lists);
        const a = mergeSpans(lists, {}, text);
        expect(JSON.stringify(lists)).toBe(copy);
        expect(mergeSpans(lists, {}, text)).toEqual(a);
      }),
      { numRuns: 300 },
    );
  });
});
