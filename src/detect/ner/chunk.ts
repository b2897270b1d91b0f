/**
 * Splitting a long token sequence into overlapping model windows, and choosing, for every
 * token, the window whose prediction to keep (the one where the token is furthest from a
 * window edge that is not also an edge of the text). Pure; Workers-safe.
 */

export interface Window {
  /** token index range [start, end) into the text's content tokens (no special tokens) */
  readonly start: number;
  readonly end: number;
}

export interface WindowOptions {
  /** content tokens per window (the model adds [CLS] and [SEP]); default 254 */
  readonly maxTokens?: number;
  /** tokens shared by consecutive windows; default 32 */
  readonly overlap?: number;
  /** `wordStart[i]` is true when token i begins a word; windows then start and end on word boundaries when they can */
  readonly wordStart?: readonly boolean[];
}

export const DEFAULT_WINDOW_TOKENS = 254;
export const DEFAULT_WINDOW_OVERLAP = 32;

export function planWindows(n: number, opts: WindowOptions = {}): Window[] {
  const max = Math.max(1, opts.maxTokens ?? DEFAULT_WINDOW_TOKENS);
  const overlap = Math.min(Math.max(0, opts.overlap ?? DEFAULT_WINDOW_OVERLAP), Math.floor(max / 2));
  const ws = opts.wordStart;
  if (n <= max) return [{ start: 0, end: n }];
  const out: Window[] = [];
  let s = 0;
  const slack = Math.floor(overlap / 2);
  for (;;) {
    let e = Math.min(n, s + max);
    if (e < n && ws) {
      // end before a word start (so no word is cut), giving back at most `slack` tokens
      let k = e;
      while (k > e - slack && k > s + 1 && !ws[k]) k--;
      if (ws[k]) e = k;
    }
    out.push({ start: s, end: e });
    if (e >= n) break;
    let next = Math.max(s + 1, e - overlap);
    if (ws) {
      let k = next;
      while (k < e - 1 && k < next + slack && !ws[k]) k++;
      if (ws[k]) next = k;
    }
    s = next;
  }
  return out;
}

/**
 * For each token, the index of the window whose prediction is kept and the token's position
 * inside it: the window maximizing the distance to its inner edges.
 */
export function assignTokensToWindows(n: number, windows: readonly Window[]): { window: Int32Array; offset: Int32Array } {
  const window = new Int32Array(n).fill(-1);
  const offset = new Int32Array(n);
  const best = new Float64Array(n).fill(-1);
  windows.forEach((w, wi) => {
    for (let t = w.start; t < w.end; t++) {
      const left = w.start === 0 ? Infinity : t - w.start;
      const right = w.end === n ? Infinity : w.end - 1 - t;
      const d = Math.min(left, right);
      if (d > best[t]!) {
        best[t] = d;
        window[t] = wi;
        offset[t] = t - w.start;
      }
    }
  });
  return { window, offset };
}
