import { itinValid } from './checksums.js';
import { type Candidate, VALIDATED, isWordChar } from './util.js';

/**
 * SSN: US `NNN-NN-NNNN` anywhere (dashes); spaced or unseparated forms only after a context
 * word (see context.ts). Area not 000, 666 or 900–999; group not 00; serial not 0000.
 * ITINs (area 9xx with an ITIN group 50–65, 70–88, 90–92, 94–99) count as SSN too.
 */
const DASHED = /\d{3}-\d{2}-\d{4}/g;

export function ssnPartsOk(digits: string): boolean {
  if (!/^\d{9}$/.test(digits)) return false;
  const area = Number(digits.slice(0, 3));
  const group = digits.slice(3, 5);
  const serial = digits.slice(5);
  return area !== 0 && area !== 666 && area < 900 && group !== '00' && serial !== '0000';
}

export function findSsns(text: string, out: Candidate[]): void {
  for (const m of text.matchAll(DASHED)) {
    const start = m.index!;
    const end = start + 11;
    if (isWordChar(text, start - 1) || isWordChar(text, end)) continue;
    // part of a longer dashed number ("1-123-45-6789", "123-45-6789-1")
    if (text[start - 1] === '-' && isWordChar(text, start - 2)) continue;
    if ((text[end] === '-' || text[end] === '.') && /\d/.test(text[end + 1] ?? '')) continue;
    const digits = m[0].replace(/-/g, '');
    if (!ssnPartsOk(digits) && !itinValid(digits)) continue;
    out.push({ start, end, type: 'SSN', score: VALIDATED });
  }
}
