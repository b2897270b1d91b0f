import { type Candidate, VALIDATED, isAsciiLetterCode, isDigitCode } from './util.js';

/**
 * EMAIL: found by scanning outwards from each `@` (linear time, no regex backtracking).
 * Local part: letters, digits and `._%+-'` (no leading, trailing or doubled dot);
 * domain: at least two dot-separated labels of letters, digits and inner hyphens, ending in an
 * alphabetic TLD of 2+ letters (or an `xn--` label). Trailing punctuation is never included.
 */

// The characters real addresses use (RFC 5322 allows more, but `=`, `/`, `?`, `#`, `&`, ... in
// running text are far more often URL or code punctuation next to an address).
const LOCAL_SPECIAL = new Set("._%+-'".split('').map((c) => c.charCodeAt(0)));
const LEADING_TRIM = new Set(".'-+".split('').map((c) => c.charCodeAt(0)));
const NON_ASCII_LETTER = /[\p{L}\p{N}\p{M}]/u;

function isLocalChar(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 128) return isDigitCode(c) || isAsciiLetterCode(c) || LOCAL_SPECIAL.has(c);
  return NON_ASCII_LETTER.test(text[i]!);
}

function isDomainChar(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 128) return isDigitCode(c) || isAsciiLetterCode(c) || c === 45 /* - */ || c === 46 /* . */;
  return NON_ASCII_LETTER.test(text[i]!);
}

const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;
const TLD = /^(?:\p{L}{2,63}|xn--[a-z0-9-]{1,59})$/iu;

export function findEmails(text: string, out: Candidate[]): void {
  for (const _ of emailSteps(text, out));
}

/** '@' signs examined between two steps of {@link emailSteps}. */
const EMAIL_STEP = 1024;

/** {@link findEmails} as steps: a `yield` after every {@link EMAIL_STEP} '@' signs (dense text). */
export function* emailSteps(text: string, out: Candidate[]): Generator<void, void> {
  let at = text.indexOf('@');
  let minStart = 0; // never re-scan into the previous match
  for (let n = 1; at !== -1; n++) {
    if (n % EMAIL_STEP === 0) yield;
    // local part, scanning left (at most 64 characters count; longer runs are not addresses)
    let s = at;
    while (s > minStart && isLocalChar(text, s - 1)) s--;
    while (s < at && LEADING_TRIM.has(text.charCodeAt(s))) s++; // no leading dot, quote, dash or plus
    // domain, scanning right
    let e = at + 1;
    while (e < text.length && isDomainChar(text, e)) e++;
    const next = text.indexOf('@', at + 1);
    const local = text.slice(s, at);
    if (local.length > 0 && local.length <= 64 && !local.endsWith('.') && !local.includes('..')) {
      const end = validDomainEnd(text, at + 1, Math.min(e, next === -1 ? e : next));
      if (end > 0) {
        out.push({ start: s, end, type: 'EMAIL', score: VALIDATED });
        minStart = end;
      }
    }
    at = next;
  }
}

/** End offset of the longest valid domain starting at `from` and ending by `to`; -1 if none. */
function validDomainEnd(text: string, from: number, to: number): number {
  let stop = to;
  while (stop > from && (text.charCodeAt(stop - 1) === 46 || text.charCodeAt(stop - 1) === 45)) stop--;
  const raw = text.slice(from, stop);
  const labels = raw.split('.');
  // Drop labels from the right until the last one is a valid TLD (handles "a@b.com." and "a@b.com.-").
  for (let n = labels.length; n >= 2; n--) {
    const parts = labels.slice(0, n);
    const tld = parts[n - 1]!;
    if (!TLD.test(tld) || tld.endsWith('-')) continue;
    if (!parts.every((l) => LABEL.test(l))) return -1;
    const len = parts.join('.').length;
    if (len > 253) return -1;
    return from + len;
  }
  return -1;
}
