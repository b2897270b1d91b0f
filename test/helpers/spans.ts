/** Test assertion for a detector's (or the resolver's) contract: spans sorted, disjoint, non-empty, inside the text. */
import { expect } from 'vitest';
import type { Span } from '../../src/detect/types.js';

export function expectWellFormed(text: string, spans: readonly Span[]): void {
  let prevEnd = 0;
  for (const s of spans) {
    expect(s.start).toBeGreaterThanOrEqual(prevEnd);
    expect(s.end).toBeGreaterThan(s.start);
    expect(s.end).toBeLessThanOrEqual(text.length);
    prevEnd = s.end;
  }
}
