import { type Candidate, CONTEXT_ONLY, VALIDATED, isWordChar, luhnValid } from './util.js';

/**
 * CARD: a maximal run of digit groups separated by single spaces or dashes (one separator kind),
 * 13–19 digits, in a usual grouping (none; 4-4-4-4[-1..3]; 4-4-4-1..3; Amex/Diners 4-6-5 /
 * 4-6-4), a known brand prefix with a length that brand issues, and a valid Luhn checksum.
 * A run inside a longer number (letters or digits glued to it, or a decimal point) is not a card.
 */
const RUN = /(?<![A-Za-z0-9_])\d+(?:[ -]\d+)*/g;

interface Brand {
  readonly test: (d: string) => boolean;
  readonly lengths: readonly number[];
}

const between = (d: string, n: number, lo: number, hi: number) => {
  const v = Number(d.slice(0, n));
  return v >= lo && v <= hi;
};

const BRANDS: readonly Brand[] = [
  { test: (d) => d[0] === '4', lengths: [13, 16, 19] }, // Visa
  { test: (d) => between(d, 2, 51, 55) || between(d, 4, 2221, 2720), lengths: [16] }, // Mastercard
  { test: (d) => d.startsWith('34') || d.startsWith('37'), lengths: [15] }, // Amex
  {
    test: (d) => d.startsWith('6011') || d.startsWith('65') || between(d, 3, 644, 649),
    lengths: [16, 17, 18, 19],
  }, // Discover
  { test: (d) => between(d, 4, 3528, 3589), lengths: [16, 17, 18, 19] }, // JCB
  { test: (d) => d.startsWith('36') || d.startsWith('38') || d.startsWith('39') || between(d, 3, 300, 305), lengths: [14, 15, 16, 17, 18, 19] }, // Diners
  { test: (d) => d.startsWith('62'), lengths: [16, 17, 18, 19] }, // UnionPay
  { test: (d) => d.startsWith('2131') || d.startsWith('1800'), lengths: [15] }, // JCB (15-digit)
  { test: (d) => d.startsWith('50') || between(d, 2, 56, 69), lengths: [12, 13, 14, 15, 16, 17, 18, 19] }, // Maestro
];

/** A card word shortly before the number: then any Luhn-valid 12–19 digits count (score 0.9). */
const CARD_CONTEXT = /(?<![A-Za-z])(?:card|cc|credit|debit|visa|mastercard|amex|maestro|jcb|discover|pan)\b[^\n]{0,24}$/i;

export function cardBrandOk(digits: string): boolean {
  return BRANDS.some((b) => b.lengths.includes(digits.length) && b.test(digits));
}

function groupingOk(groups: readonly string[]): boolean {
  if (groups.length === 1) return true;
  const lens = groups.map((g) => g.length);
  if (lens.length === 3 && lens[0] === 4 && lens[1] === 6 && (lens[2] === 5 || lens[2] === 4)) return true;
  // 4-4-4-4, 4-4-4-4-3, 4-4-4-1: every group 4 long except a shorter (1..4) last one
  for (let i = 0; i < lens.length - 1; i++) if (lens[i] !== 4) return false;
  return lens[lens.length - 1]! >= 1 && lens[lens.length - 1]! <= 4;
}

export function findCards(text: string, out: Candidate[]): void {
  for (const m of text.matchAll(RUN)) {
    const start = m.index!;
    const end = start + m[0].length;
    // Not glued to a word, a decimal point or a longer number ("v4111…", "1.4111…", "…1111.5").
    if (isWordChar(text, start - 1) || isWordChar(text, end)) continue;
    const before = text.charCodeAt(start - 1);
    if ((before === 46 || before === 44) && isWordChar(text, start - 2)) continue; // "12.4111…"
    const after = text.charCodeAt(end);
    if ((after === 46 || after === 44) && /\d/.test(text[end + 1] ?? '')) continue;
    const raw = m[0];
    const digits = raw.replace(/[ -]/g, '');
    if (digits.length < 12 || digits.length > 19) continue;
    if (raw.includes(' ') && raw.includes('-')) continue; // mixed separators
    const groups = raw.split(/[ -]/);
    if (!groupingOk(groups)) continue;
    if (!luhnValid(digits)) continue;
    if (cardBrandOk(digits)) out.push({ start, end, type: 'CARD', score: VALIDATED });
    else if (CARD_CONTEXT.test(text.slice(Math.max(0, start - 40), start))) out.push({ start, end, type: 'CARD', score: CONTEXT_ONLY });
  }
}
