import type { EntityType } from '../../core/types.js';
import { matchDateAt } from './date.js';
import { ssnPartsOk } from './ssn.js';
import { type Candidate, CONTEXT_ONLY, VALIDATED, abaValid, isWordChar, luhnValid } from './util.js';

/**
 * Context-word identifiers: the VALUE after a context word ("account number: 12345678",
 * "acct # 000123456789", "DOB 03/14/1985") is the span, never the context word itself.
 * Context matching is case-insensitive; between the word and the value up to ~30 characters
 * of filler are skipped: punctuation (`: # = - ( ) .`), and the words number/num/nr/no/is/was/
 * are/of/id/on. Values are checked per type (length, at least one digit, checksums where the
 * type has one). Scores: 1 where a checksum or strict rule validates the value (ROUTING, SSN),
 * 0.9 otherwise.
 */

const S = '[\\s_-]{0,3}';
const NUMWORD = `(?:number|num|no\\.?|nr|#|id)`;

const GROUPS: ReadonlyArray<readonly [EntityType, string]> = [
  ['SSN', `ssn|ss#|social${S}security|soc\\.?${S}sec\\.?`],
  ['ROUTING', `aba${S}routing|aba|rtn|routing(?:${S}transit)?`],
  ['NATIONAL_ID', `national${S}(?:id(?:entity|entification)?|insurance)|nino|nin|ni${S}number|aadhaa?r|sin|social${S}insurance|(?:id|identity|identification|personal${S}id)${S}${NUMWORD}|id${S}card`],
  ['MEDICAL_RECORD', `mrn|medical${S}records?|patient${S}(?:id|identifier|number|no\\.?|#)|chart${S}(?:number|no\\.?|#)`],
  ['INSURANCE_ID', `(?:member|insurance|policy|subscriber|group|medicare|medicaid|health${S}plan|insured${S}id)${S}(?:id|identifier|number|num|no\\.?|#)|medicare|medicaid`],
  ['BANK_ACCOUNT', `(?:bank${S}|checking${S}|savings${S})?(?:account|acct|acc(?=${S}(?:no|#|num))|a\\/c)`],
  ['PASSPORT', `passport`],
  ['DRIVER_LICENSE', `driv(?:er'?s?|ing)${S}licen[cs]e|dln|dl#?`],
  ['DOB', `dob|d\\.o\\.b\\.?|date${S}of${S}birth|birth${S}date|birthdate|birthday|born(?:${S}on)?`],
];

const CONTEXT_RE = new RegExp(
  `(?<![\\p{L}\\p{N}])(?:${GROUPS.map(([t, src]) => `(?<${t}>${src})`).join('|')})(?![\\p{L}\\p{N}])`,
  'giu',
);

const FILLER_WORD = /(?:numbers?|num|nr|nos?|is|was|are|of|id|on)(?![\p{L}\p{N}])\.?/iuy;
const FILLER_CHARS = new Set([...' \t\n\r\u00a0:#=-–—.(),\'"'].map((c) => c.charCodeAt(0)));
const WINDOW = 30;

function skipFiller(text: string, pos: number): number {
  const limit = Math.min(text.length, pos + WINDOW);
  let i = pos;
  for (;;) {
    const before = i;
    while (i < limit && FILLER_CHARS.has(text.charCodeAt(i))) i++;
    FILLER_WORD.lastIndex = i;
    const m = FILLER_WORD.exec(text);
    if (m && i + m[0].length <= limit) i += m[0].length;
    if (i === before || i >= limit) return i;
  }
}

const V_SSN = /\d{3}([- ]?)\d{2}\1\d{4}/y;
const V_ROUTING = /\d{9}/y;
const V_ACCOUNT = /\d(?:-?\d){5,16}/y;
const V_ACCOUNT_GROUPED = /\d{1,17}(?:[ -]\d{3,17}){1,5}/y;
const V_PASSPORT = /[A-Z0-9]{6,9}/iy;
const V_ALNUM = /[A-Z0-9](?:-?[A-Z0-9]){3,19}/iy;
const V_NINO = /[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]/iy;
const V_AADHAAR = /\d{4}([ -]?)\d{4}\1\d{4}/y;
const V_SIN = /\d{3}([ -]?)\d{3}\1\d{3}/y;

function sticky(re: RegExp, text: string, pos: number): string | null {
  re.lastIndex = pos;
  const m = re.exec(text);
  return m ? m[0] : null;
}

const hasDigit = (s: string) => /\d/.test(s);
const alnumCount = (s: string) => s.replace(/[^A-Za-z0-9]/g, '').length;

/** End of a value of `type` starting at `pos` and its score, or null. */
function readValue(type: EntityType, text: string, pos: number): { end: number; score: number } | null {
  const ok = (v: string | null, score: number) => {
    if (v === null) return null;
    const end = pos + v.length;
    if (isWordChar(text, end)) return null; // value continues: wrong length or shape
    if ((text[end] === '-' || text[end] === '.') && isWordChar(text, end + 1)) return null;
    return { end, score };
  };
  switch (type) {
    case 'SSN': {
      const v = sticky(V_SSN, text, pos);
      return v && ssnPartsOk(v.replace(/[- ]/g, '')) ? ok(v, VALIDATED) : null;
    }
    case 'ROUTING': {
      const v = sticky(V_ROUTING, text, pos);
      return v && abaValid(v) ? ok(v, VALIDATED) : null;
    }
    case 'BANK_ACCOUNT': {
      // grouped ("12 3456 7890", "1234-5678-90") when the groups add up to 6–17 digits,
      // else one run of digits with optional dashes
      const g = sticky(V_ACCOUNT_GROUPED, text, pos);
      const n = g === null ? 0 : g.replace(/\D/g, '').length;
      if (g !== null && n >= 6 && n <= 17) {
        const r = ok(g, CONTEXT_ONLY);
        if (r) return r;
      }
      return ok(sticky(V_ACCOUNT, text, pos), CONTEXT_ONLY);
    }
    case 'PASSPORT': {
      const v = sticky(V_PASSPORT, text, pos);
      return v && hasDigit(v) ? ok(v, CONTEXT_ONLY) : null;
    }
    case 'DRIVER_LICENSE': {
      const v = sticky(V_ALNUM, text, pos);
      return v && hasDigit(v) && alnumCount(v) >= 5 && alnumCount(v) <= 15 ? ok(v, CONTEXT_ONLY) : null;
    }
    case 'NATIONAL_ID': {
      for (const re of [V_NINO, V_AADHAAR, V_SIN]) {
        const r = ok(sticky(re, text, pos), CONTEXT_ONLY);
        if (r) return re === V_SIN && luhnValid(text.slice(pos, r.end).replace(/\D/g, '')) ? { ...r, score: VALIDATED } : r;
      }
      const v = sticky(V_ALNUM, text, pos);
      return v && hasDigit(v) && alnumCount(v) >= 5 ? ok(v, CONTEXT_ONLY) : null;
    }
    case 'MEDICAL_RECORD':
    case 'INSURANCE_ID': {
      const v = sticky(V_ALNUM, text, pos);
      return v && hasDigit(v) ? ok(v, CONTEXT_ONLY) : null;
    }
    case 'DOB': {
      const end = matchDateAt(text, pos);
      return end > pos ? { end, score: CONTEXT_ONLY } : null;
    }
    default:
      return null;
  }
}

export function findContextValues(text: string, out: Candidate[]): void {
  for (const m of text.matchAll(CONTEXT_RE)) {
    const groups = m.groups!;
    let type: EntityType | undefined;
    for (const [t] of GROUPS) {
      if (groups[t] !== undefined) {
        type = t;
        break;
      }
    }
    if (!type) continue;
    const pos = skipFiller(text, m.index! + m[0].length);
    if (pos >= text.length) continue;
    const v = readValue(type, text, pos);
    if (v) out.push({ start: pos, end: v.end, type, score: v.score });
  }
}
