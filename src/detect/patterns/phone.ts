import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { TextContext } from './textctx.js';
import { type Candidate, CONTEXT_ONLY, VALIDATED, isDigitCode, isWordChar } from './util.js';

/**
 * PHONE: a linear scan collects runs of digits joined by phone punctuation (space, `-`, `.`,
 * parentheses; at most three in a row), optionally led by `+` or `00`. Runs of 7–17
 * digits are parsed with libphonenumber-js (full metadata, default country US):
 *  - national form: must be a valid number (`isValid`), score 1, or be written exactly in a
 *    North American format with plausible area code and exchange (`(NXX) NXX-XXXX`), score 0.9;
 *  - international form (`+`, `00`, `011`): valid → score 1, merely possible → score 0.9;
 *  - after a phone context word ("phone:", "tel.", "call me at", "mobile"), a national number
 *    valid in one of a few common countries (GB, DE, FR, IN, AU, …) counts too, score 0.9;
 *    without one when written in that country's usual grouping with its trunk 0 and 10–11
 *    digits ("07700 900412", "0141 496 0194"), score 0.9; in a table column headed by a phone
 *    word, any phone-shaped number (7–15 digits), score 0.9.
 * An extension right after the number (" x982", " ext. 12") is part of the span.
 * Runs glued to letters, to a currency sign, `#`, `@`, `/`, `_`, or inside a longer number are
 * skipped, so years, prices, zip codes, dates and IBAN pieces are not phones; card numbers and
 * SSNs have lengths no national US number has, and outrank PHONE when they overlap anyway.
 */

const SEP = new Set([32, 45, 46, 40, 41, 0xa0, 0x2013, 0x2010, 0x2011]); // space - . ( ) nbsp dashes
const REJECT_BEFORE = new Set('$€£¥#@/_+*&='.split('').map((c) => c.charCodeAt(0)));
const GLUE_BEFORE = new Set([46, 44, 45, 58]); // . , - :  (glued to a word before them)

const MIN_DIGITS = 7;
const DATE_SHAPE = /^(?:(\d{4})[-./](\d{1,2})[-./](\d{1,2})|(\d{1,2})[-./](\d{1,2})[-./](\d{2}|\d{4}))$/;
/** A whole run that is a plausible calendar date (month 1–12, day 1–31): not a phone. */
function isDateLike(raw: string): boolean {
  const m = DATE_SHAPE.exec(raw);
  if (!m) return false;
  const [a, b] = m[1] ? [Number(m[2]), Number(m[3])] : [Number(m[4]), Number(m[5])];
  const ok = (x: number, y: number) => x >= 1 && x <= 12 && y >= 1 && y <= 31;
  return ok(a, b) || ok(b, a);
}
/** US national groupings: 4155552671, 14155552671, 415-555-2671, (415) 555-2671, 1 415 555 2671. */
const NATIONAL_GROUPING = /^(?:1?\d{10}|(?:1[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]{0,2}\d{3}[ .-]\d{4})$/;
/** Words before a number that make it something else than a phone number. */
const NOT_PHONE_BEFORE = /(?:order|invoice|inv|ref|reference|ticket|case|tracking|isbn|serial|sku|po|receipt|transaction|txn|confirmation)\s*(?:no\.?|number|num|id|#)?\s*[:#-]?\s*$/i;
/** An extension right after a number: " x982", " ext. 12", ", extension 7". */
const EXTENSION = /,? ?(?:x|ext\.?|extension) ?\d{1,6}/iy;
/** Written exactly like a North American number: (NXX) NXX-XXXX, NXX-NXX-XXXX, NXX.NXX.XXXX. */
const NANP_FORMATTED = /^(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\) ?[2-9]\d{2}-|[2-9]\d{2}-[2-9]\d{2}-|[2-9]\d{2}\.[2-9]\d{2}\.)\d{4}$/;
const PHONE_CONTEXT =
  /(?<![\p{L}\p{N}])(?:phone|tel|telephone|mobile|mob|cell|cellphone|fax|ph|call|text|whatsapp)(?:[^\p{L}\p{N}]{1,3}(?:is|at|on|me|us|no\.?|number|nr)){0,3}[^\p{L}\p{N}]{0,4}$/iu;
/**
 * Looser phone context: words people put in front of a number they give out. After one of
 * these (or before one of PHONE_AFTER), any phone-shaped group of 7–15 digits counts, score 0.9.
 */
const PHONE_CONTEXT_LOOSE =
  /(?<![\p{L}\p{N}])(?:phone|tel|telephone|mobile|mob|cell|cellphone|fax|desk|office|home|work|ph|call(?:\s+(?:me|us))?|text(?:\s+(?:me|us))?|sms|whatsapp|answering|messages?|registered|reach(?:\s+(?:me|us))?|contact(?:\s+(?:me|us))?|dial)(?:[^\p{L}\p{N}]{1,3}(?:is|at|on|to|no\.?|number|nr|#)){0,3}[^\p{L}\p{N}]{0,4}$/iu;
const PHONE_AFTER = /^[\s\-–(,\\]{0,3}(?:office|fax|mobile|cell|home|work|desk|tel|phone)\b/i;
/** Phone-shaped: digit groups joined by single separators (or one run of 7–12 digits). */
const PHONE_SHAPE = /^(?:\+|00)?\(?\d{1,5}\)?(?:[ .\-]?\(?\d{1,5}\)?){1,6}$/;
const FOREIGN_COUNTRIES = ['GB', 'DE', 'FR', 'ES', 'IT', 'NL', 'BE', 'CH', 'AT', 'IE', 'IN', 'AU', 'NZ', 'BR', 'MX', 'JP', 'SG', 'ZA'] as const;
const PUNCT_END = /\d$/;
const digitCount = (s: string) => s.replace(/\D/g, '').length;
const MAX_DIGITS = 17;

function validStart(text: string, i: number): boolean {
  if (i === 0) return true;
  const p = text.charCodeAt(i - 1);
  if (isWordChar(text, i - 1) || REJECT_BEFORE.has(p)) return false;
  if (GLUE_BEFORE.has(p) && i >= 2 && isDigitCode(text.charCodeAt(i - 2))) return false;
  return true;
}

/**
 * A national number in its usual grouping: trunk 0 and space-separated groups ("07700 900412",
 * "0141 496 0194", "0491 570 156"), or the Japanese dashed form ("090-5550-1423"); dashed 4-4-2
 * drug codes (NDC "0169-4132-12") are not phones.
 */
const NATIONAL_GROUPED = /^0\d{1,4}(?: \d{2,6})(?: \d{2,4}){0,2}$|^0\d{1,3}-\d{2,4}-\d{4}$/;

export function findPhones(text: string, out: Candidate[], ctx?: TextContext): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
    const startable =
      isDigitCode(c) || ((c === 43 /* + */ || c === 40) /* ( */ && (isDigitCode(next) || next === 40));
    if (!startable) {
      i++;
      continue;
    }
    if (!validStart(text, i)) {
      // skip the rest of this word/number so we never start in its middle
      i++;
      while (i < n && (isWordChar(text, i) || (SEP.has(text.charCodeAt(i)) && isDigitCode(text.charCodeAt(i + 1) || 0) && isDigitCode(text.charCodeAt(i - 1))))) i++;
      continue;
    }
    // scan the run
    const runStart = i;
    let j = c === 43 ? i + 1 : i;
    let digits = 0;
    let lastDigitEnd = -1;
    let sepRun = 0;
    while (j < n) {
      const d = text.charCodeAt(j);
      if (isDigitCode(d)) {
        digits++;
        lastDigitEnd = j + 1;
        sepRun = 0;
      } else if (SEP.has(d) && sepRun < 3) {
        sepRun++;
      } else break;
      j++;
    }
    const runEnd = lastDigitEnd;
    i = Math.max(j, i + 1);
    if (runEnd < 0 || digits < MIN_DIGITS || digits > MAX_DIGITS) continue;
    EXTENSION.lastIndex = runEnd;
    const extMatch = EXTENSION.exec(text);
    const extEnd = extMatch && !isWordChar(text, runEnd + extMatch[0].length) ? runEnd + extMatch[0].length : -1;
    if (extEnd < 0 && isWordChar(text, runEnd)) continue; // "4155552671abc"
    const after = text.charCodeAt(runEnd);
    if ((after === 44 || after === 46) && isDigitCode(text.charCodeAt(runEnd + 1) || 0)) continue;
    if (after === 58 /* : */ && isDigitCode(text.charCodeAt(runEnd + 1) || 0)) continue; // "… 12:30"
    let start = runStart;
    const raw = text.slice(start, runEnd);
    if (isDateLike(raw)) continue;
    if (raw[0] !== '+' && NOT_PHONE_BEFORE.test(text.slice(Math.max(0, start - 24), start))) continue;
    if (raw.startsWith('(') && !raw.includes(')')) start++;
    const score = phoneScore(text.slice(start, runEnd));
    const end = extEnd > 0 ? extEnd : runEnd;
    if (score !== null) {
      out.push({ start, end, type: 'PHONE', score });
      continue;
    }
    // After a phone context word ("Phone: 020 7946 0958"), national formats of other common
    // countries count too (score 0.9).
    const before = text.slice(Math.max(0, start - 30), start);
    if (PHONE_CONTEXT.test(before) && classifyForeignNational(raw)) {
      out.push({ start, end, type: 'PHONE', score: CONTEXT_ONLY });
      continue;
    }
    // A national number of a common country written in its usual grouping needs no phone word
    // ("Next of kin: Ann (daughter), 07700 900412"); 10–11 digits, valid in that country.
    const nd = digitCount(raw);
    if (nd >= 10 && nd <= 11 && NATIONAL_GROUPED.test(raw) && classifyForeignNational(raw)) {
      out.push({ start, end, type: 'PHONE', score: CONTEXT_ONLY });
      continue;
    }
    // In a table column headed "Phone", "Contact", "Mobile", … the header is the phone word.
    const header = ctx ? ctx.header(start) : '';
    // Any phone-shaped number right after a phone word ("answering at 78 651 450",
    // "Mobile: 03.93.92.16.85") or right before one ("082 490 1693-Office").
    const nDigits = digitCount(raw);
    if (
      nDigits >= MIN_DIGITS &&
      nDigits <= 15 &&
      PHONE_SHAPE.test(text.slice(start, runEnd)) &&
      (PHONE_CONTEXT_LOOSE.test(before) || PHONE_AFTER.test(text.slice(end, end + 12)) || (header !== '' && PHONE_CONTEXT_LOOSE.test(header)))
    ) {
      out.push({ start, end, type: 'PHONE', score: CONTEXT_ONLY });
      continue;
    }
    // A phone number next to another number in the same run ("room 12 415-555-2671",
    // "415-555-2671 2024"): try without the first or the last group.
    const groups = [...raw.matchAll(/\d+/g)];
    if (groups.length < 3) continue;
    const secondStart = start + groups[1]!.index!;
    const lastGroup = groups[groups.length - 1]!;
    const beforeLastEnd = start + groups[groups.length - 2]!.index! + groups[groups.length - 2]![0].length;
    for (const [s0, e0] of [
      [secondStart, runEnd],
      [start, beforeLastEnd],
    ] as const) {
      if (s0 === start && lastGroup[0].length > 4) continue;
      const sub = text.slice(s0, e0);
      if (digitCount(sub) < MIN_DIGITS || !PUNCT_END.test(sub)) continue;
      const sc = phoneScore(sub);
      if (sc === VALIDATED) {
        out.push({ start: s0, end: e0, type: 'PHONE', score: sc });
        break;
      }
    }
  }
}

/** Whether a national-format number is valid in one of the common non-US countries. */
export function classifyForeignNational(raw: string): boolean {
  if (raw.startsWith('+') || digitCount(raw) < 8 || digitCount(raw) > 13) return false;
  return FOREIGN_COUNTRIES.some((c) => parsePhoneNumberFromString(raw, c)?.isValid() === true);
}

/** Score for a phone candidate, or null if it is not a phone number. */
export function phoneScore(raw: string): number | null {
  let s = raw;
  let international = false;
  if (s.startsWith('+')) international = true;
  else if (/^00[1-9]/.test(s)) {
    s = '+' + s.slice(2);
    international = true;
  } else if (/^011[ .-]?[1-9]/.test(s)) international = true;
  if (!international && !NATIONAL_GROUPING.test(raw)) return null;
  const p = parsePhoneNumberFromString(s, 'US');
  if (!p) return null;
  if (p.isValid()) return VALIDATED;
  if (NANP_FORMATTED.test(raw)) return CONTEXT_ONLY; // "(389) 832-5791": unassigned area code, still a phone
  if (international && p.isPossible() && p.nationalNumber.length >= 6) return CONTEXT_ONLY;
  return null;
}
