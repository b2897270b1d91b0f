import type { EntityType } from '../../core/types.js';

/** A match found by one pattern family, before overlaps between families are resolved. */
export interface Candidate {
  start: number;
  end: number;
  type: EntityType;
  /** 1 for validated (checksum / structure) matches, 0.9 for context-only matches. */
  score: number;
  /** Read right after a context word naming its type: it decides the type of exactly these characters. */
  named?: true;
}

export const VALIDATED = 1;
export const CONTEXT_ONLY = 0.9;

/** ASCII digit? `c` is a UTF-16 code unit. */
export function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isAsciiLetterCode(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

const NON_ASCII_WORD = /[\p{L}\p{N}\p{M}]/u;

/** Letter, digit or underscore, including non-ASCII letters and digits. */
export function isWordChar(text: string, i: number): boolean {
  if (i < 0 || i >= text.length) return false;
  const c = text.charCodeAt(i);
  if (c < 128) return isDigitCode(c) || isAsciiLetterCode(c) || c === 95;
  return NON_ASCII_WORD.test(text[i]!);
}

/** Luhn (mod 10) checksum over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** ABA routing number checksum: weights 3, 7, 1 repeated, sum divisible by 10. */
export function abaValid(digits: string): boolean {
  if (!/^\d{9}$/.test(digits)) return false;
  const w = [3, 7, 1, 3, 7, 1, 3, 7, 1];
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (digits.charCodeAt(i) - 48) * w[i]!;
  return sum % 10 === 0 && digits !== '000000000';
}
