/**
 * Random identifiers, all in Crockford base32 (digits and upper-case letters without I, L, O, U):
 * placeholder ids (`7QX2M4AB`, src/core/token.ts) and row ids (`ten_7qx2m4abk3p9za1c`). One
 * encoder; 5 random bits per character. Pure TypeScript + Web Crypto.
 */

export const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** `length` random Crockford characters (5 bits each, upper case). */
export function randomCrockford(length: number): string {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  let out = '';
  for (const b of bytes) out += CROCKFORD[b & 31];
  return out;
}

/** A random row id such as `ten_7qx2m4abk3p9za1c` (16 lower-case Crockford characters, 80 bits). */
export function randomId(prefix: string): string {
  return `${prefix}_${randomCrockford(16).toLowerCase()}`;
}
