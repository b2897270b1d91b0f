import type { EntityType } from '../../core/types.js';
import { matchDateAt } from './date.js';
import { itinValid, vinShape, vinValid } from './checksums.js';
import { ssnPartsOk } from './ssn.js';
import type { TextContext } from './textctx.js';
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
  ['SSN', `ssn|ss#|social${S}security|soc\\.?${S}sec\\.?|itin`],
  ['ROUTING', `aba${S}routing|aba|rtn|routing(?:${S}transit)?|sort${S}code|ifsc(?:${S}code)?|transit(?:${S}(?:number|no\\.?|#))?|bsb|blz|bankleitzahl|branch${S}code`],
  ['NATIONAL_ID', `national${S}(?:id(?:entity|entification)?|insurance)|nino|nin|ni${S}number|aadhaa?r|sin|social${S}insurance|(?:id|identity|identification|personal${S}id)${S}${NUMWORD}|id${S}card|tax${S}(?:id|number|no\\.?)|tin|nif|nie|dni|pps${S}(?:no\\.?|number)|ppsn|tfn|tax${S}file${S}(?:number|no\\.?)|nhi|nhs${S}(?:no\\.?|number)|steuer${S}id|pesel|bsn|cpf|curp|nric|codice${S}fiscale|my${S}number|personnummer|hetu|tckn|resident${S}id`],
  ['MEDICAL_RECORD', `mrn|medical${S}records?|patient${S}(?:id|identifier|number|no\\.?|#)|chart${S}(?:number|no\\.?|#)|hospital${S}(?:number|no\\.?|id|#)|hosp${S}(?:no\\.?|#)|uhid|ur${S}(?:number|no\\.?)|health${S}record${S}(?:number|no\\.?|id)`],
  ['INSURANCE_ID', `(?:member|insurance|policy|subscriber|group|medicare|medicaid|health${S}plan|insured${S}id|beneficiary)${S}(?:id|identifier|number|num|no\\.?|#)|medicare${S}beneficiary${S}identifier|mbi|medicare|medicaid|policy`],
  ['ACCOUNT_ID', `(?:customer|client|loan|mortgage|employee|staff|payroll|student|pupil|learner|loyalty|membership|rewards?|frequent${S}flyer|ff|ucas(?:${S}personal)?|pension|subscriber|account${S}holder)${S}(?:id|number|num|no\\.?|nr|#|ref(?:erence)?|code)|emp${S}(?:id|no|#|code)|uan|loan|mortgage|customer|frequent${S}flyer`],
  ['BANK_ACCOUNT', `(?:bank${S}|checking${S}|savings${S})?(?:account|acct|acc(?=${S}(?:no|#|num))|a\\/c)`],
  ['PASSPORT', `passport|pasaporte|passeport|reisepass|passaporto|paspoort`],
  ['DRIVER_LICENSE', `driv(?:er'?s?|ing)${S}licen[cs]e|dln|dl#?|licen[cs]e${S}(?:number|no\\.?|nr|#)|f[üu]hrerschein|permis${S}de${S}conduire|carnet${S}de${S}conducir|rijbewijs`],
  ['VEHICLE', `vin|chassis(?:${S}(?:number|no\\.?))?|vehicle${S}identification(?:${S}number)?|(?:license|licence|number|registration|reg)${S}plate|plate(?:${S}(?:number|no\\.?))?|registration(?:${S}(?:number|no\\.?|mark))?|reg(?:${S}(?:number|no\\.?|mark))?|vrm|kenteken|kennzeichen|immatriculation|matr[ií]cula|targa|vehicle`],
  ['USERNAME', `user${S}?name|user${S}id|userid|log${S}?in(?:${S}(?:id|name))?|handle|screen${S}name|nick(?:name)?|account${S}name|uid|user`],
  ['DOB', `dob|d\\.o\\.b\\.?|date${S}of${S}birth|birth${S}date|birthdate|birthday|born(?:${S}on)?`],
];

const CONTEXT_RE = new RegExp(
  `(?<![\\p{L}\\p{N}])(?:${GROUPS.map(([t, src]) => `(?<${t}>${src})`).join('|')})(?![\\p{L}\\p{N}])`,
  'giu',
);

const FILLER_WORD = /(?:numbers?|num|nr|nos?|is|was|are|of|id|on|its|it's|it’s|yeah|yes|sure|ok|the|my|his|her|their|our)(?![\p{L}\p{N}])\.?|(?<=\n)[\p{L} ]{1,12}:/iuy;
const FILLER_CHARS = new Set([...' \t\n\r\u00a0:#=-–—.(),\'"?{'].map((c) => c.charCodeAt(0)));
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
const V_SORT_CODE = /\d{2}([ -])\d{2}\1\d{2}|\d{6}/y;
const V_IFSC = /[A-Z]{4}0[A-Z0-9]{6}/iy;
const V_TRANSIT = /\d{5}(?:-\d{3})?|\d{3}-\d{3}/y;
const V_SPACED_DIGITS = /\d(?: \d){5,19}/y;
/** A reference: letters/digits with inner `-`, `_`, `/`, `.`; more space-separated groups only when they hold digits. */
const V_REF_HEAD = /[A-Z0-9](?:[-_/.]?[A-Z0-9]){1,29}/iy;
const V_REF_MORE = / (?=[A-Z]{0,3}\d)[A-Z0-9]{2,12}/iy;
const V_PLATE = /[A-Z0-9]{1,4}(?:[ -]?[A-Z0-9]{1,4}){1,2}/y;
const V_VIN = /[A-HJ-NPR-Z0-9]{17}/iy;
const V_USER = /@?[A-Za-z0-9](?:[A-Za-z0-9._-]{0,38}[A-Za-z0-9_])?/y;
/** Words that follow "user"/"login" in prose or logs and are not somebody's login. */
const NOT_USERNAME = new Set(
  'is was the a an and or not no none null undefined unknown name names id ids account accounts locked unlocked login logins logged log user users username password pass session sessions agent agents root admin administrator guest nobody system daemon service test anonymous everyone all default invalid from for with to on in at by of has had have been can cannot could should would will may must did does do who which that this those these here there new old same other another'.split(' '),
);

function readRef(text: string, pos: number): string | null {
  let v = sticky(V_REF_HEAD, text, pos);
  if (v === null) return null;
  for (let k = 0; k < 4; k++) {
    const more = sticky(V_REF_MORE, text, pos + v.length);
    if (more === null) break;
    v += more;
  }
  return v.replace(/[-_/.]+$/, '');
}

/** A username is "strong" when it holds a digit or inner punctuation (j.doe, ops_admin2). */
const strongUser = (v: string) => /\d|[a-z][._-][a-z0-9]/i.test(v);

function sticky(re: RegExp, text: string, pos: number): string | null {
  re.lastIndex = pos;
  const m = re.exec(text);
  return m ? m[0] : null;
}

const hasDigit = (s: string) => /\d/.test(s);
const alnumCount = (s: string) => s.replace(/[^A-Za-z0-9]/g, '').length;

/** End of a value of `type` starting at `pos` and its score, or null. */
function readValue(type: EntityType, text: string, pos: number, ctxWord = '', gap = ''): { end: number; score: number } | null {
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
      const d = v?.replace(/[- ]/g, '') ?? '';
      return v && (ssnPartsOk(d) || itinValid(d)) ? ok(v, VALIDATED) : null;
    }
    case 'ROUTING': {
      const v = sticky(V_ROUTING, text, pos);
      if (v && abaValid(v)) return ok(v, VALIDATED);
      // UK sort code, Indian IFSC, Canadian transit / Australian BSB
      for (const re of [V_SORT_CODE, V_IFSC, V_TRANSIT]) {
        const r = ok(sticky(re, text, pos), CONTEXT_ONLY);
        if (r) return r;
      }
      return null;
    }
    case 'ACCOUNT_ID': {
      // after a bare "customer"/"loan" (no "number"/"id"), only a single token: "Customer: 0491 570 156" is a phone
      const bare = !/(?:id|number|num|no\.?|nr|#|ref(?:erence)?|code)$/i.test(ctxWord);
      const v = bare ? sticky(V_REF_HEAD, text, pos) : readRef(text, pos);
      if (bare && v && sticky(V_REF_MORE, text, pos + v.length) !== null) return null;
      return v && (v.match(/\d/g)?.length ?? 0) >= 3 && alnumCount(v) >= 4 ? ok(v, CONTEXT_ONLY) : null;
    }
    case 'VEHICLE': {
      const vin = sticky(V_VIN, text, pos);
      if (vin && vinShape(vin.toUpperCase())) {
        const r = ok(vin, vinValid(vin.toUpperCase()) ? VALIDATED : CONTEXT_ONLY);
        if (r) return r;
      }
      // plates: upper-case letters and digits, 4–9 of them, at least one digit
      const p = sticky(V_PLATE, text, pos);
      if (!p || !/\d/.test(p) || alnumCount(p) < 4 || alnumCount(p) > 9) return null;
      return ok(p, CONTEXT_ONLY);
    }
    case 'USERNAME': {
      const v = sticky(V_USER, text, pos);
      if (!v || v.length < 2 || NOT_USERNAME.has(v.toLowerCase().replace(/^@/, ''))) return null;
      if (text[pos + v.length] === '@') return null; // an e-mail address
      if (gap.includes('\n')) return null; // "Nick:\nAttached …": the next line is not the value
      // after a plain "user" in prose ("the user reported …") only key=value syntax or a login-like value
      const keyed = /[:=]/.test(gap) || /["']$/.test(gap);
      // otherwise ("username jdoe42", "login is j.doe") the value must look like a login
      if (!keyed && !strongUser(v)) return null;
      return ok(v, CONTEXT_ONLY);
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
      const r = ok(sticky(V_ACCOUNT, text, pos), CONTEXT_ONLY) ?? ok(sticky(V_SPACED_DIGITS, text, pos), CONTEXT_ONLY);
      if (r) return r;
      // account references with letters ("A44871902", "ISA-0049127"): at least five digits
      const ref = readRef(text, pos);
      return ref && (ref.match(/\d/g)?.length ?? 0) >= 5 ? ok(ref, CONTEXT_ONLY) : null;
    }
    case 'PASSPORT': {
      const v = sticky(V_PASSPORT, text, pos);
      return v && hasDigit(v) ? ok(v, CONTEXT_ONLY) : null;
    }
    case 'DRIVER_LICENSE': {
      const v = sticky(V_ALNUM, text, pos);
      return v && (v.match(/\d/g)?.length ?? 0) >= 3 && alnumCount(v) >= 5 && alnumCount(v) <= 16 ? ok(v, CONTEXT_ONLY) : null;
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
      if (v && hasDigit(v) && (ctxWord.toLowerCase() !== 'policy' || (v.match(/\d/g)?.length ?? 0) >= 4)) {
        const r = ok(v, CONTEXT_ONLY);
        if (r) return r;
      }
      // references with letters, slashes or spaced digit groups ("PC/88412093", "5455 88522 2")
      const ref = readRef(text, pos);
      return ref && (ref.match(/\d/g)?.length ?? 0) >= 4 ? ok(ref, CONTEXT_ONLY) : null;
    }
    case 'DOB': {
      const end = matchDateAt(text, pos);
      return end > pos ? { end, score: CONTEXT_ONLY } : null;
    }
    default:
      return null;
  }
}

function typeOf(groups: Record<string, string | undefined>): EntityType | undefined {
  for (const [t] of GROUPS) if (groups[t] !== undefined) return t;
  return undefined;
}

const HEADER_RE = new RegExp(
  `^[\\s"'\`*#]*(?:[\\p{L}\\p{N}]+\\s){0,2}(?:${GROUPS.map(([t, src]) => `(?<${t}>${src})`).join('|')})(?:${S}${NUMWORD}s?)?[\\s"'\`*:#.]*$`,
  'iu',
);

export function findContextValues(text: string, out: Candidate[], ctx?: TextContext): void {
  for (const m of text.matchAll(CONTEXT_RE)) {
    const type = typeOf(m.groups!);
    if (!type) continue;
    const wordEnd = m.index! + m[0].length;
    const pos = skipFiller(text, wordEnd);
    if (pos >= text.length) continue;
    const v = readValue(type, text, pos, m[0], text.slice(wordEnd, pos));
    if (v) out.push({ start: pos, end: v.end, type, score: v.score, named: true });
  }
  // values in a table column whose header is a context word ("sort_code", "DOB", "username")
  if (!ctx) return;
  for (const cell of ctx.cells()) {
    const h = HEADER_RE.exec(cell.header.replace(/_/g, ' '));
    if (!h) continue;
    const type = typeOf(h.groups!);
    if (!type) continue;
    let pos = cell.start;
    while (pos < cell.end && (text[pos] === ' ' || text[pos] === '"' || text[pos] === "'")) pos++;
    if (pos >= cell.end) continue;
    const v = readValue(type, text, pos, h[0], ':');
    if (v && v.end <= cell.end) out.push({ start: pos, end: v.end, type, score: v.score, named: true });
  }
}
