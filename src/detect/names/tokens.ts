/**
 * Word tokens for the name passes: runs of letters (with inner `'`, `’` or `-`), with a
 * possessive `'s` split off, casing flags and whether the word opens a sentence or a line.
 * Text inside Veil placeholders (`[PERSON_7QX2M4AB]`) yields no tokens. One linear pass
 * (the regex has no nested ambiguity); pure, Workers-safe.
 */
import { findPlaceholders } from '../../core/token.js';

export interface Tok {
  /** offsets of the word without a possessive `'s` */
  readonly s: number;
  readonly e: number;
  /** the word as written, without the possessive */
  readonly w: string;
  /** lowercase, `’` read as `'` */
  readonly l: string;
  /** followed by `'s` / `’s` (or `'` after a final s) */
  readonly poss: boolean;
  /** first letter upper-case */
  readonly cap: boolean;
  /** every letter upper-case and at least two letters */
  readonly upper: boolean;
  /** every letter lower-case */
  readonly lower: boolean;
  /** first word of the text, of a line, or after `.`, `!`, `?` (and bullets) */
  readonly sentStart: boolean;
  /** first word of its line */
  readonly lineStart: boolean;
}

const WORD_RE = /[\p{L}\p{M}]+(?:['’-][\p{L}\p{M}]+)*/gu;
const UPPER = /^\p{Lu}/u;
const HAS_LOWER = /\p{Ll}/u;
const HAS_UPPER = /\p{Lu}/u;

export function tokenize(text: string): Tok[] {
  const ph = text.includes('[') ? findPlaceholders(text) : [];
  let p = 0;
  const out: Tok[] = [];
  for (const m of text.matchAll(WORD_RE)) {
    let s = m.index!;
    let raw = m[0];
    while (p < ph.length && ph[p]!.end <= s) p++;
    if (p < ph.length && ph[p]!.start < s + raw.length) continue;
    let poss = false;
    const tail = raw.slice(-2);
    if (raw.length > 2 && (tail === "'s" || tail === '’s')) {
      raw = raw.slice(0, -2);
      poss = true;
    } else if (raw.length > 2 && /s$/.test(raw) && (text[s + raw.length] === "'" || text[s + raw.length] === '’') && !/[\p{L}]/u.test(text[s + raw.length + 1] ?? '')) {
      poss = true;
    }
    const e = s + raw.length;
    // look back over spaces, quotes and brackets for what opens the word
    let k = s - 1;
    while (k >= 0 && (text[k] === ' ' || text[k] === '\t' || text[k] === '"' || text[k] === '(' || text[k] === '“' || text[k] === "'" || text[k] === '*' || text[k] === '_')) k--;
    const before = k < 0 ? '\n' : text[k]!;
    const lineStart = before === '\n' || before === '\r';
    const sentStart = lineStart || '.!?•·>|#–—-'.includes(before);
    const hasLower = HAS_LOWER.test(raw);
    const hasUpper = HAS_UPPER.test(raw);
    out.push({
      s,
      e,
      w: raw,
      l: raw.toLowerCase().replace(/’/g, "'"),
      poss,
      cap: UPPER.test(raw),
      upper: hasUpper && !hasLower && raw.length >= 2,
      lower: hasLower && !hasUpper,
      sentStart,
      lineStart,
    });
    s = e;
  }
  return out;
}
