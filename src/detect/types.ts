import type { EntityType } from '../core/types.js';

/** A found value: half-open UTF-16 offsets `[start, end)` into the text it was found in. */
export interface Span {
  readonly start: number;
  readonly end: number;
  readonly type: EntityType;
  /** 0..1; validated patterns report 1. */
  readonly score: number;
  readonly source: 'pattern' | 'ner';
}

/**
 * Finds PII in a batch of texts. `detect(texts)[i]` are the spans of `texts[i]`, sorted by
 * start, non-overlapping. Implementations may run off the event loop; they must reject (never
 * resolve with partial results) when they cannot do their job, so callers can fail closed.
 */
export interface Detector {
  readonly name: string;
  detect(texts: readonly string[], signal?: AbortSignal): Promise<Span[][]>;
  /** Resolves when the detector is ready (model loaded); rejects with a clear error if it cannot be. */
  ready?(): Promise<void>;
  close?(): Promise<void>;
}
