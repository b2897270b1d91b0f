/**
 * Check-digit algorithms of national identity, tax, health, bank and vehicle numbers. Each
 * validator takes the compact value (separators removed, upper case) and returns whether its
 * length, structure and check digit(s) are right. Pure; no Node APIs.
 */
import { luhnValid } from './util.js';

const digitsOf = (s: string) => Array.from(s, (c) => c.charCodeAt(0) - 48);
const allDigits = (s: string, n: number) => s.length === n && /^\d+$/.test(s);

/** Not after today (a birth date encoded in an ID cannot be in the future). */
export function notFuture(y: number, m: number, d: number, now = new Date()): boolean {
  const ny = now.getUTCFullYear();
  const nm = now.getUTCMonth() + 1;
  return y < ny || (y === ny && (m < nm || (m === nm && d <= now.getUTCDate())));
}

/** A real calendar day (leap years included). */
export function dateOk(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return d <= days[m - 1]!;
}

const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

export function verhoeffValid(s: string): boolean {
  if (!/^\d+$/.test(s)) return false;
  let c = 0;
  const d = digitsOf(s).reverse();
  for (let i = 0; i < d.length; i++) c = VERHOEFF_D[c]![VERHOEFF_P[i % 8]![d[i]!]!]!;
  return c === 0;
}

/** India Aadhaar: 12 digits, not starting with 0 or 1, Verhoeff. */
export const aadhaarValid = (s: string) => allDigits(s, 12) && s[0]! >= '2' && verhoeffValid(s);

/** Japan My Number: 12 digits, mod-11 check digit. */
export function myNumberValid(s: string): boolean {
  if (!allDigits(s, 12)) return false;
  const d = digitsOf(s);
  let sum = 0;
  for (let n = 1; n <= 11; n++) sum += d[11 - n]! * (n <= 6 ? n + 1 : n - 5);
  const r = sum % 11;
  return d[11] === (r <= 1 ? 0 : 11 - r);
}

/** UK NHS number: 10 digits, mod-11 with weights 10..2. */
export function nhsValid(s: string): boolean {
  if (!allDigits(s, 10)) return false;
  const d = digitsOf(s);
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += d[i]! * (10 - i);
  const r = 11 - (sum % 11);
  const check = r === 11 ? 0 : r;
  return check !== 10 && check === d[9];
}

/** UK National Insurance number: prefix rules, 6 digits, suffix A–D. */
export function ninoValid(s: string): boolean {
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$/.test(s)) return false;
  return !['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(s.slice(0, 2));
}

/** Canada SIN: 9 digits, Luhn, not starting with 0 or 8. */
export const sinValid = (s: string) => allDigits(s, 9) && s[0] !== '0' && s[0] !== '8' && luhnValid(s);

/** India PAN: AAAPA9999A, fourth letter the holder kind (P person, C company, …). */
export const panValid = (s: string) => /^[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z]$/.test(s) && s.slice(5, 9) !== '0000';

/** Poland PESEL: 11 digits, weighted check digit, a real birth date (century in the month). */
export function peselValid(s: string): boolean {
  if (!allDigits(s, 11)) return false;
  const d = digitsOf(s);
  const w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
  let sum = 0;
  for (let i = 0; i < 10; i++) sum += d[i]! * w[i]!;
  if ((10 - (sum % 10)) % 10 !== d[10]) return false;
  let m = d[2]! * 10 + d[3]!;
  const yy = d[0]! * 10 + d[1]!;
  const century = m > 80 ? 1800 : m > 60 ? 2200 : m > 40 ? 2100 : m > 20 ? 2000 : 1900;
  m %= 20;
  const dd = d[4]! * 10 + d[5]!;
  return dateOk(century + yy, m, dd) && notFuture(century + yy, m, dd);
}

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';
/** Spain DNI (8 digits + letter) and NIE (X/Y/Z + 7 digits + letter): mod-23 letter. */
export function dniNieValid(s: string): boolean {
  const m = /^([XYZ]?)(\d{7,8})([A-Z])$/.exec(s);
  if (!m) return false;
  if (m[1] === '' ? m[2]!.length !== 8 : m[2]!.length !== 7) return false;
  const n = Number(('XYZ'.indexOf(m[1]!) >= 0 ? String('XYZ'.indexOf(m[1]!)) : '') + m[2]);
  return DNI_LETTERS[n % 23] === m[3];
}

const CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
/** Italy codice fiscale: 16 characters (omocodia letters allowed in digit places), check letter. */
export function codiceFiscaleValid(s: string): boolean {
  if (!/^[A-Z]{6}[0-9LMNP-V]{2}[ABCDEHLMPRST][0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{3}[A-Z]$/.test(s)) return false;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const c = s.charCodeAt(i);
    const v = c <= 57 ? c - 48 : c - 65;
    sum += i % 2 === 0 ? CF_ODD[v]! : v;
  }
  return String.fromCharCode(65 + (sum % 26)) === s[15];
}

/** Netherlands BSN: 8–9 digits, the "11-test" (weights 9..2 and −1). */
export function bsnValid(s: string): boolean {
  if (!/^\d{8,9}$/.test(s)) return false;
  const d = digitsOf(s.padStart(9, '0'));
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += d[i]! * (9 - i);
  sum -= d[8]!;
  return sum > 0 && sum % 11 === 0;
}

/** Brazil CPF: 11 digits, two mod-11 check digits, not all the same digit. */
export function cpfValid(s: string): boolean {
  if (!allDigits(s, 11) || /^(\d)\1{10}$/.test(s)) return false;
  const d = digitsOf(s);
  const check = (n: number) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += d[i]! * (n + 1 - i);
    return ((sum * 10) % 11) % 10;
  };
  return check(9) === d[9] && check(10) === d[10];
}

const CURP_CHARS = '0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ';
/** Mexico CURP: 18 characters, birth date, sex, state, check digit. */
export function curpValid(s: string): boolean {
  const m = /^[A-Z]{4}(\d{2})(\d{2})(\d{2})[HMX][A-Z]{2}[B-DF-HJ-NP-TV-Z]{3}[A-Z0-9]\d$/.exec(s);
  if (!m || !dateOk(2000, Number(m[2]), Number(m[3]))) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += CURP_CHARS.indexOf(s[i]!) * (18 - i);
  return (10 - (sum % 10)) % 10 === Number(s[17]);
}

/** South Africa ID: 13 digits, YYMMDD birth date, citizenship 0/1, Luhn. */
export function zaIdValid(s: string): boolean {
  if (!allDigits(s, 13)) return false;
  if (!dateOk(2000, Number(s.slice(2, 4)), Number(s.slice(4, 6)))) return false;
  return (s[10] === '0' || s[10] === '1') && luhnValid(s);
}

/** Singapore NRIC / FIN: S/T/F/G/M, 7 digits, check letter. */
export function nricValid(s: string): boolean {
  const m = /^([STFGM])(\d{7})([A-Z])$/.exec(s);
  if (!m) return false;
  const w = [2, 7, 6, 5, 4, 3, 2];
  let sum = 0;
  for (let i = 0; i < 7; i++) sum += (m[2]!.charCodeAt(i) - 48) * w[i]!;
  const p = m[1]!;
  sum += p === 'T' || p === 'G' ? 4 : p === 'M' ? 3 : 0;
  const table = p === 'S' || p === 'T' ? 'JZIHGFEDCBA' : p === 'M' ? 'KLJNPQRTUWX' : 'XWUTRQPNMLK';
  const idx = p === 'M' ? 10 - (sum % 11) : sum % 11;
  return table[idx] === m[3];
}

/** Australia TFN: 8 or 9 digits, weighted mod 11. */
export function tfnValid(s: string): boolean {
  if (!/^\d{8,9}$/.test(s)) return false;
  const w = s.length === 9 ? [1, 4, 3, 7, 5, 8, 6, 9, 10] : [10, 7, 8, 4, 6, 3, 5, 1];
  const d = digitsOf(s);
  let sum = 0;
  for (let i = 0; i < d.length; i++) sum += d[i]! * w[i]!;
  return sum % 11 === 0;
}

/** Australia Medicare card: 10 digits (+ optional issue number), first 2–6, check digit 9th. */
export function medicareAuValid(s: string): boolean {
  if (!/^[2-6]\d{9,10}$/.test(s)) return false;
  const w = [1, 3, 7, 9, 1, 3, 7, 9];
  const d = digitsOf(s);
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += d[i]! * w[i]!;
  return sum % 10 === d[8];
}

const NHI_ALPHA = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
/** New Zealand NHI: AAANNNN (mod 11) or AAANNAA (mod 24); letters without I and O. */
export function nhiValid(s: string): boolean {
  const m = /^([A-HJ-NP-Z]{3})(\d{2})(\d{2}|[A-HJ-NP-Z]{2})$/.exec(s);
  if (!m) return false;
  const v = (c: string) => (c >= '0' && c <= '9' ? Number(c) : NHI_ALPHA.indexOf(c) + 1);
  let sum = 0;
  for (let i = 0; i < 6; i++) sum += v(s[i]!) * (7 - i);
  if (/\d/.test(s[6]!)) {
    const r = sum % 11;
    if (r === 0) return false;
    const check = 11 - r;
    return (check === 10 ? 0 : check) === Number(s[6]);
  }
  const r = sum % 24;
  return r !== 0 && NHI_ALPHA[24 - r - 1] === s[6];
}

/** France NIR (numéro de sécurité sociale): 13 characters + 2-digit key (97 − n mod 97). */
export function nirValid(s: string): boolean {
  const m = /^([1-478]\d{4}(?:\d{2}|2A|2B)\d{6})(\d{2})$/.exec(s);
  if (!m) return false;
  const body = m[1]!.replace('2A', '19').replace('2B', '18');
  let r = 0;
  for (const c of body) r = (r * 10 + (c.charCodeAt(0) - 48)) % 97;
  const month = Number(s.slice(3, 5));
  if (!((month >= 1 && month <= 12) || month >= 20)) return false;
  return 97 - r === Number(m[2]);
}

/** Germany Steuer-ID: 11 digits, no leading 0, one digit repeated 2–3 times, ISO 7064 mod 11,10. */
export function steuerIdValid(s: string): boolean {
  if (!allDigits(s, 11) || s[0] === '0') return false;
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 10; i++) counts[s.charCodeAt(i) - 48]!++;
  const repeated = counts.filter((c) => c >= 2);
  if (repeated.length !== 1 || repeated[0]! > 3) return false;
  let product = 10;
  for (let i = 0; i < 10; i++) {
    let sum = (s.charCodeAt(i) - 48 + product) % 10;
    if (sum === 0) sum = 10;
    product = (sum * 2) % 11;
  }
  const check = 11 - product === 10 ? 0 : 11 - product;
  return check === s.charCodeAt(10) - 48;
}

/** Sweden personnummer / samordningsnummer: (YY)YYMMDD + 4 digits, Luhn over the last 10. */
export function personnummerValid(s: string): boolean {
  if (!/^(?:\d{2})?\d{10}$/.test(s)) return false;
  const t = s.slice(-10);
  const yy = Number(t.slice(0, 2));
  const now = new Date();
  // A 10-digit number has no century: the latest one that is not in the future (as Skatteverket
  // and python-stdnum read it); a 12-digit number names its year. A birth date is never ahead of today.
  const year = s.length === 12 ? Number(s.slice(0, 4)) : (Math.floor(now.getUTCFullYear() / 100) - (yy > now.getUTCFullYear() % 100 ? 1 : 0)) * 100 + yy;
  const [m, d0] = [Number(t.slice(2, 4)), Number(t.slice(4, 6))];
  const d = d0 > 60 ? d0 - 60 : d0;
  if (!dateOk(year, m, d) || !notFuture(year, m, d, now)) return false;
  return luhnValid(t);
}

/** China resident identity card: 17 digits + check (digit or X), ISO 7064 mod 11-2, a birth date. */
export function chinaIdValid(s: string): boolean {
  if (!/^[1-9]\d{16}[\dX]$/.test(s)) return false;
  const [y, m, d] = [Number(s.slice(6, 10)), Number(s.slice(10, 12)), Number(s.slice(12, 14))];
  if (y < 1880 || !dateOk(y, m, d) || !notFuture(y, m, d)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (s.charCodeAt(i) - 48) * ((2 ** (17 - i)) % 11);
  return '10X98765432'[sum % 11] === s[17];
}

/** Korea RRN: YYMMDD + 7 digits, sex/century digit; `strict` also checks the pre-2020 check digit. */
export function rrnValid(s: string, strict: boolean): boolean {
  if (!allDigits(s, 13) || !dateOk(2000, Number(s.slice(2, 4)), Number(s.slice(4, 6)))) return false;
  if (!strict) return true;
  const w = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += (s.charCodeAt(i) - 48) * w[i]!;
  return (11 - (sum % 11)) % 10 === s.charCodeAt(12) - 48;
}

/** Ireland PPSN: 7 digits + check letter (+ optional A/B/H/W), mod 23. */
export function ppsnValid(s: string): boolean {
  const m = /^(\d{7})([A-W])([A-IW]?)$/.exec(s);
  if (!m) return false;
  let sum = 0;
  for (let i = 0; i < 7; i++) sum += (m[1]!.charCodeAt(i) - 48) * (8 - i);
  if (m[3]) sum += (m[3] === 'W' ? 0 : m[3].charCodeAt(0) - 64) * 9;
  return 'WABCDEFGHIJKLMNOPQRSTUV'[sum % 23] === m[2];
}

/** Turkey TC Kimlik No: 11 digits, no leading 0, two check digits. */
export function tcKimlikValid(s: string): boolean {
  if (!allDigits(s, 11) || s[0] === '0') return false;
  const d = digitsOf(s);
  const odd = d[0]! + d[2]! + d[4]! + d[6]! + d[8]!;
  const even = d[1]! + d[3]! + d[5]! + d[7]!;
  if ((((odd * 7 - even) % 10) + 10) % 10 !== d[9]) return false;
  let sum = 0;
  for (let i = 0; i < 10; i++) sum += d[i]!;
  return sum % 10 === d[10];
}

/** Finland HETU: DDMMYY, century sign, 3 digits, mod-31 check character. */
export function hetuValid(s: string): boolean {
  const m = /^(\d{2})(\d{2})(\d{2})([-+A-FU-Y])(\d{3})([0-9A-Y])$/.exec(s);
  if (!m) return false;
  const y = (m[4] === '+' ? 1800 : /[A-F]/.test(m[4]!) ? 2000 : 1900) + Number(m[3]);
  if (!dateOk(y, Number(m[2]), Number(m[1])) || !notFuture(y, Number(m[2]), Number(m[1]))) return false;
  return '0123456789ABCDEFHJKLMNPRSTUVWXY'[Number(m[1]! + m[2] + m[3] + m[5]) % 31] === m[6];
}

/** Thailand national ID (TNIN): 13 digits, mod-11 check digit. */
export function thaiIdValid(s: string): boolean {
  if (!allDigits(s, 13) || s[0] === '0' || s[0] === '9') return false;
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += (s.charCodeAt(i) - 48) * (13 - i);
  return (11 - (sum % 11)) % 10 === s.charCodeAt(12) - 48;
}

/** US ITIN: 9 digits, area 9xx, group 50–65, 70–88, 90–92 or 94–99. */
export function itinValid(s: string): boolean {
  if (!allDigits(s, 9) || s[0] !== '9') return false;
  const g = Number(s.slice(3, 5));
  return (g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) || (g >= 94 && g <= 99);
}

const VIN_VALUES: Record<string, number> = {};
'0123456789'.split('').forEach((c, i) => (VIN_VALUES[c] = i));
'ABCDEFGH'.split('').forEach((c, i) => (VIN_VALUES[c] = i + 1));
'JKLMN'.split('').forEach((c, i) => (VIN_VALUES[c] = i + 1));
VIN_VALUES.P = 7;
VIN_VALUES.R = 9;
'STUVWXYZ'.split('').forEach((c, i) => (VIN_VALUES[c] = i + 2));
const VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

/** VIN shape: 17 characters without I, O, Q, with letters and digits. */
export const vinShape = (s: string) => /^[A-HJ-NPR-Z0-9]{17}$/.test(s) && /\d/.test(s) && /[A-Z]/.test(s);

/** VIN with a valid North American check digit (position 9). */
export function vinValid(s: string): boolean {
  if (!vinShape(s)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += VIN_VALUES[s[i]!]! * VIN_WEIGHTS[i]!;
  const r = sum % 11;
  return s[8] === (r === 10 ? 'X' : String(r));
}

/** UK driving licence number (DVLA): surname, birth date (month +50 for women), initials, check. */
export function ukLicenceValid(s: string): boolean {
  const m = /^[A-Z][A-Z9]{4}(\d)(\d{2})(\d{2})(\d)[A-Z9]{2}\d[A-Z]{2}$/.exec(s);
  if (!m) return false;
  const month = Number(m[2]) % 50;
  return dateOk(2000, month, Number(m[3]));
}

/** Indian Financial System Code: 4-letter bank, 0, 6-character branch. */
export const ifscValid = (s: string) => /^[A-Z]{4}0[A-Z0-9]{6}$/.test(s) && /\d/.test(s.slice(5));
