/**
 * The one overlap resolver: from any spans of one text (from any detector, in any order) to a
 * sorted, non-overlapping list. Every place that needs disjoint spans calls it — the pattern
 * families (patterns/index.ts), the model decoder and its segments (ner/), the composite
 * detector, the name passes (names/refine.ts) and sanitize, which re-checks whatever detector
 * it was given. Pure; Workers-safe.
 *
 * The rule, in order:
 *  1. Spans are clipped to the text (when it is given); empty ones are dropped.
 *  2. Placeholders already in the text (`[PERSON_7QX2M4AB]`, as {@link findPlaceholders} finds
 *     them) always win: a span touching one is cut around it (what is outside is still masked:
 *     `Maria [PERSON_…] Gonzalez`; a match wholly inside a placeholder is gone).
 *  3. Overlapping model spans of one type are one entity: they are united (highest score).
 *  4. The rest is decided by strength, strongest first: a validated pattern span before a model
 *     span, then the higher `rank` of its type in the entity table (src/core/entities.ts), then
 *     the higher score, then the longer, then the earlier, then the type name. A span that
 *     overlaps nothing kept is kept. One that overlaps a kept span is dropped — except a model
 *     span overlapped only by pattern spans that cover at most half of it, which keeps its
 *     parts outside them (an ADDRESS holding a PHONE keeps its address parts).
 * Parts of a cut span are trimmed of whitespace and punctuation at their edges when the text is
 * given, and dropped when no letter or digit is left.
 *
 * So the output is a subset of the input (each output span lies inside input spans of its type
 * and source), never touches a placeholder, does not depend on the order of the input, and
 * resolving it again changes nothing (resolve.test.ts checks each with fast-check). Cost:
 * O(n log n) plus, inside each group of spans that overlap one another, O(group²) at worst.
 *
 * Also here, for span lists: {@link joinRuns}, the one way to join neighbouring spans of one
 * type, and {@link firstEndingAfter}, the binary search over sorted spans.
 */
import { ENTITIES } from '../core/entities.js';
import { findPlaceholders } from '../core/token.js';
import type { Span } from './types.js';

type Range = readonly [number, number];

const TRIM = /[\s\p{P}\p{S}]/u;
const HAS_WORD = /[\p{L}\p{N}]/u;

/** `[start, end)` trimmed of whitespace and punctuation at its edges; null when no letter or digit is left. */
function trimPiece(text: string | undefined, start: number, end: number): Range | null {
  if (text === undefined) return end > start ? [start, end] : null;
  while (start < end && TRIM.test(text[start]!)) start++;
  while (end > start && TRIM.test(text[end - 1]!)) end--;
  if (end <= start || !HAS_WORD.test(text.slice(start, end))) return null;
  return [start, end];
}

/** The parts of `s` outside `holes` (sorted, disjoint, each intersecting `s`), trimmed. */
function cut(text: string | undefined, s: Span, holes: readonly Range[], out: Span[]): void {
  let cursor = s.start;
  for (const [a, b] of [...holes, [s.end, s.end] as const]) {
    const piece = trimPiece(text, cursor, Math.min(a, s.end));
    if (piece) out.push({ ...s, start: piece[0], end: piece[1] });
    cursor = Math.max(cursor, b);
  }
}

const byStart = (a: Span, b: Span) => a.start - b.start || b.end - a.end;

/** Strongest first (rule 4); a total order on distinct spans. */
function stronger(a: Span, b: Span): number {
  return (
    (a.source === 'pattern' ? 0 : 1) - (b.source === 'pattern' ? 0 : 1) ||
    ENTITIES[b.type].rank - ENTITIES[a.type].rank ||
    b.score - a.score ||
    b.end - b.start - (a.end - a.start) ||
    a.start - b.start ||
    (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)
  );
}

/** Rule 2: spans sorted by start, placeholders sorted and disjoint. */
function aroundPlaceholders(text: string, spans: Span[], ph: readonly { start: number; end: number }[]): Span[] {
  spans.sort(byStart);
  const out: Span[] = [];
  let k = 0; // first placeholder ending after the current span's start (starts only grow)
  for (const s of spans) {
    while (k < ph.length && ph[k]!.end <= s.start) k++;
    if (k >= ph.length || ph[k]!.start >= s.end) {
      out.push(s);
      continue;
    }
    const holes: Range[] = [];
    for (let j = k; j < ph.length && ph[j]!.start < s.end; j++) holes.push([ph[j]!.start, ph[j]!.end]);
    cut(text, s, holes, out);
  }
  return out;
}

/** Rule 3: overlapping model spans of one type become one. */
function uniteModelSpans(spans: Span[]): Span[] {
  const ner = spans.filter((s) => s.source === 'ner');
  if (ner.length < 2) return spans;
  ner.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) || a.start - b.start);
  const out = spans.filter((s) => s.source !== 'ner');
  for (const s of ner) {
    const last = out.length > 0 ? out[out.length - 1]! : undefined;
    if (last && last.source === 'ner' && last.type === s.type && s.start < last.end) {
      if (s.end > last.end || s.score > last.score) out[out.length - 1] = { ...last, end: Math.max(last.end, s.end), score: Math.max(last.score, s.score) };
    } else out.push(s);
  }
  return out;
}

/**
 * In `items` sorted by end (sorted, disjoint spans or word tokens), the index of the first one
 * ending after `pos` (`items.length` when none does). Binary search.
 */
export function firstEndingAfter<T>(items: readonly T[], pos: number, end: (item: T) => number = (i) => (i as { end: number }).end): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (end(items[mid]!) > pos) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Sorted, non-overlapping intervals with O(log n) lookups. */
class Kept {
  private readonly spans: Span[] = [];

  intersecting(start: number, end: number): Span[] {
    const out: Span[] = [];
    for (let i = firstEndingAfter(this.spans, start); i < this.spans.length && this.spans[i]!.start < end; i++) out.push(this.spans[i]!);
    return out;
  }

  add(s: Span): void {
    this.spans.splice(firstEndingAfter(this.spans, s.start), 0, s);
  }

  list(): Span[] {
    return this.spans;
  }
}

/** Rule 4 for one group of spans that overlap one another. */
function resolveGroup(text: string | undefined, group: Span[]): Span[] {
  group.sort(stronger);
  const kept = new Kept();
  for (const s of group) {
    const hits = kept.intersecting(s.start, s.end);
    if (hits.length === 0) {
      kept.add(s);
      continue;
    }
    if (s.source === 'pattern' || hits.some((h) => h.source !== 'pattern')) continue;
    let covered = 0;
    for (const h of hits) covered += Math.min(h.end, s.end) - Math.max(h.start, s.start);
    if (covered * 2 > s.end - s.start) continue;
    const pieces: Span[] = [];
    cut(
      text,
      s,
      hits.map((h) => [h.start, h.end] as const),
      pieces,
    );
    for (const p of pieces) kept.add(p);
  }
  return kept.list();
}

/** Resolves the spans of one text by the rule above (`text` may be omitted: no clipping, placeholders or trimming). */
export function resolveSpans(text: string | undefined, spans: readonly Span[]): Span[] {
  const limit = text === undefined ? Number.POSITIVE_INFINITY : text.length;
  let list: Span[] = [];
  for (const s of spans) {
    const start = Math.max(0, s.start);
    const end = Math.min(limit, s.end);
    if (end > start) list.push(start === s.start && end === s.end ? s : { ...s, start, end });
  }
  if (text !== undefined && list.length > 0 && text.includes('[')) {
    const ph = findPlaceholders(text);
    if (ph.length > 0) list = aroundPlaceholders(text, list, ph);
  }
  list = uniteModelSpans(list);
  list.sort(byStart);
  const out: Span[] = [];
  for (let i = 0; i < list.length; ) {
    let j = i + 1;
    let groupEnd = list[i]!.end;
    while (j < list.length && list[j]!.start < groupEnd) groupEnd = Math.max(groupEnd, list[j++]!.end);
    if (j === i + 1) out.push(list[i]!);
    else for (const s of resolveGroup(text, list.slice(i, j))) out.push(s);
    i = j;
  }
  return out;
}

/**
 * Joins consecutive spans of one type (sorted, disjoint) into one where `joinable` accepts the
 * pair (the gap between them is the caller's rule), scored by `score`; every other span passes
 * as it is. Joining never creates an overlap.
 */
export function joinRuns(spans: readonly Span[], joinable: (prev: Span, next: Span) => boolean, score: (prev: Span, next: Span) => number): Span[] {
  const out: Span[] = [];
  for (const s of spans) {
    const prev = out.at(-1);
    if (prev && prev.type === s.type && s.start >= prev.end && joinable(prev, s)) out[out.length - 1] = { ...prev, end: s.end, score: score(prev, s) };
    else out.push(s);
  }
  return out;
}
