/**
 * Pure NER parts (src/detect/ner): token alignment with real transformers.js tokenizers built
 * from small tokenizer.json configs, window planning, BIO decoding and span clean-up.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LABEL_MAP,
  alignTokens,
  assignTokensToWindows,
  buildLabelTable,
  cleanSpan,
  decodeSpans,
  parseLabelMap,
  planWindows,
  prepareText,
  resolveLabel,
  type AlignedToken,
  batchSequences,
  collectWindowProbs,
  decodePrepared,
  joinAdjacent,
  padBatch,
  sequencesOf,
  type SubwordScheme,
} from './index.js';
import { encode, metaspaceTokenizer, wordpieceTokenizer } from '../../../test/helpers/synthetic-tokenizer.js';

const cased = wordpieceTokenizer();
const uncased = wordpieceTokenizer({ lowercase: true });
const meta = metaspaceTokenizer();
const TOKENIZERS = [
  { name: 'wordpiece cased', tok: cased, scheme: { kind: 'wordpiece' } as SubwordScheme, unk: '[UNK]' },
  { name: 'wordpiece uncased+strip accents', tok: uncased, scheme: { kind: 'wordpiece' } as SubwordScheme, unk: '[UNK]' },
  { name: 'metaspace', tok: meta, scheme: { kind: 'metaspace' } as SubwordScheme, unk: '<unk>' },
];

const show = (text: string, a: readonly AlignedToken[]) => a.map((t) => text.slice(t.start, t.end));

describe('alignTokens', () => {
  it('places cased WordPiece tokens, [UNK], CJK, emoji and word pieces exactly', () => {
    const text = "Siobhán  O'Connor met John Smithson in Berlin 北京 👨‍👩‍👧 ok.";
    const e = encode(cased, text);
    const a = alignTokens(text, e.tokens);
    expect(e.tokens).toContain('[UNK]');
    expect(show(text, a)).toEqual(['Siob', 'h', 'án', 'O', "'", 'C', 'o', 'n', 'n', 'o', 'r', 'm', 'e', 't', 'John', 'Smith', 'son', 'i', 'n', 'Berlin', '北', '京', '👨‍👩‍👧', 'o', 'k', '.']);
    // word pieces share a word id; "##son" continues "Smith"
    expect(a[15]!.word).toBe(a[16]!.word);
    expect(a[14]!.word).not.toBe(a[15]!.word);
    expect(a.every((t) => t.aligned)).toBe(true);
  });

  it('aligns an uncased, accent-stripping tokenizer by folding the text the same way', () => {
    const text = 'SIOBHÁN met JOHN Smith in İst';
    const e = encode(uncased, text);
    expect(e.tokens.slice(0, 2)).toEqual(['siobhan', 'm']);
    const a = alignTokens(text, e.tokens);
    expect(show(text, a)).toEqual(['SIOBHÁN', 'm', 'e', 't', 'JOHN', 'Smith', 'i', 'n', 'İ', 's', 't']);
  });

  it('aligns SentencePiece-style pieces (▁ starts a word)', () => {
    const text = 'John Smith lives in Berlin.';
    const e = encode(meta, text);
    const a = alignTokens(text, e.tokens, { scheme: { kind: 'metaspace' }, unkTokens: ['<unk>'] });
    const words = new Map<number, string>();
    a.forEach((t) => t.aligned && words.set(t.word, text.slice(Math.min(t.start, [...a].filter((x) => x.word === t.word && x.aligned)[0]!.start), t.end)));
    expect([...words.values()]).toEqual(['John', 'Smith', 'lives', 'in', 'Berlin.']);
  });

  for (const { name, tok, scheme, unk } of TOKENIZERS) {
    it(`property (${name}): every token lies inside the text, in order, without surrounding spaces`, () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string({ unit: 'grapheme', maxLength: 60 }),
            fc.string({ unit: 'binary', maxLength: 60 }),
            fc.array(fc.constantFrom('John', ' ', 'Smith', 'é', '\u0301', '北', '👍🏽', '\u200d', '\t', '\n', "'", '.', 'İ', 'ß', '\ud800', '\u00a0', 'x', '##', '▁'), { maxLength: 30 }).map((a) => a.join('')),
          ),
          (text) => {
            const e = encode(tok, text);
            const a = alignTokens(text, e.tokens, { scheme, unkTokens: [unk] });
            expect(a.length).toBe(e.tokens.length);
            let last = 0;
            for (const t of a) {
              expect(0 <= t.start && t.start <= t.end && t.end <= text.length).toBe(true);
              if (!t.aligned) continue;
              expect(t.start).toBeGreaterThanOrEqual(last);
              last = t.end;
              const s = text.slice(t.start, t.end);
              expect(s.length).toBeGreaterThan(0);
              expect(s).toBe(s.trim());
            }
          },
        ),
        { numRuns: 300 },
      );
    });
  }
});

describe('windows', () => {
  it('covers every token, respects the size, overlaps and prefers word starts', () => {
    expect(planWindows(10, { maxTokens: 254 })).toEqual([{ start: 0, end: 10 }]);
    const ws = Array.from({ length: 1000 }, (_, i) => i % 3 === 0);
    const w = planWindows(1000, { maxTokens: 100, overlap: 20, wordStart: ws });
    expect(w[0]!.start).toBe(0);
    expect(w[w.length - 1]!.end).toBe(1000);
    for (let i = 0; i < w.length; i++) {
      expect(w[i]!.end - w[i]!.start).toBeLessThanOrEqual(100);
      if (i > 0) {
        expect(w[i]!.start).toBeLessThan(w[i - 1]!.end); // overlap
        expect(ws[w[i]!.start]).toBe(true);
      }
      if (i < w.length - 1) expect(ws[w[i]!.end]).toBe(true);
    }
  });

  it('property: each token is owned by a window containing it, as far from an inner edge as possible', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 4, max: 300 }), fc.integer({ min: 0, max: 64 }), (n, max, ov) => {
        const w = planWindows(n, { maxTokens: max, overlap: ov });
        const { window, offset } = assignTokensToWindows(n, w);
        for (let t = 0; t < n; t++) {
          const win = w[window[t]!]!;
          expect(t >= win.start && t < win.end).toBe(true);
          expect(offset[t]).toBe(t - win.start);
          const dist = (x: { start: number; end: number }) => Math.min(x.start === 0 ? Infinity : t - x.start, x.end === n ? Infinity : x.end - 1 - t);
          for (const other of w) if (t >= other.start && t < other.end) expect(dist(win)).toBeGreaterThanOrEqual(dist(other));
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('labels', () => {
  it('maps common label schemes', () => {
    expect(resolveLabel('B-PER')).toEqual({ prefix: 'B', type: 'PERSON' });
    expect(resolveLabel('I-GPE')).toEqual({ prefix: 'I', type: 'LOCATION' });
    expect(resolveLabel('B-MISC')).toEqual({ prefix: 'O', type: null });
    expect(resolveLabel('O')).toEqual({ prefix: 'O', type: null });
    expect(resolveLabel('S-ORG')).toEqual({ prefix: 'B', type: 'ORGANIZATION' });
    expect(resolveLabel('I-STREET_ADDRESS')).toEqual({ prefix: 'I', type: 'ADDRESS' });
    expect(resolveLabel('B-FOOD')).toEqual({ prefix: 'O', type: null });
    const m = parseLabelMap('{"misc":"ORGANIZATION","PER":null}');
    expect(resolveLabel('B-MISC', m)).toEqual({ prefix: 'B', type: 'ORGANIZATION' });
    expect(resolveLabel('B-PER', m).type).toBeNull();
    expect(() => parseLabelMap('{"PER":"HUMAN"}')).toThrow(/unknown entity type/);
    expect(() => parseLabelMap('nope')).toThrow(/not valid JSON/);
    expect(() => buildLabelTable({ '0': 'O', '2': 'B-PER' })).toThrow(/bad id|missing/);
    expect(DEFAULT_LABEL_MAP['LOC']).toBe('LOCATION');
  });
});

const LABELS = buildLabelTable(['O', 'B-PERSON', 'I-PERSON', 'B-LOCATION', 'I-LOCATION', 'B-ORGANIZATION', 'I-ORGANIZATION', 'B-ADDRESS', 'I-ADDRESS']);

/** probabilities with `p` on the given label id for each token (rest spread evenly). */
function probsFor(ids: number[], p = 0.92): Float32Array {
  const w = LABELS.length;
  const out = new Float32Array(ids.length * w);
  ids.forEach((id, t) => {
    for (let j = 0; j < w; j++) out[t * w + j] = j === id ? p : (1 - p) / (w - 1);
  });
  return out;
}

describe('decodeSpans', () => {
  it('decodes word-level BIO with exact offsets, whole words and scores', () => {
    const text = 'Ask John Smithson in Berlin, please.';
    const e = encode(cased, text);
    const prep = prepareText(text, e);
    // label by word: John=B-PER, Smith##son = I-PER on the head only (piece "son" says O)
    const ids = e.tokens.map((t, i) => {
      const s = text.slice(prep.tokens[i]!.start, prep.tokens[i]!.end);
      return s === 'John' ? 1 : s === 'Smith' ? 2 : s === 'Berlin' ? 3 : 0;
    });
    const spans = decodeSpans(text, prep.tokens, probsFor(ids), LABELS);
    expect(spans.map((s) => [text.slice(s.start, s.end), s.type, s.source])).toEqual([
      ['John Smithson', 'PERSON', 'ner'],
      ['Berlin', 'LOCATION', 'ner'],
    ]);
    expect(spans[0]!.score).toBeCloseTo(0.92 + 0.01, 2);
  });

  it('applies per-type thresholds', () => {
    const text = 'John went to Berlin';
    const e = encode(cased, text);
    const prep = prepareText(text, e);
    const ids = prep.tokens.map((t) => (text.slice(t.start, t.end) === 'John' ? 1 : text.slice(t.start, t.end) === 'Berlin' ? 3 : 0));
    const probs = probsFor(ids, 0.6);
    expect(decodeSpans(text, prep.tokens, probs, LABELS, { minScore: { LOCATION: 0.7 } }).map((s) => s.type)).toEqual(['PERSON']);
    expect(decodeSpans(text, prep.tokens, probs, LABELS, { minScore: 0.7 })).toEqual([]);
  });

  it('trims punctuation and keeps abbreviations', () => {
    expect(cleanSpan(' "John", ', 0, 9)).toEqual([2, 6]);
    expect(cleanSpan('at 12 Main St. today', 3, 14)).toEqual([3, 14]);
    expect(cleanSpan('I met Johnson.', 6, 14)).toEqual([6, 13]);
    expect(cleanSpan('Smi|th', 0, 2)).toEqual([0, 3]);
    expect(cleanSpan('(Berlin)', 1, 8)).toEqual([1, 7]);
    expect(cleanSpan('...', 0, 3)).toBeNull();
  });

  it('property: random predictions give sorted, non-overlapping spans with no edge whitespace', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 200, maxLength: 200 }), (text, labelIds) => {
        const e = encode(cased, text);
        const prep = prepareText(text, e);
        const spans = decodeSpans(text, prep.tokens, probsFor(labelIds.slice(0, prep.tokens.length)), LABELS);
        let last = 0;
        for (const s of spans) {
          expect(0 <= s.start && s.start < s.end && s.end <= text.length).toBe(true);
          expect(s.start).toBeGreaterThanOrEqual(last);
          last = s.end;
          const v = text.slice(s.start, s.end);
          expect(v).toBe(v.trim());
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('window merge over a long text (fake model, real tokenizer)', () => {
  it('finds each name exactly once with exact offsets although windows cut through them', () => {
    const parts: string[] = [];
    for (let i = 0; i < 60; i++) parts.push(i % 3 === 0 ? 'the John Smith met the' : 'the the the');
    const text = parts.join(' ');
    const e = encode(cased, text);
    // a token's best window keeps it ≥ 1 token from an inner edge when windows overlap by ≥ 3
    for (const [windowTokens, overlap, zone] of [[16, 8, 1], [7, 3, 1], [254, 32, 2]] as const) {
      const prep = prepareText(text, e, { windowTokens, overlap });
      const seqs = sequencesOf([prep], [2], [3]);
      const w = LABELS.length;
      const probs = new Map<string, Float32Array>();
      for (const batch of batchSequences(seqs, 4)) {
        const { seqLen } = padBatch(batch, 0);
        // a "model" that labels names right except within `zone` tokens of an inner window edge
        const logits = new Float32Array(batch.length * seqLen * w);
        batch.forEach((s, r) => {
          const win = prep.windows[s.window]!;
          for (let k = 0; k < s.content; k++) {
            const t = win.start + k;
            const tok = e.tokens[t];
            const nearEdge = (win.start > 0 && k < zone) || (win.end < e.tokens.length && k >= s.content - zone);
            const id = nearEdge ? 0 : tok === 'John' ? 1 : tok === 'Smith' ? 2 : 0;
            logits[(r * seqLen + 1 + k) * w + id] = 10;
          }
        });
        collectWindowProbs(batch, logits, seqLen, w, 1, probs);
      }
      const spans = decodePrepared(prep, 0, probs, LABELS);
      const expected: number[] = [];
      for (let i = text.indexOf('John'); i >= 0; i = text.indexOf('John', i + 1)) expected.push(i);
      expect(spans.map((s) => [s.start, text.slice(s.start, s.end)])).toEqual(expected.map((i) => [i, 'John Smith']));
      if (windowTokens < 254) expect(prep.windows.length).toBeGreaterThan(10);
    }
  });

  it('joins name parts and address pieces, not separate names', () => {
    const sp = (start: number, end: number, type: 'PERSON' | 'ADDRESS' = 'PERSON') => ({ start, end, type, score: 0.8, source: 'ner' as const });
    const t1 = 'José María García';
    expect(joinAdjacent(t1, [sp(0, 4), sp(5, 10), sp(11, 17)]).map((s) => t1.slice(s.start, s.end))).toEqual(['José María García']);
    const t2 = 'John, Mary';
    expect(joinAdjacent(t2, [sp(0, 4), sp(6, 10)])).toHaveLength(2);
    const t3 = '221B Baker Street,\nLondon';
    expect(joinAdjacent(t3, [sp(0, 17, 'ADDRESS'), sp(19, 25, 'ADDRESS')]).map((s) => t3.slice(s.start, s.end))).toEqual([t3]);
    expect(cleanSpan("Siobhán O'Connor", 10, 16)).toEqual([8, 16]);
    expect(cleanSpan('Mohammed Al-Farsi', 9, 11)).toEqual([9, 17]);
    expect(cleanSpan("John's car", 0, 4)).toEqual([0, 4]);
    expect(cleanSpan('Berlin-based', 0, 6)).toEqual([0, 6]);
  });
});
