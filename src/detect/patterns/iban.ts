import { type Candidate, VALIDATED, isWordChar } from './util.js';

/**
 * IBAN: two letters (a country with an IBAN), two check digits, then the BBAN, written compact
 * or in groups of four separated by single spaces. The length must be the country's and the
 * ISO 13616 mod-97 check must equal 1. Case-insensitive (normalized to upper case to check).
 */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28,
  IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20,
  LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28,
  NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24,
  SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30, TR: 26,
  // in national use but not (yet) in the SWIFT registry
  AO: 25, BF: 28, BJ: 28, CF: 27, CG: 27, CI: 28, CM: 27, CV: 25, DZ: 26, GA: 27, GQ: 27, GW: 25,
  IR: 26, KM: 27, MA: 28, MG: 27, ML: 28, MZ: 25, NE: 28, SN: 28, TD: 27, TG: 28,
};

// Only the start is found by regex; the body is read by a linear scan.
const IBAN_START = /[A-Z]{2}\d{2}/gi;

/** ISO 13616 mod-97 over a compact upper-case IBAN. */
export function ibanChecksumOk(iban: string): boolean {
  const re = iban.slice(4) + iban.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < re.length; i++) {
    const c = re.charCodeAt(i);
    const v = c >= 65 && c <= 90 ? c - 55 : c >= 48 && c <= 57 ? c - 48 : -1;
    if (v < 0) return false;
    rem = v >= 10 ? (rem * 100 + v) % 97 : (rem * 10 + v) % 97;
  }
  return rem === 1;
}

export function isValidIban(compact: string): boolean {
  const s = compact.toUpperCase();
  const len = IBAN_LENGTHS[s.slice(0, 2)];
  return len !== undefined && s.length === len && /^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(s) && ibanChecksumOk(s);
}

function isAlnumAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

export function findIbans(text: string, out: Candidate[]): void {
  let lastEnd = 0;
  for (const m of text.matchAll(IBAN_START)) {
    const start = m.index!;
    if (isWordChar(text, start - 1)) continue;
    const want = IBAN_LENGTHS[m[0].slice(0, 2).toUpperCase()];
    if (want === undefined) continue;
    if (start < lastEnd) continue;
    // Exactly `want` alphanumerics; spaces only between groups of four, all or none.
    const spaced = text.charCodeAt(start + 4) === 32;
    let i = start;
    let n = 0;
    let ok = true;
    while (n < want) {
      if (n > 0 && n % 4 === 0 && spaced) {
        if (text.charCodeAt(i) !== 32) {
          ok = false;
          break;
        }
        i++;
      }
      if (!isAlnumAt(text, i)) {
        ok = false;
        break;
      }
      i++;
      n++;
    }
    if (!ok || isWordChar(text, i)) continue;
    const compact = text.slice(start, i).replace(/ /g, '');
    if (isValidIban(compact)) {
      out.push({ start, end: i, type: 'IBAN', score: VALIDATED });
      lastEnd = i;
    }
  }
}
