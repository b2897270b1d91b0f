/**
 * National identity, tax and health numbers of many countries (type NATIONAL_ID; US ITIN is
 * SSN, in ssn.ts), each validated by its check digit(s) or structure (checksums.ts). One row per
 * format: a shape regex (linear: fixed-width groups, no nested quantifiers), a validator over the
 * compact value, and whether it may match on its own:
 *  - `free`: the shape is distinctive (letters in fixed places, a separator layout, a long
 *    check) — matched anywhere, score 1;
 *  - `context`: a plain run of digits (PESEL, BSN, TFN, Steuer-ID, TC Kimlik, …) — only after
 *    the format's own names (PESEL; BSN/burgerservicenummer; Steuer-ID/IdNr; …) on its line (or
 *    the question line it answers), or in a table column headed by one, with nothing numeric
 *    in between; score 0.9. Each row has its own words, so an 11-digit number after "PESEL" is
 *    not also tried as a CPF or TC Kimlik.
 * A match glued to letters or digits, or inside a longer dashed/dotted number, is skipped.
 */
import * as C from './checksums.js';
import type { TextContext } from './textctx.js';
import { type Candidate, CONTEXT_ONLY, VALIDATED, isWordChar } from './util.js';

interface Row {
  readonly name: string;
  readonly re: RegExp;
  readonly valid: (compact: string) => boolean;
  /** null: matched anywhere; else the words (this format's names) that must precede it. */
  readonly words: RegExp | null;
  /** Separators that are part of the value (HETU's century sign). */
  readonly keepDash?: boolean;
}

const words = (src: string) => new RegExp(`(?<![\\p{L}\\p{N}])(?:${src})(?![\\p{L}])`, 'iu');
const row = (name: string, src: string, valid: (s: string) => boolean, ctx: string | null, flags = 'g', keepDash = false): Row => ({
  name,
  re: new RegExp(src, flags),
  valid,
  words: ctx === null ? null : words(ctx),
  keepDash,
});
const GENERIC = 'national[\\s_-]?(?:id|identity|identification)(?:[\\s_-]?(?:no|number|card))?|identity[\\s_-]?(?:no|number|card)|citizen[\\s_-]?id';

const ROWS: readonly Row[] = [
  row('nhs', '\\d{3}([ -]?)\\d{3}\\1\\d{4}', C.nhsValid, 'nhs|health[\\s_-]?(?:service|care)[\\s_-]?(?:no|number)'),
  row('nino', '[A-Z]{2} ?\\d{2} ?\\d{2} ?\\d{2} ?[A-D]', C.ninoValid, null),
  row('nino-ctx', '[a-z]{2} ?\\d{2} ?\\d{2} ?\\d{2} ?[a-d]', (s) => C.ninoValid(s), 'nino|ni[\\s_-]?(?:no|number)|national[\\s_-]?insurance', 'gi'),
  row('sin', '\\d{3}([ -])\\d{3}\\1\\d{3}', C.sinValid, null),
  row('sin-ctx', '\\d{9}', C.sinValid, 'sin|social[\\s_-]?insurance|nas|num[ée]ro[\\s_-]?d[\'’]assurance[\\s_-]?sociale'),
  row('aadhaar/mynumber', '\\d{4}([ -])\\d{4}\\1\\d{4}', (s) => C.aadhaarValid(s) || C.myNumberValid(s), null),
  row('aadhaar-ctx', '\\d{12}', (s) => C.aadhaarValid(s) || C.myNumberValid(s), `aadhaa?r|uid|uidai|my[\\s_-]?number|マイナンバー|個人番号|${GENERIC}`),
  row('pan', '[A-Z]{3}[ABCFGHJLPT][A-Z]\\d{4}[A-Z]', C.panValid, null),
  row('pesel', '\\d{11}', C.peselValid, 'pesel'),
  row('dni/nie', '(?:[XYZ][ -]?\\d{7}|\\d{8})[ -]?[A-Z]', C.dniNieValid, null),
  row('codice-fiscale', '[A-Z]{6}[0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{3}[A-Z]', C.codiceFiscaleValid, null),
  row('bsn', '\\d{9}|\\d{4}\\.\\d{2}\\.\\d{3}', C.bsnValid, 'bsn|burgerservicenummer|sofi[\\s_-]?nummer|citizen[\\s_-]?service[\\s_-]?number'),
  row('cpf', '\\d{3}\\.\\d{3}\\.\\d{3}-\\d{2}', C.cpfValid, null),
  row('cpf-ctx', '\\d{11}', C.cpfValid, 'cpf'),
  row('curp', '[A-Z]{4}\\d{6}[HMX][A-Z]{5}[A-Z0-9]\\d', C.curpValid, null),
  row('za-id', '\\d{6} ?\\d{4} ?\\d{3}', C.zaIdValid, null),
  row('nric', '[STFGM]\\d{7}[A-Z]', C.nricValid, null),
  row('tfn', '\\d{3} ?\\d{3} ?\\d{2,3}', C.tfnValid, 'tfn|tax[\\s_-]?file'),
  row('medicare-au', '[2-6]\\d{3} ?\\d{5} ?\\d(?:[ /-]?\\d)?', C.medicareAuValid, 'medicare'),
  row('nhi', '[A-HJ-NP-Z]{3}\\d{2}(?:\\d{2}|[A-HJ-NP-Z]{2})', C.nhiValid, 'nhi|national[\\s_-]?health[\\s_-]?index'),
  // spaced as on the carte Vitale anywhere; compact 15 digits only after its names
  row('nir', '[12] \\d{2} (?:0[1-9]|1[0-2]) (?:\\d{2}|2A|2B) \\d{3} \\d{3} \\d{2}', C.nirValid, null),
  row('nir-ctx', '[1-478] ?\\d{2} ?\\d{2} ?(?:\\d{2}|2A|2B) ?\\d{3} ?\\d{3} ?\\d{2}', C.nirValid, 'nir|insee|s[ée]curit[ée][\\s_-]?sociale|s[ée]cu|social[\\s_-]?security|carte[\\s_-]?vitale|n°[\\s_-]?ss'),
  row('steuer-id', '\\d{2} ?\\d{3} ?\\d{3} ?\\d{3}', C.steuerIdValid, 'steuer[\\s_-]?id|steuerliche|steuer[\\s_-]?identifikationsnummer|identifikationsnummer|idnr|tax[\\s_-]?id|tin'),
  row('personnummer', '(?:\\d{2})?\\d{6}[-+]\\d{4}', C.personnummerValid, null),
  row('personnummer-ctx', '\\d{12}|\\d{10}', C.personnummerValid, 'personnummer|person[\\s_-]?number|samordningsnummer'),
  row('china-id', '\\d{17}[\\dXx]', (s) => C.chinaIdValid(s), null),
  row('rrn', '\\d{6}-[1-8]\\d{6}', (s) => C.rrnValid(s, true), null),
  row('rrn-ctx', '\\d{6}-?[1-8]\\d{6}', (s) => C.rrnValid(s, false), 'rrn|resident[\\s_-]?registration|주민등록번호|주민번호'),
  row('ppsn', '\\d{7}[A-W][A-IW]?', C.ppsnValid, null),
  row('tc-kimlik', '\\d{11}', C.tcKimlikValid, 'tc|t\\.c\\.|kimlik|tckn|tc[\\s_-]?no'),
  row('hetu', '\\d{6}[-+A-FU-Y]\\d{3}[0-9A-Y]', C.hetuValid, null, 'g', true),
  row('thai-id', '\\d{13}|\\d-\\d{4}-\\d{5}-\\d{2}-\\d', C.thaiIdValid, `thai[\\s_-]?id|บัตรประชาชน|${GENERIC}`),
];

/** Not glued to a word or inside a longer dashed / dotted / slashed number. */
export function standsAlone(text: string, start: number, end: number): boolean {
  if (isWordChar(text, start - 1) || isWordChar(text, end)) return false;
  const b = text[start - 1];
  // one group of a longer spaced number ("4111 1111 1111 1112", "DE89 3704 0044 0532 0130 01")
  if (b === ' ' && /\d/.test(text[start - 2] ?? '')) return false;
  if (text[end] === ' ' && /\d/.test(text[end + 1] ?? '') && /\d \d/.test(text.slice(start, end))) return false;
  if ((b === '-' || b === '.' || b === '/') && isWordChar(text, start - 2)) return false;
  const a = text[end];
  if ((a === '-' || a === '/' || (a === '.' && /\d/.test(text[end + 1] ?? ''))) && isWordChar(text, end + 1)) return false;
  return true;
}

const compactOf = (s: string) => s.replace(/[\s./-]/g, '').toUpperCase();

/** Whether an identity word precedes `pos` (same line, an answer's question line, or column header). */
export function hasIdContext(ctx: TextContext, pos: number, words: RegExp): boolean {
  return ctx.wordBefore(pos, words) || words.test(ctx.header(pos));
}

export function findNationalIds(text: string, out: Candidate[], ctx: TextContext): void {
  for (const _ of nationalIdSteps(text, out, ctx));
}

/** {@link findNationalIds} as steps: one `yield` after each format's scan of the whole text. */
export function* nationalIdSteps(text: string, out: Candidate[], ctx: TextContext): Generator<void, void> {
  if (!/\d/.test(text)) return;
  for (const r of ROWS) {
    yield;
    r.re.lastIndex = 0;
    for (const m of text.matchAll(r.re)) {
      const start = m.index!;
      const end = start + m[0].length;
      if (!standsAlone(text, start, end)) continue;
      const compact = r.keepDash ? m[0].replace(/\s/g, '').toUpperCase() : compactOf(m[0]);
      if (!r.valid(compact)) continue;
      if (r.words === null) out.push({ start, end, type: 'NATIONAL_ID', score: VALIDATED });
      else if (hasIdContext(ctx, start, r.words)) out.push({ start, end, type: 'NATIONAL_ID', score: CONTEXT_ONLY });
    }
  }
}
