/**
 * Normalization for token stability: two spellings of the same value of a type map to the
 * same blind index, hence the same placeholder. The vault stores the value as first written;
 * only the blind index sees the normalized form. Pure and idempotent (property-tested).
 */
import type { EntityType } from '../core/types.js';

const ALNUM_TYPES: ReadonlySet<EntityType> = new Set<EntityType>([
  'CARD',
  'IBAN',
  'SSN',
  'ROUTING',
  'BANK_ACCOUNT',
  'PASSPORT',
  'DRIVER_LICENSE',
  'NATIONAL_ID',
  'MEDICAL_RECORD',
  'INSURANCE_ID',
  'VEHICLE',
  'ACCOUNT_ID',
]);

const TEXT_TYPES: ReadonlySet<EntityType> = new Set<EntityType>(['PERSON', 'LOCATION', 'ORGANIZATION', 'ADDRESS']);

/** Unicode NFKC, whitespace runs (incl. NBSP and other Unicode spaces) collapsed, trimmed. */
function squash(s: string): string {
  return s.normalize('NFKC').replace(/\s+/gu, ' ').trim();
}

/** Full case folding approximated by upper-then-lower (folds ß→ss, ﬁ→fi, Σ/ς→σ). */
function fold(s: string): string {
  return s.toUpperCase().toLowerCase();
}

function once(type: EntityType, value: string): string {
  const base = squash(value);
  if (ALNUM_TYPES.has(type)) {
    const alnum = base.replace(/[^0-9A-Za-z]/g, '').toUpperCase();
    return alnum.length > 0 ? alnum : base;
  }
  if (TEXT_TYPES.has(type)) return squash(fold(base));
  switch (type) {
    case 'EMAIL':
      return fold(base).replace(/\s+/g, '');
    case 'PHONE': {
      const digits = base.replace(/[^0-9]/g, '');
      if (digits.length === 0) return base;
      return (base.startsWith('+') ? '+' : '') + digits;
    }
    case 'IP':
    case 'USERNAME':
      return base.toLowerCase();
    case 'URL':
      // scheme, "www." and a trailing slash do not make another person
      return base.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/^www\./i, '').replace(/\/+$/, '').toLowerCase();
    case 'DOB':
      return value.trim();
    default:
      return base;
  }
}

/** The canonical form of `value` for blind indexing. */
export function normalizeValue(type: EntityType, value: string): string {
  // Iterate to a fixed point so the function is idempotent even for odd Unicode where one
  // round of NFKC / case folding produces something a second round changes again.
  let cur = once(type, value);
  for (let i = 0; i < 4; i++) {
    const next = once(type, cur);
    if (next === cur) return cur;
    cur = next;
  }
  return cur;
}

/** The string the blind index is computed over: `TYPE|normalized`. */
export function blindInput(type: EntityType, value: string): string {
  return `${type}|${normalizeValue(type, value)}`;
}
