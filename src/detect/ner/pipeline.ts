/**
 * The pure NER pipeline around a model call: align tokens, cut windows, build padded batches,
 * merge window predictions and decode spans. The caller supplies the tokenizer output and runs
 * the model (Node worker, or any runtime with an ONNX backend). Pure; Workers-safe.
 */
import type { Span } from '../types.js';
import { type AlignOptions, type AlignedToken, alignTokens, pieceText } from './align.js';
import { type Window, assignTokensToWindows, planWindows } from './chunk.js';
import { type DecodeOptions, decodeSpans, softmaxRows } from './decode.js';
import type { ResolvedLabel } from './labels.js';

export interface PreparedText {
  readonly text: string;
  readonly ids: readonly number[];
  readonly tokens: readonly AlignedToken[];
  readonly windows: readonly Window[];
}

export interface PrepareOptions extends AlignOptions {
  readonly windowTokens?: number;
  readonly overlap?: number;
}

export function prepareText(
  text: string,
  encoding: { readonly ids: readonly number[]; readonly tokens: readonly string[] },
  opts: PrepareOptions = {},
): PreparedText {
  const tokens = alignTokens(text, encoding.tokens, opts);
  const scheme = opts.scheme ?? { kind: 'wordpiece' as const };
  const wordStart = encoding.tokens.map((t) => !pieceText(t, scheme).continues);
  const windows =
    encoding.ids.length === 0
      ? []
      : planWindows(encoding.ids.length, {
          ...(opts.windowTokens !== undefined ? { maxTokens: opts.windowTokens } : {}),
          ...(opts.overlap !== undefined ? { overlap: opts.overlap } : {}),
          wordStart,
        });
  return { text, ids: encoding.ids, tokens, windows };
}

/** One model input row: `prefix ids[start..end) suffix`, e.g. `[CLS] … [SEP]`. */
export interface Sequence {
  readonly text: number;
  readonly window: number;
  readonly ids: readonly number[];
  /** number of content tokens (ids minus the special tokens) */
  readonly content: number;
}

export function sequencesOf(
  prepared: readonly PreparedText[],
  prefix: readonly number[],
  suffix: readonly number[],
): Sequence[] {
  const out: Sequence[] = [];
  prepared.forEach((p, ti) =>
    p.windows.forEach((w, wi) => {
      const ids: number[] = [...prefix];
      for (let i = w.start; i < w.end; i++) ids.push(p.ids[i]!);
      ids.push(...suffix);
      out.push({ text: ti, window: wi, ids, content: w.end - w.start });
    }),
  );
  return out;
}

/** Groups sequences into batches of ≤ maxBatch, similar lengths together (less padding). */
export function batchSequences(seqs: readonly Sequence[], maxBatch: number): Sequence[][] {
  const sorted = [...seqs].sort((a, b) => a.ids.length - b.ids.length);
  const out: Sequence[][] = [];
  for (let i = 0; i < sorted.length; i += Math.max(1, maxBatch)) out.push(sorted.slice(i, i + Math.max(1, maxBatch)));
  return out;
}

/** Right-padded int64 inputs for one batch. */
export function padBatch(batch: readonly Sequence[], padId: number): { inputIds: BigInt64Array; attentionMask: BigInt64Array; seqLen: number } {
  const seqLen = Math.max(...batch.map((s) => s.ids.length));
  const inputIds = new BigInt64Array(batch.length * seqLen).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(batch.length * seqLen);
  batch.forEach((s, r) => {
    for (let i = 0; i < s.ids.length; i++) {
      inputIds[r * seqLen + i] = BigInt(s.ids[i]!);
      attentionMask[r * seqLen + i] = 1n;
    }
  });
  return { inputIds, attentionMask, seqLen };
}

/**
 * Collects the logits of one batch (`[batch, seqLen, width]`) into per-window content-token
 * probabilities (special-token rows dropped, softmax applied).
 */
export function collectWindowProbs(
  batch: readonly Sequence[],
  logits: Float32Array,
  seqLen: number,
  width: number,
  prefixLen: number,
  into: Map<string, Float32Array>,
): void {
  batch.forEach((s, r) => {
    const start = (r * seqLen + prefixLen) * width;
    const p = logits.slice(start, start + s.content * width);
    into.set(`${s.text}:${s.window}`, softmaxRows(p, width));
  });
}

/** Merges window predictions of one text into one row per token and decodes spans. */
export function decodePrepared(
  p: PreparedText,
  textIndex: number,
  windowProbs: ReadonlyMap<string, Float32Array>,
  labels: readonly ResolvedLabel[],
  opts: DecodeOptions = {},
): Span[] {
  const n = p.tokens.length;
  if (n === 0) return [];
  const width = labels.length;
  const { window, offset } = assignTokensToWindows(n, p.windows);
  const probs = new Float32Array(n * width);
  for (let t = 0; t < n; t++) {
    const wp = windowProbs.get(`${textIndex}:${window[t]}`);
    if (!wp) throw new Error('NER window prediction missing');
    probs.set(wp.subarray(offset[t]! * width, (offset[t]! + 1) * width), t * width);
  }
  return decodeSpans(p.text, p.tokens, probs, labels, opts);
}
