/**
 * Scores: entity-level exact match (seqeval-style: a prediction counts only when start, end
 * and type all match a gold span) and token-level overlap (whitespace tokens covered by a
 * span of the type), per type and micro-averaged.
 */
import type { Doc } from './datasets.js';

export interface PredSpan {
  readonly start: number;
  readonly end: number;
  readonly type: string;
}

export interface Counts {
  tp: number;
  fp: number;
  fn: number;
}

export interface Prf {
  readonly p: number;
  readonly r: number;
  readonly f1: number;
  readonly support: number;
  readonly predicted: number;
}

export function prf(c: Counts): Prf {
  const p = c.tp + c.fp === 0 ? 0 : c.tp / (c.tp + c.fp);
  const r = c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn);
  const f1 = p + r === 0 ? 0 : (2 * p * r) / (p + r);
  return { p, r, f1, support: c.tp + c.fn, predicted: c.tp + c.fp };
}

const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }) => a.start < b.end && b.start < a.end;

/** Exact-match entity scores for the given types. Predictions overlapping an ignored gold span are skipped. */
export function entityScores(
  docs: readonly Doc[],
  preds: readonly (readonly PredSpan[])[],
  types: readonly string[],
  ignore: readonly string[] = [],
): Map<string, Prf> {
  const counts = new Map<string, Counts>(types.map((t) => [t, { tp: 0, fp: 0, fn: 0 }]));
  const all: Counts = { tp: 0, fp: 0, fn: 0 };
  docs.forEach((d, i) => {
    const gold = d.gold.filter((g) => types.includes(g.type));
    const ignored = d.gold.filter((g) => ignore.includes(g.type));
    const key = (s: PredSpan) => `${s.start}:${s.end}:${s.type}`;
    const goldKeys = new Set(gold.map(key));
    const predKeys = new Set<string>();
    for (const p of preds[i] ?? []) {
      if (!types.includes(p.type)) continue;
      if (!goldKeys.has(key(p)) && ignored.some((g) => overlaps(g, p))) continue;
      predKeys.add(key(p));
      const c = counts.get(p.type)!;
      if (goldKeys.has(key(p))) c.tp++;
      else c.fp++;
    }
    for (const g of gold) if (!predKeys.has(key(g))) counts.get(g.type)!.fn++;
  });
  const out = new Map<string, Prf>();
  for (const [t, c] of counts) {
    out.set(t, prf(c));
    all.tp += c.tp;
    all.fp += c.fp;
    all.fn += c.fn;
  }
  out.set('micro', prf(all));
  return out;
}

function tokens(text: string): { start: number; end: number }[] {
  return [...text.matchAll(/\S+/g)].map((m) => ({ start: m.index!, end: m.index! + m[0].length }));
}

/**
 * Token-level overlap scores: a whitespace token is gold-T when it overlaps a gold span of
 * type T, predicted-T when it overlaps a predicted span of type T. `ANY` scores "was this
 * token masked at all" over every scored type.
 */
export function tokenScores(docs: readonly Doc[], preds: readonly (readonly PredSpan[])[], types: readonly string[]): Map<string, Prf> {
  const counts = new Map<string, Counts>([...types, 'ANY'].map((t) => [t, { tp: 0, fp: 0, fn: 0 }]));
  docs.forEach((d, i) => {
    const gold = d.gold.filter((g) => types.includes(g.type));
    const pred = (preds[i] ?? []).filter((p) => types.includes(p.type));
    for (const tok of tokens(d.text)) {
      for (const t of [...types, 'ANY']) {
        const g = gold.some((s) => (t === 'ANY' || s.type === t) && overlaps(s, tok));
        const p = pred.some((s) => (t === 'ANY' || s.type === t) && overlaps(s, tok));
        const c = counts.get(t)!;
        if (g && p) c.tp++;
        else if (p) c.fp++;
        else if (g) c.fn++;
      }
    }
  });
  return new Map([...counts].map(([t, c]) => [t, prf(c)]));
}

/**
 * Span F1 at IoU ≥ `minIou` (0.5 by default), the metric of the published Presidio-set
 * comparisons: a prediction is a true positive when it has the same type as an unmatched gold
 * span and their character intersection-over-union is at least `minIou` (greedy one-to-one,
 * best IoU first). Predictions overlapping an ignored gold label are neither TP nor FP.
 */
export function iouScores(
  docs: readonly Doc[],
  preds: readonly (readonly PredSpan[])[],
  types: readonly string[],
  ignore: readonly string[] = [],
  minIou = 0.5,
): Map<string, Prf> {
  const counts = new Map<string, Counts>(types.map((t) => [t, { tp: 0, fp: 0, fn: 0 }]));
  const iou = (a: PredSpan, b: PredSpan) => {
    const inter = Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));
    return inter / (Math.max(a.end, b.end) - Math.min(a.start, b.start));
  };
  docs.forEach((d, i) => {
    const gold = d.gold.filter((g) => types.includes(g.type));
    const ignored = d.gold.filter((g) => ignore.includes(g.type));
    const pred = (preds[i] ?? []).filter((p) => types.includes(p.type));
    const pairs: { g: number; p: number; v: number }[] = [];
    gold.forEach((g, gi) =>
      pred.forEach((p, pi) => {
        if (g.type !== p.type) return;
        const v = iou(g, p);
        if (v >= minIou) pairs.push({ g: gi, p: pi, v });
      }),
    );
    pairs.sort((a, b) => b.v - a.v);
    const gUsed = new Set<number>();
    const pUsed = new Set<number>();
    for (const { g, p } of pairs) {
      if (gUsed.has(g) || pUsed.has(p)) continue;
      gUsed.add(g);
      pUsed.add(p);
      counts.get(gold[g]!.type)!.tp++;
    }
    gold.forEach((g, gi) => gUsed.has(gi) || counts.get(g.type)!.fn++);
    pred.forEach((p, pi) => {
      if (pUsed.has(pi)) return;
      if (gold.some((g) => overlaps(g, p) && g.type === p.type)) {
        counts.get(p.type)!.fp++;
        return;
      }
      if (ignored.some((g) => overlaps(g, p))) return;
      counts.get(p.type)!.fp++;
    });
  });
  const out = new Map<string, Prf>();
  const all: Counts = { tp: 0, fp: 0, fn: 0 };
  for (const [t, c] of counts) {
    out.set(t, prf(c));
    all.tp += c.tp;
    all.fp += c.fp;
    all.fn += c.fn;
  }
  out.set('micro', prf(all));
  return out;
}
