/** Splits a string or byte array at the given cut points (any order, clamped, duplicates ignored). */
export function splitAt<T extends string | Uint8Array>(s: T, cuts: readonly number[]): T[] {
  const out: T[] = [];
  let last = 0;
  for (const c of [...new Set(cuts.map((x) => Math.min(Math.max(0, x), s.length)))].sort((a, b) => a - b)) {
    out.push(s.slice(last, c) as T);
    last = c;
  }
  out.push(s.slice(last) as T);
  return out;
}
