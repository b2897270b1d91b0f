/**
 * The entity table: per type, everything Veil decides by type, in one row —
 *   sensitivity  its class in the default policy (src/policy: what is masked, what each role sees)
 *   normalize    how two spellings become one token (src/vault/normalize.ts)
 *   rank         which type wins over the same characters (src/detect/resolve.ts, after
 *                pattern-before-model), higher wins; 0 for the model's name, place and org types
 *   mask         the partial mask a role that gets `masked` sees (src/policy maskValue)
 * A new type is its name in ENTITY_TYPES (src/core/types.ts) plus one row here; the compiler
 * refuses a type without a row. Pure data.
 */
import type { EntityType, Sensitivity } from './types.js';

/**
 * alnum: letters and digits only, upper case (identifiers with any separators);
 * text: Unicode-folded, whitespace collapsed (names, places); email: folded, no spaces;
 * phone: digits with a leading +; lower: lower case; url: no scheme, www. or trailing slash,
 * lower case; trim: as written, trimmed (dates: their order is the meaning).
 */
export type Normalization = 'alnum' | 'text' | 'email' | 'phone' | 'lower' | 'url' | 'trim';

/** last4: `•••• 1111`; email: `j•••@example.com`; url: host + `/•••`; initial: first character + `•••`. */
export type MaskStyle = 'last4' | 'email' | 'url' | 'initial';

export interface EntitySpec {
  readonly sensitivity: Sensitivity;
  readonly normalize: Normalization;
  readonly rank: number;
  readonly mask: MaskStyle;
}

const row = (sensitivity: Sensitivity, normalize: Normalization, rank: number, mask: MaskStyle): EntitySpec => ({ sensitivity, normalize, rank, mask });

export const ENTITIES: { readonly [T in EntityType]: EntitySpec } = {
  // found by the NER model (and the name passes)
  PERSON: row('sensitive', 'text', 0, 'initial'),
  LOCATION: row('contextual', 'text', 0, 'initial'),
  ORGANIZATION: row('contextual', 'text', 0, 'initial'),
  ADDRESS: row('sensitive', 'text', 40, 'initial'),
  // found by validated patterns and context words
  EMAIL: row('sensitive', 'email', 100, 'email'),
  URL: row('sensitive', 'url', 99, 'url'),
  IBAN: row('highly_sensitive', 'alnum', 95, 'last4'),
  CARD: row('highly_sensitive', 'alnum', 90, 'last4'),
  SSN: row('highly_sensitive', 'alnum', 85, 'last4'),
  ROUTING: row('highly_sensitive', 'alnum', 80, 'last4'),
  DOB: row('sensitive', 'trim', 75, 'initial'),
  NATIONAL_ID: row('highly_sensitive', 'alnum', 72, 'initial'),
  PASSPORT: row('highly_sensitive', 'alnum', 71, 'initial'),
  DRIVER_LICENSE: row('highly_sensitive', 'alnum', 70, 'initial'),
  MEDICAL_RECORD: row('highly_sensitive', 'alnum', 69, 'initial'),
  INSURANCE_ID: row('highly_sensitive', 'alnum', 68, 'initial'),
  VEHICLE: row('sensitive', 'alnum', 66, 'initial'),
  BANK_ACCOUNT: row('highly_sensitive', 'alnum', 65, 'last4'),
  ACCOUNT_ID: row('sensitive', 'alnum', 64, 'last4'),
  IP: row('sensitive', 'lower', 60, 'initial'),
  USERNAME: row('sensitive', 'lower', 55, 'initial'),
  PHONE: row('sensitive', 'phone', 50, 'last4'),
};

/** One column of the table, as a record by type. */
export function entityColumn<K extends keyof EntitySpec>(key: K): Readonly<Record<EntityType, EntitySpec[K]>> {
  return Object.fromEntries(Object.entries(ENTITIES).map(([t, spec]) => [t, spec[key]])) as Record<EntityType, EntitySpec[K]>;
}
