/**
 * Normalization for token stability: two spellings of the same value of a type map to the
 * same blind index, hence the same placeholder. The vault stores the value as first written;
 * only the blind index sees the normalized form. Pure and idempotent (property-tested).
 */
import { ENTITIES } from '../core/entities.js';
import type { EntityType } from '../core/types.js';

/** Unicode NFKC, whitespace runs (incl. NBSP and other Unicode spaces) collapsed, trimmed. */
function squash(s: string): string {
  return s.normalize('NFKC').replace(/\s+/gu, ' ').trim();
}

/** Full case folding approximated by upper-then-lower (folds ß→ss, ﬁ→fi, Σ/ς→σ). */
function fold(s: string): string {
  return s.toUpperCase().toLowerCase();
}

/** One round of the type's normalization (its `normalize` column in src/core/entities.ts). */
function once(type: EntityType, value: string): string {
  const base = squash(value);
  switch (ENTITIES[type].normalize) {
    case 'alnum': {
      const alnum = base.replace(/[^0-9A-Za-z]/g, '').toUpperCase();
      return alnum.length > 0 ? alnum : base;
    }
    case 'text':
      return squash(fold(base));
    case 'email':
      return fold(base).replace(/\s+/g, '');
    case 'phone': {
      const digits = base.replace(/[^0-9]/g, '');
      if (digits.length === 0) return base;
      return (base.startsWith('+') ? '+' : '') + digits;
    }
    case 'lower':
      return base.toLowerCase();
    case 'url':
      // scheme, "www." and a trailing slash do not make another person
      return base.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/^www\./i, '').replace(/\/+$/, '').toLowerCase();
    case 'trim':
      return value.trim();
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
