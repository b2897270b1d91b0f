/**
 * Placeholders, in one place: the `Token` type and every function that makes, parses or finds
 * one. Placeholders are `[TYPE_ID]`: TYPE is an {@link EntityType}, ID is 8 Crockford base32
 * characters (40 random bits), e.g. `[PERSON_7QX2M4AB]`. Pure.
 */
import { CROCKFORD, randomCrockford } from './ids.js';
import { type EntityType, isEntityType } from './types.js';

/** `TYPE_ID` without brackets, e.g. `PERSON_7QX2M4AB`. */
export type Token = string & { readonly __brand: 'Token' };
export const TOKEN_ID_LENGTH = 8;

/** Strict token (no brackets): `PERSON_7QX2M4AB`. */
export const TOKEN_BODY_SOURCE = `([A-Z]+(?:_[A-Z]+)*)_([${CROCKFORD}]{${TOKEN_ID_LENGTH}})`;
/** Strict placeholder as Veil writes it. */
export const PLACEHOLDER_RE = new RegExp(`\\[${TOKEN_BODY_SOURCE}\\]`, 'g');

export function randomTokenId(): string {
  return randomCrockford(TOKEN_ID_LENGTH);
}

export function makeToken(type: EntityType, id: string): Token {
  return `${type}_${id}` as Token;
}

export function placeholder(token: Token): string {
  return `[${token}]`;
}

export function tokenType(token: Token): EntityType {
  const t = token.slice(0, token.length - TOKEN_ID_LENGTH - 1);
  if (!isEntityType(t)) throw new Error('token with unknown type');
  return t;
}

export function parseToken(s: string): Token | null {
  const m = new RegExp(`^${TOKEN_BODY_SOURCE}$`).exec(s);
  if (!m || !isEntityType(m[1]!)) return null;
  return s as Token;
}

/** All strict placeholders in a text, with offsets. */
export function findPlaceholders(text: string): { start: number; end: number; token: Token }[] {
  const out: { start: number; end: number; token: Token }[] = [];
  for (const m of text.matchAll(PLACEHOLDER_RE)) {
    if (!isEntityType(m[1]!)) continue;
    out.push({ start: m.index!, end: m.index! + m[0].length, token: `${m[1]}_${m[2]}` as Token });
  }
  return out;
}
