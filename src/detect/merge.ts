import type { EntityType } from '../core/types.js';
import type { Span } from './types.js';

/**
 * Merging spans from several detectors into one sorted, non-overlapping list. Pure function.
 *
 * Rules, in order:
 *  1. Spans are clipped to the text (when it is given) and empty ones dropped.
 *  2. Pattern spans (source 'pattern') are validated matches; they are kept first. Where
 *     pattern spans from different lists overlap, the higher score wins, then the higher
 *     `priority` of the type, then the longer, then the earlier. Identical spans count once.
 *  3. Each NER span is compared with the kept pattern spans. If pattern spans cover more than
 *     half of it, the NER span is dropped (e.g. a PERSON inside an EMAIL). Otherwise the parts
 *     covered by pattern spans are cut out and what remains is kept, trimmed of surrounding
 *     whitespace and punctuation when the text is given (e.g. an ADDRESS holding a PHONE keeps
 *     its address parts; a piece with no letter or digit left is dropped).
 *  4. Between NER spans (after step 3), the higher score wins, then the longer, then the higher
 *     `priority` of the type, then the earlier.
 *  The result is sorted by start; spans never overlap.
 */
export type MergePriority = Partial<Record<EntityType, number>>;

/** Sorted, non-overlapping half-open intervals with O(log n) overlap checks. */
class IntervalSet {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  /** Index of the first interval whose end is > pos. */
  private firstEndingAfter(pos: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! > pos) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  overlaps(start: number, end: number): boolean {
    const i = this.firstEndingAfter(start);
    return i < this.starts.length && this.starts[i]! < end;
  }

  add(start: number, end: number): void {
    const i = this.firstEndingAfter(start);
    this.starts.splice(i, 0, start);
    this.ends.splice(i, 0, end);
  }

  /** Intervals intersecting [start, end), in order. */
  intersecting(start: number, end: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = this.firstEndingAfter(start); i < this.starts.length && this.starts[i]! < end; i++) {
      out.push([this.starts[i]!, this.ends[i]!]);
    }
    return out;
  }
}

const TRIM = /[\s\p{P}\p{S}]/u;
const HAS_WORD = /[\p{L}\p{N}]/u;

function trimPiece(text: string | undefined, start: number, end: number): [number, number] | null {
  if (text === undefined) return end > start ? [start, end] : null;
  while (start < end && TRIM.test(text[start]!)) start++;
  while (end > start && TRIM.test(text[end - 1]!)) end--;
  if (end <= start || !HAS_WORD.test(text.slice(start, end))) return null;
  return [start, end];
}

export function mergeSpans(
  lists: readonly (readonly Span[])[],
  priority: MergePriority = {},
  text?: string,
): Span[] {
  const prio = (s: Span) => priority[s.type] ?? 0;
  const limit = text === undefined ? Number.POSITIVE_INFINITY : text.length;
  const patterns: Span[] = [];
  const ner: Span[] = [];
  for (const list of lists) {
    for (const s of list) {
      const start = Math.max(0, s.start);
      const end = Math.min(limit, s.end);
      if (!(end > start)) continue;
      const c = start === s.start && end === s.end ? s : { ...s, start, end };
      (c.source === 'pattern' ? patterns : ner).push(c);
    }
  }

  // 2. pattern spans
  patterns.sort(
    (a, b) => b.score - a.score || prio(b) - prio(a) || b.end - b.start - (a.end - a.start) || a.start - b.start,
  );
  const patSet = new IntervalSet();
  const keptPatterns: Span[] = [];
  for (const s of patterns) {
    if (patSet.overlaps(s.start, s.end)) continue;
    patSet.add(s.start, s.end);
    keptPatterns.push(s);
  }

  // 3. cut NER spans by pattern spans
  const pieces: Span[] = [];
  for (const s of ner) {
    const hits = patSet.intersecting(s.start, s.end);
    if (hits.length === 0) {
      pieces.push(s);
      continue;
    }
    let covered = 0;
    for (const [a, b] of hits) covered += Math.min(b, s.end) - Math.max(a, s.start);
    if (covered * 2 > s.end - s.start) continue;
    let cursor = s.start;
    for (const [a, b] of [...hits, [s.end, s.end] as [number, number]]) {
      const piece = trimPiece(text, cursor, Math.min(a, s.end));
      if (piece) pieces.push({ ...s, start: piece[0], end: piece[1] });
      cursor = Math.max(cursor, b);
    }
  }

  // 4. NER against NER
  pieces.sort(
    (a, b) => b.score - a.score || b.end - b.start - (a.end - a.start) || prio(b) - prio(a) || a.start - b.start,
  );
  const out = keptPatterns;
  const nerSet = new IntervalSet();
  for (const s of pieces) {
    if (nerSet.overlaps(s.start, s.end)) continue;
    nerSet.add(s.start, s.end);
    out.push(s);
  }
  return out.sort((a, b) => a.start - b.start);
}
