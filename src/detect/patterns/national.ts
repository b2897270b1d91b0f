/**
 * National identity, tax and health numbers of many countries (type NATIONAL_ID; US ITIN is
 * SSN, in ssn.ts), each validated by its check digit(s) or structure (checksums.ts). One row per
 * format: a shape regex (linear: fixed-width groups, no nested quantifiers), a validator over the
 * compact value, and whether it may match on its own:
 *  - `free`: the shape is distinctive (letters in fixed places, a separator layout, a long
 *    check) — matched anywhere, score 1;
 *  - `context`: a plain run of digits (PESEL, BSN, TFN, Steuer-ID, TC Kimlik, …) — only after an
 *    identity word in one of several languages on its line (or the previous line when it opens
 *    an answer), or in a table column headed by one; score 0.9.
 * A match glued to letters or digits, or inside a longer dashed/dotted number, is skipped.
 */
import * as C from './checksums.js';
import type { TextContext } from './textctx.js';
import { type Candidate, CONTEXT_ONLY, VALIDATED, isWordChar } from './util.js';

/** Identity / tax / health number words, several languages (matched case-insensitively). */
export const NATIONAL_ID_CONTEXT = new RegExp(
  '(?<![\\p{L}\\p{N}])(?:' +
    [
      'national[\\s_-]?(?:id|identity|identification|insurance|registration)',
      'personal[\\s_-]?(?:id|number|identity|code)',
      '(?:tax|taxpayer|citizen|resident|residence|identity|identification|health|insurance|social)[\\s_-]?(?:id|no|number|card|code)',
      'id[\\s_-]?(?:no|nr|number|card|#)',
      'identity', 'identification', 'identifier',
      'ssn', 'itin', 'tin', 'ni[\\s_-]?(?:no|number)', 'nino', 'nhs', 'chi', 'sin', 'social[\\s_-]?(?:insurance|security)',
      'aadhaa?r', 'pan', 'uid', 'pesel', 'dni', 'nie', 'nif', 'cpf', 'curp', 'rfc', 'bsn', 'burgerservicenummer', 'sofinummer',
      'codice[\\s_-]?fiscale', 'steuer[\\s_-]?id', 'steuer[\\s_-]?(?:identifikations)?nummer', 'idnr', 'identifikationsnummer',
      'personalausweis', 'ausweis', 'personnummer', 'henkilötunnus', 'hetu', 'tc[\\s_-]?kimlik', 'kimlik', 'tckn',
      'rrn', 'resident[\\s_-]?registration', 'nric', 'fin', 'nhi', 'ppsn?', 'tfn', 'tax[\\s_-]?file', 'medicare',
      'my[\\s_-]?number', 'insee', 'nir', 's[ée]curit[ée][\\s_-]?sociale', 'n°[\\s_-]?ss', 'carte[\\s_-]?vitale',
      'num[ée]ro[\\s_-]?(?:d[\'’]|de[\\s_-])?(?:identit[ée]|identificaci[óo]n|fiscal)', 'documento', 'c[ée]dula', 'dui', 'rut', 'run',
      'thai[\\s_-]?id', 'citizen', 'burger', 'mynumber', 'マイナンバー', '身份证', '身分証', '주민등록번호',
    ].join('|') +
    ')(?![\\p{L}])',
  'iu',
);

interface Row {
  readonly name: string;
  readonly re: RegExp;
  readonly valid: (compact: string) => boolean;
  readonly free: boolean;
}

const row = (name: string, src: string, valid: (s: string) => boolean, free: boolean, flags = 'g'): Row => ({
  name,
  re: new RegExp(src, flags),
  valid,
  free,
});

const ROWS: readonly Row[] = [
  row('nhs', '\\d{3}([ -]?)\\d{3}\\1\\d{4}', C.nhsValid, false),
  row('nino', '[A-Z]{2} ?\\d{2} ?\\d{2} ?\\d{2} ?[A-D]', C.ninoValid, true),
  row('nino-ctx', '[a-z]{2} ?\\d{2} ?\\d{2} ?\\d{2} ?[a-d]', (s) => C.ninoValid(s), false, 'gi'),
  row('sin', '\\d{3}([ -])\\d{3}\\1\\d{3}', C.sinValid, true),
  row('sin-ctx', '\\d{9}', C.sinValid, false),
  row('aadhaar/mynumber', '\\d{4}([ -])\\d{4}\\1\\d{4}', (s) => C.aadhaarValid(s) || C.myNumberValid(s), true),
  row('aadhaar-ctx', '\\d{12}', (s) => C.aadhaarValid(s) || C.myNumberValid(s), false),
  row('pan', '[A-Z]{3}[ABCFGHJLPT][A-Z]\\d{4}[A-Z]', C.panValid, true),
  row('pesel', '\\d{11}', C.peselValid, false),
  row('dni/nie', '(?:[XYZ][ -]?\\d{7}|\\d{8})[ -]?[A-Z]', C.dniNieValid, true),
  row('codice-fiscale', '[A-Z]{6}[0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{3}[A-Z]', C.codiceFiscaleValid, true),
  row('bsn', '\\d{9}|\\d{4}\\.\\d{2}\\.\\d{3}', C.bsnValid, false),
  row('cpf', '\\d{3}\\.\\d{3}\\.\\d{3}-\\d{2}', C.cpfValid, true),
  row('cpf-ctx', '\\d{11}', C.cpfValid, false),
  row('curp', '[A-Z]{4}\\d{6}[HMX][A-Z]{5}[A-Z0-9]\\d', C.curpValid, true),
  row('za-id', '\\d{6} ?\\d{4} ?\\d{3}', C.zaIdValid, true),
  row('nric', '[STFGM]\\d{7}[A-Z]', C.nricValid, true),
  row('tfn', '\\d{3} ?\\d{3} ?\\d{2,3}', C.tfnValid, false),
  row('medicare-au', '[2-6]\\d{3} ?\\d{5} ?\\d(?:[ /-]?\\d)?', C.medicareAuValid, false),
  row('nhi', '[A-HJ-NP-Z]{3}\\d{2}(?:\\d{2}|[A-HJ-NP-Z]{2})', C.nhiValid, false),
  row('nir', '[1-478] ?\\d{2} ?\\d{2} ?(?:\\d{2}|2A|2B) ?\\d{3} ?\\d{3} ?\\d{2}', C.nirValid, true),
  row('steuer-id', '\\d{2} ?\\d{3} ?\\d{3} ?\\d{3}', C.steuerIdValid, false),
  row('personnummer', '(?:\\d{2})?\\d{6}[-+]\\d{4}', C.personnummerValid, true),
  row('personnummer-ctx', '\\d{12}|\\d{10}', C.personnummerValid, false),
  row('china-id', '\\d{17}[\\dXx]', (s) => C.chinaIdValid(s), true),
  row('rrn', '\\d{6}-[1-8]\\d{6}', (s) => C.rrnValid(s, true), true),
  row('rrn-ctx', '\\d{6}-?[1-8]\\d{6}', (s) => C.rrnValid(s, false), false),
  row('ppsn', '\\d{7}[A-W][A-IW]?', C.ppsnValid, true),
  row('tc-kimlik', '\\d{11}', C.tcKimlikValid, false),
  row('hetu', '\\d{6}[-+A-FU-Y]\\d{3}[0-9A-Y]', C.hetuValid, true),
  row('thai-id', '\\d{13}|\\d-\\d{4}-\\d{5}-\\d{2}-\\d', C.thaiIdValid, false),
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
export function hasIdContext(ctx: TextContext, pos: number, words: RegExp = NATIONAL_ID_CONTEXT): boolean {
  return ctx.wordBefore(pos, words) || words.test(ctx.header(pos));
}

export function findNationalIds(text: string, out: Candidate[], ctx: TextContext): void {
  if (!/\d/.test(text)) return;
  for (const r of ROWS) {
    r.re.lastIndex = 0;
    for (const m of text.matchAll(r.re)) {
      const start = m.index!;
      const end = start + m[0].length;
      if (!standsAlone(text, start, end)) continue;
      if (!r.valid(compactOf(m[0]))) continue;
      if (r.free) out.push({ start, end, type: 'NATIONAL_ID', score: VALIDATED });
      else if (hasIdContext(ctx, start)) out.push({ start, end, type: 'NATIONAL_ID', score: CONTEXT_ONLY });
    }
  }
}
