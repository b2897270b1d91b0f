/**
 * Front coding for the compiled word lists: words sorted, each written as one character for
 * the length of the prefix it shares with the previous word (0–9, then a–z for 10–35) followed
 * by the rest, separated by spaces. Decoding is one linear pass. Pure; Workers-safe.
 */
const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

export function frontEncode(words: readonly string[]): string {
  const sorted = [...new Set(words)].sort();
  let prev = '';
  const out: string[] = [];
  for (const w of sorted) {
    let k = 0;
    const max = Math.min(prev.length, w.length, DIGITS.length - 1);
    while (k < max && prev[k] === w[k]) k++;
    out.push(DIGITS[k] + w.slice(k));
    prev = w;
  }
  return out.join(' ');
}

export function frontDecode(data: string): Set<string> {
  const out = new Set<string>();
  let prev = '';
  for (const line of data.split(' ')) {
    if (line.length === 0) continue;
    const k = DIGITS.indexOf(line[0]!);
    prev = prev.slice(0, k < 0 ? 0 : k) + line.slice(1);
    out.add(prev);
  }
  return out;
}
