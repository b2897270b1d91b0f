/**
 * Street addresses (type ADDRESS), one span per line — an address split across lines gives one
 * span per line, never one across a line break. Found by shape, not by a gazetteer:
 *  - a street line: house number + capitalised name + street type ("22 Baker Street",
 *    "4410 E Camelback Rd #212", "Flat 3, 58 Cathedral Road"), the continental orders
 *    ("Lindenstraße 42", "Keizersgracht 412", "14 rue des Capucins", "Via Paolo Sarpi 14",
 *    "Calle de Alfonso I 23"), Indian house/sector lines ("House No. 1187, Sector 15-B"), PO boxes;
 *    then its tail on the same line: units, localities, a city, a state and ZIP, a postcode
 *    ("…, Cardiff CF11 9LL", "…, San Diego, CA 92103", "…, 69001 Lyon", "…, Chandigarh 160015");
 *  - a UK postcode on its own ("LS6 2QP", with the town before it: "Kingsbridge TQ7 1DX");
 *  - after an address word (Address:, Adresse, Anschrift, Dirección, Indirizzo, Residenza,
 *    Endereço, 住所, "lives at", JSON keys line1/street/address): the rest of the value on
 *    that line when it holds a digit (Japanese 〒 addresses, Philippine Blk/Lot lines, …).
 * Every regex is sticky or has bounded repetition from a fixed anchor: linear in the text.
 */
import type { TextContext } from './textctx.js';
import { type Candidate, CONTEXT_ONLY, isWordChar } from './util.js';

const CAP = "[\\p{Lu}][\\p{L}'’.-]*";
const NUM = '\\d{1,5}[A-Za-z]?(?:[-/]\\d{1,5}[A-Za-z]?)?';
const STREET_TYPES =
  'Street|St|Road|Rd|Avenue|Ave|Av|Lane|Ln|Drive|Dr|Close|Cl|Court|Ct|Way|Mews|Gardens|Gdns|Crescent|Cres|Terrace|Terr|Place|Pl|Boulevard|Blvd|Square|Sq|Parkway|Pkwy|Highway|Hwy|Row|Grove|Gr|Hill|Walk|View|Rise|Green|Park|Circle|Cir|Trail|Trl|Broadway|Esplanade|Parade|Pde|Quay|Wharf|Heights|Hts|Vale|Wynd|Loop|Pike|Plaza|Causeway|Embankment|Crossing|Point|Ridge|Meadows|Chase|Croft|Yard';
const ABBREVIATIONS = new Set('St Rd Ave Av Ln Dr Cl Ct Gdns Cres Terr Pl Blvd Sq Pkwy Hwy Gr Cir Trl Pde Hts Brgy Apt Ste Bldg Blk'.split(' '));
const UNIT = `(?:Flat|Apt|Apartment|Unit|Suite|Ste|Room|Floor|Fl|Level|Lvl|Blk|Block|Lot|Bldg|Building)\\.?[ \\t\\u00a0]?[\\w-]{1,6}`;
const UK_POSTCODE = '(?:[A-Z]{1,2}\\d[A-Z\\d]?|GIR) ?\\d[A-Z]{2}';

/** English order: number [direction] Name Name Type [direction] [#unit]; a unit before it is added after. */
const EN_STREET = new RegExp(
  `${NUM},?[ \\t\\u00a0](?:[NSEW]\\.?[ \\t\\u00a0]|North[ \\t\\u00a0]|South[ \\t\\u00a0]|East[ \\t\\u00a0]|West[ \\t\\u00a0])?(?:(?:${CAP}[ \\t\\u00a0]){1,3}(?:${STREET_TYPES})|Broadway)\\.?(?:[ \\t\\u00a0](?:NW|NE|SW|SE|N|S|E|W))?(?:[ \\t\\u00a0]?#[ \\t\\u00a0]?[\\w-]{1,6})?(?![\\p{L}\\p{N}])`,
  'gu',
);
const UNIT_BEFORE = new RegExp(`${UNIT},?[ \\t\\u00a0]$`, 'u');

/** Compound street names with the type as suffix, number after (1–3 digits, so "During 1971" is not "…ring 1971"): Lindenstraße 42, Keizersgracht 412-III. */
const SUFFIX_STREET = new RegExp(
  `(?:${CAP}[ \\t\\u00a0])?[\\p{Lu}][\\p{L}-]*(?:straße|strasse|str\\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|gracht|straat|laan|plein|kade|singel|dijk|steeg|vej|gade|gatan|gata|vägen|veien|katu|tie|utca|út|tér|körút)[ \\t\\u00a0]\\d{1,3}[a-zA-Z]?(?:[-/][\\dIVX]{1,4})?(?![\\p{L}\\p{N}])`,
  'gu',
);
/** Romance order: 14 rue des Capucins / Via Paolo Sarpi 14 / Calle de Alfonso I 23. */
const ROMANCE_NUM_FIRST = new RegExp(
  `\\d{1,4}(?:[ \\t\\u00a0]?(?:bis|ter))?,?[ \\t\\u00a0](?:[Rr]ue|[Aa]venue|[Aa]v\\.|[Bb]d|[Bb]oulevard|[Pp]lace|[Cc]hemin|[Aa]llée|[Ii]mpasse|[Qq]uai|[Rr]oute|[Cc]ours|[Pp]assage)(?:[ \\t\\u00a0](?:de|du|des|la|le|les|l['’]|d['’]|de la)?[ \\t\\u00a0]?${CAP}){1,4}`,
  'gu',
);
const ROMANCE_TYPE_FIRST = new RegExp(
  `(?:Calle|C\\/|Avenida|Avda\\.?|Paseo|Plaza|Pza\\.?|Carrera|Carretera|Camino|Ronda|Travesía|Rua|Praça|Travessa|Estrada|Via|Viale|Piazza|Corso|Largo|Vicolo|Strada)(?:[ \\t\\u00a0](?:de|del|de la|la|las|los|da|do|das|dos|di|della|delle|dei)?[ \\t\\u00a0]?${CAP}){1,4},?[ \\t\\u00a0]\\d{1,4}[A-Za-z]?`,
  'gu',
);
const INDIAN = new RegExp(`(?:House|H\\.|Plot|Door|Flat)[ \\t\\u00a0]?No\\.?[ \\t\\u00a0]?[\\w/-]{1,8}`, 'gu');
const PO_BOX = /\b(?:P\.?[ \t]?O\.?[ \t]?Box|Postfach|Apartado|Case postale)[ \t]?\d{1,6}/gu;
/** A UK postcode with its space, and the town right before it ("Kingsbridge TQ7 1DX"). */
const UK_PC_ALONE = new RegExp(`(?:[\\p{Lu}][\\p{Ll}'’.-]+[ \\t\\u00a0])?(?:[A-Z]{1,2}\\d[A-Z\\d]?|GIR) \\d[A-Z]{2}(?![\\p{L}\\p{N}])`, 'gu');

/** One more piece of the same line: ", Apt 3", ", Cardiff CF11 9LL", ", CA 92103", ", 69001 Lyon". */
const TAIL = new RegExp(
  `(?:,[ \\t\\u00a0]?|[ \\t\\u00a0])(?:${UNIT}|#[ \\t\\u00a0]?[\\w-]{1,6}|Sector[ \\t\\u00a0][\\w-]{1,6}|Phase[ \\t\\u00a0][\\w-]{1,4}|[A-Z]{2,3}[ \\t\\u00a0]\\d{4,5}(?:-\\d{4})?|${UK_POSTCODE}|〒?\\d{3,6}(?:-\\d{3,4})?(?:[ \\t\\u00a0]${CAP}){1,2}(?:[ \\t\\u00a0][A-Z]{2})?|\\d{1,4}(?=,)|\\d{4,6}|\\d{4}[ \\t\\u00a0]?[A-Z]{2}(?:[ \\t\\u00a0]${CAP})?|(?:${CAP}[ \\t\\u00a0]){0,2}${CAP}(?:[ \\t\\u00a0]${UK_POSTCODE}|[ \\t\\u00a0][A-Z]{2,3}[ \\t\\u00a0]\\d{4,5}|[ \\t\\u00a0]\\d{4,6})?)(?![\\p{L}\\p{N}])`,
  'uy',
);
const MAX_TAIL = 6;

/** Address keys (need `:`/`=` after them) and phrases (need nothing). */
const ADDRESS_KEY =
  /(?<![\p{L}\p{N}])(?:(?:home |postal |mailing |billing |shipping |service |street |residential )?address(?:es)?|adresse|anschrift|wohnort|dirección|direccion|domicilio|indirizzo|residenza|endereço|morada|adres|cím|lakcím|住所|所在地|주소|line_?1|address_?line_?1|street|addr)(?![\p{L}\p{N}])/giu;
const ADDRESS_PHRASE = /(?<![\p{L}\p{N}])(?:lives at|living at|resides at|residing at|mailed to)[ \t]+(?=\d|(?:Flat|Apt|Unit|Suite|P\.?O\.?)\b)/giu;
const KEY_FILLER = /^[ \t]*(?:\([^)\n]{0,20}\))?[ \t]*["']?[ \t]*[:=][ \t]*["']?[ \t]*/u;
const VALUE_END = /["'\n;|·•(]|\s{3,}| — | - |\s(?:Attention|Attn|Tel|Tél|Phone|Fax|E-?mail|Telecopier|Mobile|Contact)\b/u;

function extendTail(text: string, end: number, lineEnd: number): number {
  for (let k = 0; k < MAX_TAIL; k++) {
    TAIL.lastIndex = end;
    const m = TAIL.exec(text);
    if (!m || end + m[0].length > lineEnd) break;
    // a plain capitalised word joins only after a comma ("…, Cardiff"), not after a space ("… Road Then")
    if (!m[0].startsWith(',') && /^\s[\p{Lu}][\p{Ll}]/u.test(m[0]) && !/\d|[A-Z]{2}\s?\d/.test(m[0])) break;
    end += m[0].length;
  }
  return end;
}

function push(text: string, out: Candidate[], start: number, end: number, ctx: TextContext): void {
  if (isWordChar(text, start - 1)) return;
  // the tail of a bigger number ("240,000 square …", "1.500 Place")
  if ((text[start - 1] === ',' || text[start - 1] === '.') && /\d/.test(text[start - 2] ?? '')) return;
  const lineEnd = ctx.lineEnd(ctx.lineOf(start));
  let e = extendTail(text, end, lineEnd);
  // a sentence's full stop is not part of the address ("… 69003 Lyon.", "… Kiln Lane."); "St." and "Blvd." keep theirs
  if (text[e - 1] === '.') {
    const last = /[\p{L}]+\.$/u.exec(text.slice(Math.max(start, e - 20), e))?.[0].slice(0, -1) ?? '';
    if (last.length > 2 && !ABBREVIATIONS.has(last)) e--;
  }
  out.push({ start, end: e, type: 'ADDRESS', score: CONTEXT_ONLY });
}

export function findAddresses(text: string, out: Candidate[], ctx: TextContext): void {
  const hasDigit = /\d/.test(text);
  if (!hasDigit) return;
  for (const m of text.matchAll(EN_STREET)) {
    let start = m.index!;
    if (isWordChar(text, start - 1)) continue;
    const unit = UNIT_BEFORE.exec(text.slice(Math.max(0, start - 20), start));
    if (unit) start -= unit[0].length;
    push(text, out, start, m.index! + m[0].length, ctx);
  }
  for (const re of [SUFFIX_STREET, ROMANCE_NUM_FIRST, ROMANCE_TYPE_FIRST, INDIAN, PO_BOX]) {
    for (const m of text.matchAll(re)) push(text, out, m.index!, m.index! + m[0].length, ctx);
  }
  for (const m of text.matchAll(UK_PC_ALONE)) {
    const start = m.index!;
    if (isWordChar(text, start - 1)) continue;
    out.push({ start, end: start + m[0].length, type: 'ADDRESS', score: CONTEXT_ONLY });
  }
  // after an address key or phrase: the value on that line when it holds a digit
  const starts: number[] = [];
  for (const m of text.matchAll(ADDRESS_KEY)) {
    const after = m.index! + m[0].length;
    const f = KEY_FILLER.exec(text.slice(after, after + 30));
    if (f) starts.push(after + f[0].length);
  }
  for (const m of text.matchAll(ADDRESS_PHRASE)) starts.push(m.index! + m[0].length);
  for (const pos of starts) {
    if (pos >= text.length || text[pos] === '\n') continue;
    const lineEnd = ctx.lineEnd(ctx.lineOf(pos));
    const rest = text.slice(pos, Math.min(lineEnd, pos + 160));
    const stop = VALUE_END.exec(rest);
    let value = stop ? rest.slice(0, stop.index) : rest;
    // a sentence ends the value ("… Lane. Her son visits"); an abbreviation before a town does
    // not ("Elm Ave. Denver CO 80212"): a new sentence is a capitalised word then a lowercase one
    const sentence = /[.!?] +(?=\p{Lu}\p{Ll}*\s+\p{Ll})/u.exec(value);
    if (sentence) value = value.slice(0, sentence.index);
    value = value.replace(/[\s,.;:]+$/u, '');
    if (value.length < 4 || !/\d/.test(value) || !/\p{L}/u.test(value)) continue;
    out.push({ start: pos, end: pos + value.length, type: 'ADDRESS', score: CONTEXT_ONLY });
  }
}
