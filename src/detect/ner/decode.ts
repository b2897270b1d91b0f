/**
 * From per-token class probabilities to entity spans: word-level BIO decoding (the label of a
 * word is read from its first piece), per-entity scores, span clean-up (an entity never ends
 * inside a word; no surrounding spaces or stray punctuation) and per-type thresholds; overlaps
 * by the one rule of src/detect/resolve.ts. Pure; Workers-safe.
 */
import type { EntityType } from '../../core/types.js';
import { joinRuns, resolveSpans } from '../resolve.js';
import type { Span } from '../types.js';
import type { AlignedToken } from './align.js';
import type { ResolvedLabel } from './labels.js';

export type MinScore = number | Partial<Record<EntityType, number>>;

export function scoreThreshold(min: MinScore | undefined, type: EntityType, fallback = 0.5): number {
  if (min === undefined) return fallback;
  if (typeof min === 'number') return min;
  return min[type] ?? fallback;
}

/** In-place softmax over rows of `width` values. */
export function softmaxRows(logits: Float32Array, width: number): Float32Array {
  for (let r = 0; r + width <= logits.length; r += width) {
    let max = -Infinity;
    for (let j = 0; j < width; j++) max = Math.max(max, logits[r + j]!);
    let sum = 0;
    for (let j = 0; j < width; j++) {
      const e = Math.exp(logits[r + j]! - max);
      logits[r + j] = e;
      sum += e;
    }
    for (let j = 0; j < width; j++) logits[r + j] = logits[r + j]! / sum;
  }
  return logits;
}

const WORD_CHAR = /[\p{L}\p{M}\p{N}]/u;
const JOINER = /^[-\u2010\u2011'\u2019]$/u;
const TRIM_LEAD = /[\s\p{P}\p{S}]/u;
const TRIM_TRAIL = /[\s,;:!?"'`«»“”‘’\-–—/\\|*_~]/u;

function charBefore(text: string, i: number): string {
  if (i <= 0) return '';
  const c = text.charCodeAt(i - 1);
  if (c >= 0xdc00 && c <= 0xdfff && i >= 2) {
    const h = text.charCodeAt(i - 2);
    if (h >= 0xd800 && h <= 0xdbff) return text.slice(i - 2, i);
  }
  return text.slice(i - 1, i);
}

function charAt(text: string, i: number): string {
  if (i >= text.length) return '';
  return String.fromCodePoint(text.codePointAt(i)!);
}

/**
 * Grows `[start, end)` to whole words and trims whitespace / punctuation at the edges.
 * Returns null when nothing is left.
 */
export function cleanSpan(text: string, start: number, end: number): [number, number] | null {
  let s = start;
  let e = end;
  // whole words: extend over adjacent letters, marks and digits, and across a hyphen or
  // apostrophe that joins capitalized name parts ("Al-Farsi", "O'Connor"; not "John's")
  for (;;) {
    while (s > 0 && WORD_CHAR.test(charBefore(text, s))) s -= charBefore(text, s).length;
    const j = charBefore(text, s);
    if (JOINER.test(j) && s >= 2 && /\p{Lu}/u.test(charBefore(text, s - 1)) && !WORD_CHAR.test(charBefore(text, s - 2))) {
      s -= 2; // "O'" / "D'" style prefix
      continue;
    }
    if (JOINER.test(j) && s >= 2 && /-/.test(j) && /\p{L}/u.test(charBefore(text, s - 1)) && /\p{Lu}/u.test(charAt(text, s))) {
      s -= 1;
      continue;
    }
    break;
  }
  for (;;) {
    while (e < text.length && WORD_CHAR.test(charAt(text, e))) e += charAt(text, e).length;
    const j = charAt(text, e);
    if (JOINER.test(j) && /\p{Lu}/u.test(charAt(text, e + 1)) && e > s) {
      e += 1;
      continue;
    }
    break;
  }
  for (;;) {
    const before = [s, e];
    while (s < e && TRIM_LEAD.test(charAt(text, s))) s += charAt(text, s).length;
    while (e > s && TRIM_TRAIL.test(charBefore(text, e))) e -= charBefore(text, e).length;
    // a trailing period stays only after a short abbreviation or initial ("St.", "Jr.", "J.")
    if (e > s && text[e - 1] === '.') {
      let k = e - 1;
      while (k > s && WORD_CHAR.test(charBefore(text, k))) k -= charBefore(text, k).length;
      const wordLen = e - 1 - k;
      if (wordLen === 0 || wordLen > 3) e -= 1;
    }
    // an unbalanced closing bracket goes
    const last = text[e - 1];
    if (e > s && (last === ')' || last === ']' || last === '}')) {
      const open = last === ')' ? '(' : last === ']' ? '[' : '{';
      if (!text.slice(s, e - 1).includes(open)) e -= 1;
    }
    if (before[0] === s && before[1] === e) break;
  }
  return e > s ? [s, e] : null;
}

interface Word {
  start: number;
  end: number;
  /** token index whose prediction labels the word */
  head: number;
}

function groupWords(tokens: readonly AlignedToken[]): Word[] {
  const words: Word[] = [];
  let cur: Word | null = null;
  let curId = -1;
  tokens.forEach((t, i) => {
    if (t.word !== curId) {
      if (cur) words.push(cur);
      cur = null;
      curId = t.word;
    }
    if (!t.aligned) return;
    if (!cur) cur = { start: t.start, end: t.end, head: i };
    else {
      cur.start = Math.min(cur.start, t.start);
      cur.end = Math.max(cur.end, t.end);
    }
  });
  if (cur) words.push(cur);
  return words;
}

export interface DecodeOptions {
  readonly minScore?: MinScore;
  /** score of a word: probability mass of the chosen type (B + I); entity score aggregates words */
  readonly aggregate?: 'mean' | 'min';
}

/**
 * Decodes entity spans for one text. `probs` holds `tokens.length` rows of `labels.length`
 * softmax probabilities, in token order. Spans are sorted and non-overlapping.
 */
export function decodeSpans(
  text: string,
  tokens: readonly AlignedToken[],
  probs: Float32Array,
  labels: readonly ResolvedLabel[],
  opts: DecodeOptions = {},
): Span[] {
  const width = labels.length;
  const types = [...new Set(labels.map((l) => l.type).filter((t): t is EntityType => t !== null))];
  const words = groupWords(tokens);
  type Open = { type: EntityType; start: number; end: number; scores: number[] };
  const found: Open[] = [];
  let open: Open | null = null;
  const close = () => {
    if (open) found.push(open);
    open = null;
  };
  for (const w of words) {
    const row = w.head * width;
    // per type: probability mass of B- and I-; O mass is everything unmapped
    let pO = 0;
    const massB = new Map<EntityType, number>();
    const massI = new Map<EntityType, number>();
    for (let j = 0; j < width; j++) {
      const p = probs[row + j] ?? 0;
      const l = labels[j]!;
      if (l.type === null) pO += p;
      else if (l.prefix === 'B') massB.set(l.type, (massB.get(l.type) ?? 0) + p);
      else massI.set(l.type, (massI.get(l.type) ?? 0) + p);
    }
    let bestType: EntityType | null = null;
    let bestMass = pO;
    for (const t of types) {
      const m = (massB.get(t) ?? 0) + (massI.get(t) ?? 0);
      if (m > bestMass) {
        bestMass = m;
        bestType = t;
      }
    }
    if (bestType === null) {
      close();
      continue;
    }
    const isBegin = (massB.get(bestType) ?? 0) >= (massI.get(bestType) ?? 0);
    const cur = open as Open | null;
    if (cur && cur.type === bestType && !isBegin) {
      cur.end = w.end;
      cur.scores.push(bestMass);
    } else {
      close();
      open = { type: bestType, start: w.start, end: w.end, scores: [bestMass] };
    }
  }
  close();

  const spans: Span[] = [];
  for (const o of found) {
    const score =
      opts.aggregate === 'min' ? Math.min(...o.scores) : o.scores.reduce((a, b) => a + b, 0) / o.scores.length;
    if (score < scoreThreshold(opts.minScore, o.type)) continue;
    const c = cleanSpan(text, o.start, o.end);
    if (!c) continue;
    spans.push({ start: c[0], end: c[1], type: o.type, score, source: 'ner' });
  }
  return joinAdjacent(text, resolveSpans(text, spans));
}

/**
 * Joins consecutive spans of one type separated only by spaces ("José" "María" "García" →
 * one PERSON); ADDRESS pieces may also be separated by commas and line breaks.
 */
export function joinAdjacent(text: string, spans: readonly Span[]): Span[] {
  return joinRuns(
    spans,
    (prev, s) => (s.type === 'ADDRESS' ? /^[\s,]{0,4}$/ : /^[ \t]{0,2}$/).test(text.slice(prev.end, s.start)),
    (prev, s) => {
      const a = prev.end - prev.start;
      const b = s.end - s.start;
      return (prev.score * a + s.score * b) / (a + b);
    },
  );
}
