/**
 * Dates of birth (type DOB). Every date in the text is read in its common written forms —
 * `1985-12-03`, `03/12/1985`, `3.12.85`, `3 Dec 1985`, `December 3rd, 1985`, `3rd of December
 * 1985`, `March 1985`, `22AUG79` (airline), `1985. december 3.` (Hungarian), spelled-out
 * ("Nineteenth of August, eighty-seven", "March fourth nineteen seventy-two"), with month names
 * in English, German, French, Spanish, Dutch, Italian, Portuguese and Hungarian — and only
 * those next to a birth word are reported: DOB, born, date of birth, né(e), geb./geboren,
 * fecha de nacimiento, nacido/a, data di nascita, geboortedatum, született, … before it (its
 * line, the question line it answers, or its table column header), or a `field date_of_birth`
 * after it. A date right after a reported one with only a name between ("DOBs: Ann 1.2.1960,
 * Bob 3.4.1961") and any other date in the text naming the same day are reported too.
 * Appointment, invoice and log dates stay. `YYYYMMDD` counts only after a birth word or in an
 * HL7 PID segment. Every matcher is sticky and bounded: linear in the text.
 */
import type { TextContext } from './textctx.js';
import { type Candidate, CONTEXT_ONLY, isWordChar } from './util.js';

const MONTH_NAMES: ReadonlyArray<readonly string[]> = [
  ['january', 'jan', 'januar', 'janvier', 'enero', 'januari', 'gennaio', 'janeiro', 'január', 'jänner'],
  ['february', 'feb', 'februar', 'février', 'fevrier', 'febrero', 'februari', 'febbraio', 'fevereiro', 'február'],
  ['march', 'mar', 'märz', 'maerz', 'mars', 'marzo', 'maart', 'março', 'marco', 'március', 'mär'],
  ['april', 'apr', 'avril', 'abril', 'aprile', 'április', 'avr'],
  ['may', 'mai', 'mayo', 'mei', 'maggio', 'maio', 'május'],
  ['june', 'jun', 'juni', 'juin', 'junio', 'giugno', 'junho', 'június'],
  ['july', 'jul', 'juli', 'juillet', 'julio', 'luglio', 'julho', 'július', 'juil'],
  ['august', 'aug', 'août', 'aout', 'agosto', 'augustus', 'augusztus', 'ago'],
  ['september', 'sep', 'sept', 'septembre', 'septiembre', 'setiembre', 'settembre', 'setembro', 'szeptember', 'set'],
  ['october', 'oct', 'oktober', 'octobre', 'octubre', 'ottobre', 'outubro', 'október', 'okt', 'out'],
  ['november', 'nov', 'novembre', 'noviembre', 'novembro'],
  ['december', 'dec', 'dezember', 'décembre', 'decembre', 'diciembre', 'dicembre', 'dezembro', 'dez', 'dic'],
];
const MONTH_OF = new Map<string, number>();
MONTH_NAMES.forEach((names, i) => names.forEach((n) => MONTH_OF.set(n, i + 1)));
const MONTH = `(${[...MONTH_OF.keys()].sort((a, b) => b.length - a.length).join('|')})\\.?`;

const UNITS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth', 'tenth', 'eleventh', 'twelfth', 'thirteenth', 'fourteenth', 'fifteenth', 'sixteenth', 'seventeenth', 'eighteenth', 'nineteenth', 'twentieth'];
const ORD_OF = new Map<string, number>(ORDINALS.map((w, i) => [w, i + 1]));
ORD_OF.set('thirtieth', 30);
for (const [base, n] of [['twenty', 20], ['thirty', 30]] as const)
  for (const [w, i] of ORDINALS.slice(0, 9).map((w, i) => [w, i + 1] as const)) if (n + i <= 31) ORD_OF.set(`${base} ${w}`, n + i);
const ORD_WORD = `(?:(?:twenty|thirty)[- ]?(?:${ORDINALS.slice(0, 9).join('|')})|${ORDINALS.join('|')}|thirtieth)`;
const TENS = 'twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety';
const TEENS = 'ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen';
const TWO_WORDS = `(?:(?:${TENS})(?:[- ](?:${UNITS.join('|')}))?|${TEENS}|oh[- ](?:${UNITS.join('|')}))`;
const YEAR_WORDS = `(?:(?:nineteen|twenty)[- ](?:hundred|${TWO_WORDS})|two thousand(?: and)?(?: (?:${UNITS.join('|')}|${TEENS}|${TENS}(?:[- ](?:${UNITS.join('|')}))?))?|${TWO_WORDS})`;
const YEAR = `(\\d{4}|'?\\d{2}|${YEAR_WORDS})`;
const DAY_SUFFIX = '(?:st|nd|rd|th|er|e|\\.|º)?';

const F = 'iuy';
const ISO = /(\d{4})([-/.])(\d{1,2})\2(\d{1,2})/y;
const NUMERIC = /(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})/y;
const DMY = new RegExp(`(\\d{1,2}|${ORD_WORD})${DAY_SUFFIX}(?:\\s+(?:of|de|del|du))?[\\s-]+${MONTH}(?:,?[\\s-]+(?:(?:de|del|of)\\s+)?)${YEAR}`, F);
const MDY = new RegExp(`${MONTH}\\s+(?:the\\s+)?(\\d{1,2}|${ORD_WORD})(?:st|nd|rd|th)?,?\\s+${YEAR}`, F);
const MY = new RegExp(`${MONTH},?\\s+(\\d{4})`, F);
const AIRLINE = /(\d{2})(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(\d{4}|\d{2})/iy;
const HU = new RegExp(`(\\d{4})\\.\\s*${MONTH}\\s+(\\d{1,2})\\.?`, F);
const COMPACT = /((?:19|20)\d{2})(\d{2})(\d{2})/y;

/** Where a date may start: a digit, or a word whose first three letters begin a month or ordinal name. */
const WORD_STARTS = [...new Set([...MONTH_OF.keys(), ...ORDINALS, 'thirtieth'].map((w) => w.slice(0, 3)))];
const STARTS = new RegExp(`(?<![\\p{L}\\p{N}_])(?:\\d|${WORD_STARTS.map((w) => w.replace(/[.]/g, '\\.')).join('|')})`, 'giu');

function wordNumber(w: string): number {
  const s = w.toLowerCase().replace(/-/g, ' ').trim();
  const parts = s.split(/\s+/);
  const unit = (x: string) => UNITS.indexOf(x) + 1;
  const small = (ws: string[]): number => {
    if (ws.length === 0) return 0;
    if (ws[0] === 'oh') return unit(ws[1] ?? '');
    const t = TENS.split('|').indexOf(ws[0]!);
    if (t >= 0) return (t + 2) * 10 + (ws[1] ? unit(ws[1]) : 0);
    const teen = TEENS.split('|').indexOf(ws[0]!);
    if (teen >= 0) return 10 + teen;
    return unit(ws[0]!);
  };
  if (parts[0] === 'two' && parts[1] === 'thousand') return 2000 + small(parts.slice(2).filter((p) => p !== 'and'));
  if ((parts[0] === 'nineteen' || parts[0] === 'twenty') && parts.length > 1) {
    const c = parts[0] === 'nineteen' ? 1900 : 2000;
    return parts[1] === 'hundred' ? c : c + small(parts.slice(1));
  }
  return small(parts);
}

function year(raw: string): number {
  const r = raw.replace("'", '');
  if (/^\d{4}$/.test(r)) return Number(r);
  const n = /^\d{2}$/.test(r) ? Number(r) : wordNumber(r);
  return n >= 100 ? n : n + (n > 30 ? 1900 : 2000);
}

const day = (raw: string) => (/^\d/.test(raw) ? Number(raw) : ORD_OF.get(raw.toLowerCase().replace(/-/g, ' ').replace(/\s+/g, ' ')) ?? 0);
const monthOf = (raw: string) => MONTH_OF.get(raw.toLowerCase().replace(/\.$/, '')) ?? 0;
const okDM = (d: number, m: number) => d >= 1 && d <= 31 && m >= 1 && m <= 12;

export interface FoundDate {
  start: number;
  end: number;
  /** `YYYY-MM-DD` readings (two when day and month may be swapped); month precision `YYYY-MM`. */
  keys: string[];
  compact: boolean;
}

const key = (y: number, m: number, d?: number) =>
  `${y}-${String(m).padStart(2, '0')}${d === undefined ? '' : '-' + String(d).padStart(2, '0')}`;

/** Reads one date starting exactly at `pos`, or null. */
export function readDate(text: string, pos: number): FoundDate | null {
  const at = (re: RegExp) => {
    re.lastIndex = pos;
    return re.exec(text);
  };
  const done = (len: number, keys: string[], compact = false): FoundDate | null => {
    const end = pos + len;
    if (keys.length === 0 || isWordChar(text, end)) return null;
    if ((text[end] === '.' || text[end] === '-' || text[end] === '/') && /\d/.test(text[end + 1] ?? '')) return null;
    return { start: pos, end, keys, compact };
  };
  let m: RegExpExecArray | null;
  if (/\d/.test(text[pos]!)) {
    if ((m = at(ISO)) && okDM(Number(m[4]), Number(m[3]))) return done(m[0].length, [key(Number(m[1]), Number(m[3]), Number(m[4]))]);
    if ((m = at(HU))) {
      const mo = monthOf(m[2]!);
      if (okDM(Number(m[3]), mo)) return done(m[0].length, [key(Number(m[1]), mo, Number(m[3]))]);
    }
    if ((m = at(NUMERIC))) {
      const a = Number(m[1]);
      const b = Number(m[3]);
      const y = year(m[4]!);
      const keys: string[] = [];
      if (okDM(b, a)) keys.push(key(y, a, b));
      if (okDM(a, b) && a !== b) keys.push(key(y, b, a));
      if (keys.length) return done(m[0].length, keys);
    }
    if ((m = at(AIRLINE))) {
      const mo = monthOf(m[2]!);
      if (okDM(Number(m[1]), mo)) return done(m[0].length, [key(year(m[3]!), mo, Number(m[1]))]);
    }
    if ((m = at(COMPACT)) && okDM(Number(m[3]), Number(m[2]))) return done(m[0].length, [key(Number(m[1]), Number(m[2]), Number(m[3]))], true);
  }
  if ((m = at(DMY))) {
    const d = day(m[1]!);
    const mo = monthOf(m[2]!);
    if (okDM(d, mo)) return done(m[0].length, [key(year(m[3]!), mo, d)]);
  }
  if ((m = at(MDY))) {
    const d = day(m[2]!);
    const mo = monthOf(m[1]!);
    if (okDM(d, mo)) return done(m[0].length, [key(year(m[3]!), mo, d)]);
  }
  if ((m = at(MY))) {
    const mo = monthOf(m[1]!);
    if (mo) return done(m[0].length, [key(Number(m[2]), mo)]);
  }
  return null;
}

/** Birth words, several languages. */
export const BIRTH_CONTEXT = new RegExp(
  '(?<![\\p{L}\\p{N}])(?:' +
    [
      'dob', 'd\\.o\\.b', 'dobs', 'date[\\s_-]?of[\\s_-]?birth', 'dates[\\s_-]?of[\\s_-]?birth', 'birth[\\s_-]?date', 'birthdate', 'birthday', 'birth',
      'born', 'b\\.', 'n[ée]e?', 'date[\\s_-]de[\\s_-]naissance', 'naissance', 'geb\\.', 'geboren', 'geburtsdatum', 'geburtstag',
      'fecha[\\s_-]de[\\s_-]nacimiento', 'nacid[oa]', 'f\\.?[\\s_-]?nac', 'nascid[oa]', 'data[\\s_-]de[\\s_-]nascimento', 'nat[oa]', 'data[\\s_-]di[\\s_-]nascita',
      'geboortedatum', 'geb\\.?[\\s_-]?datum', 'született', 'szül\\.?', 'születési', 'pid',
    ].join('|') +
    ')(?![\\p{L}\\p{N}])',
  'iu',
);
const BIRTH_AFTER = new RegExp(`^[^\\n.]{0,24}(?:field|column|\\()\\s*['"]?[\\w ]{0,12}${BIRTH_CONTEXT.source}`, 'iu');
/** Only capitalised words (names) between two dates of a list ("Holly 1.2.1960, Ross 3.4.1961"). */
const LIST_GAP = /^[\s,;:·|&-]*(?:\p{Lu}[\p{L}'’-]*\s*){0,2}[\s,;:·|&-]*$/u;
const MAX_DATES = 2000;

export function findDobs(text: string, out: Candidate[], ctx: TextContext): void {
  const dates: FoundDate[] = [];
  let next = 0;
  for (const m of text.matchAll(STARTS)) {
    const i = m.index!;
    if (i < next) continue;
    const d = readDate(text, i);
    if (!d) continue;
    dates.push(d);
    next = d.end;
    if (dates.length >= MAX_DATES) break;
  }
  if (dates.length === 0) return;
  const isDob = new Array<boolean>(dates.length).fill(false);
  const dobKeys = new Set<string>();
  dates.forEach((d, k) => {
    const lineStart = ctx.lineStart(ctx.lineOf(d.start));
    const hl7Pid = text.startsWith('PID|', lineStart);
    let yes = hl7Pid || ctx.wordBefore(d.start, BIRTH_CONTEXT, 64) || BIRTH_CONTEXT.test(ctx.header(d.start)) || BIRTH_AFTER.test(ctx.after(d.end));
    if (d.compact && !yes) return;
    if (!yes && k > 0 && isDob[k - 1]) {
      const gap = text.slice(dates[k - 1]!.end, d.start);
      yes = gap.length <= 24 && LIST_GAP.test(gap);
    }
    if (yes) {
      isDob[k] = true;
      for (const key of d.keys) dobKeys.add(key);
    }
  });
  dates.forEach((d, k) => {
    if (!isDob[k] && !d.compact && d.keys.some((key) => key.length === 10 && dobKeys.has(key))) isDob[k] = true;
    if (isDob[k]) out.push({ start: d.start, end: d.end, type: 'DOB', score: CONTEXT_ONLY });
  });
}
