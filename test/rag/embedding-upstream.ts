/**
 * Handler for the loopback upstream (test/fakes/upstream.ts) in the RAG tests: `/embeddings`
 * answered with a deterministic hashed bag-of-words vector (64 dims) of each input, so nearest
 * neighbours are meaningful; anything else is a 404.
 */
import type { Received } from '../fakes/upstream.js';

const DIMS = 64;
/** Deterministic embedding: hashed bag of lower-cased words (placeholders are words too). */
export function bagOfWords(text: string): number[] {
  const v: number[] = new Array<number>(DIMS).fill(0);
  for (const w of text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
    v[(h >>> 0) % DIMS]! += 1;
  }
  if (!v.some((x) => x !== 0)) v[0] = 1;
  return v;
}

export function embeddingUpstream(req: Received) {
  if (req.path !== '/embeddings') return { kind: 'json' as const, status: 404, body: { error: { message: 'no', type: 'invalid_request_error', param: null, code: null } } };
  const inputs: string[] = Array.isArray(req.body.input) ? req.body.input : [req.body.input];
  return {
    kind: 'json' as const,
    body: { object: 'list', data: inputs.map((t, index) => ({ object: 'embedding', index, embedding: bagOfWords(t) })), model: req.body.model, usage: { prompt_tokens: 1, total_tokens: 1 } },
  };
}

