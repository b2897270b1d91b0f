/**
 * The RAG primitives any vector database can use (issue 13), on the gateway's own sanitize and
 * restore core — no second masking implementation:
 * - {@link sanitizeTexts}: texts → sanitized texts with the tenant's stable placeholders (the
 *   same value gets the same placeholder in documents and in queries), plus every placeholder
 *   in each sanitized text (type, placeholder, UTF-16 offsets into the sanitized text).
 * - {@link restoreTexts}: texts holding placeholders → restored as the caller's role allows.
 *   It runs `sanitizeRequest` with a detector that finds nothing, so placeholders are resolved,
 *   filtered by role and (with the audit trail) audited exactly as chat restores them, and no
 *   new placeholder is minted for text that merely passes through.
 * Pure over its services; no I/O of its own; Workers-safe.
 */
import type { EntityType, RequestContext } from '../core/types.js';
import type { Detector } from '../detect/types.js';
import { type MaskServices, sanitizeRequest } from '../sanitize/sanitize.js';
import { findPlaceholders, tokenType } from '../core/token.js';

export interface Entity {
  readonly type: EntityType;
  readonly placeholder: string;
  /** UTF-16 offsets of the placeholder in the sanitized text, `[start, end)`. */
  readonly start: number;
  readonly end: number;
}

export interface SanitizedText {
  readonly text: string;
  readonly entities: Entity[];
}

export interface SanitizeTextsResult {
  readonly items: SanitizedText[];
  readonly counts: Partial<Record<EntityType, number>>;
}

/** Entities of a sanitized text: every strict placeholder in it, in order. Linear in the text. */
export function entitiesOf(text: string): Entity[] {
  return findPlaceholders(text).map((p) => ({ type: tokenType(p.token), placeholder: text.slice(p.start, p.end), start: p.start, end: p.end }));
}

/** Sanitizes a batch of texts as an embeddings input is sanitized (nothing is decrypted). */
export async function sanitizeTexts(texts: readonly string[], services: MaskServices, ctx: RequestContext): Promise<SanitizeTextsResult> {
  if (texts.length === 0) return { items: [], counts: {} };
  const s = await sanitizeRequest('embeddings', { input: [...texts] }, services, ctx);
  const out = s.body.input;
  return { items: out.map((text) => ({ text, entities: entitiesOf(text) })), counts: s.counts };
}

/** A detector that finds nothing: restoring must never mint placeholders for passing text. */
const nothingFound: Detector = {
  name: 'none',
  detect: async (texts) => texts.map(() => []),
};

/**
 * Restores the placeholders in `texts` as `ctx.principal.role` may see them (value, partial
 * mask, or left as a placeholder), through the chat restore path. Placeholders of another
 * tenant, unknown ones and everything else are left exactly as written.
 */
export async function restoreTexts(texts: readonly string[], services: MaskServices, ctx: RequestContext): Promise<string[]> {
  if (texts.every((t) => t.length === 0)) return [...texts];
  const s = await sanitizeRequest('completions', { prompt: [...texts] }, { ...services, detector: nothingFound }, ctx);
  // With an audit trail, restore nothing until the restore event is committed.
  if (s.audited) await s.audited;
  return texts.map((t) => s.restorer.restore(t));
}
