/**
 * Cutting long texts into overlapping character segments, and putting the spans found in each
 * segment back together. Lets the NER scheduler interleave work from different requests (a
 * small request never waits behind all of a huge one) and spread one text over several
 * workers. Linear in the text; pure; Workers-safe.
 */
import { resolveSpans } from '../resolve.js';
import type { Span } from '../types.js';

export interface Segment {
  readonly start: number;
  readonly end: number;
}

export const DEFAULT_SEGMENT_CHARS = 2000;
export const DEFAULT_SEGMENT_OVERLAP = 200;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Segments of at most `maxChars` covering `text`, consecutive ones sharing ≈ `overlap`
 * characters. Ends are moved back to a whitespace when one is near (never cutting a word when
 * it can be helped, nor a surrogate pair). A text that fits is one segment.
 */
export function segmentText(text: string, maxChars = DEFAULT_SEGMENT_CHARS, overlap = DEFAULT_SEGMENT_OVERLAP): Segment[] {
  const n = text.length;
  if (n <= maxChars) return [{ start: 0, end: n }];
  const ov = Math.max(0, Math.min(overlap, Math.floor(maxChars / 4)));
  const out: Segment[] = [];
  let s = 0;
  for (;;) {
    let e = Math.min(n, s + maxChars);
    if (e < n) {
      let k = e;
      while (k > e - ov && k > s + 1 && !isSpace(text.charCodeAt(k))) k--;
      if (isSpace(text.charCodeAt(k))) e = k;
      else if (isLowSurrogate(text.charCodeAt(e))) e--;
    }
    out.push({ start: s, end: e });
    if (e >= n) return out;
    let next = Math.max(s + 1, e - ov);
    let k = next;
    while (k < e - 1 && k < next + ov / 2 && !isSpace(text.charCodeAt(k - 1))) k++;
    if (isSpace(text.charCodeAt(k - 1))) next = k;
    else if (isLowSurrogate(text.charCodeAt(next))) next--;
    s = next;
  }
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * Spans of the whole text from spans of each segment (offsets relative to their segment).
 * Each segment owns the characters up to the middle of its overlap with the next one; a span
 * is kept by the segment owning its start. What is left is resolved by the one overlap rule
 * (src/detect/resolve.ts): sorted and overlap-free.
 */
export function joinSegmentSpans(segments: readonly Segment[], spans: readonly (readonly Span[])[]): Span[] {
  if (segments.length === 1) return [...spans[0]!];
  const all: Span[] = [];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const prev = segments[i - 1];
    const next = segments[i + 1];
    const from = prev ? Math.floor((seg.start + prev.end) / 2) : 0;
    const to = next ? Math.floor((next.start + seg.end) / 2) : Number.POSITIVE_INFINITY;
    for (const s of spans[i]!) {
      const start = s.start + seg.start;
      if (start < from || start >= to) continue;
      all.push({ ...s, start, end: s.end + seg.start });
    }
  }
  return resolveSpans(undefined, all);
}
