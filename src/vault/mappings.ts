/**
 * The `mappings` table as the db vault uses it: one row per (tenant, token) holding the blind
 * index, DEK version, iv and AES-256-GCM ciphertext of a value, with AAD
 * 'veil:map:v1|<tenant>|<token>|<type>|<dek_version>' (`mappingAad`).
 *
 * Hot statements have fixed text (arrays instead of IN lists), so PostgreSQL prepares each once;
 * each call is split into statements of at most `rowsPerStatement` rows and calls `progress()`
 * after every statement (the vault's per-step watchdog, src/vault/step-watchdog.ts).
 * Pure TypeScript (runs on Workers with a Workers `Db`).
 */
import type { Db } from '../db/client.js';
import { toHex, utf8 } from '../keys/crypto.js';
import type { Token } from './types.js';

/** A row as read by `selectMappings`. */
export interface MappingRow {
  token: string;
  type: string;
  blind_index: Uint8Array;
  dek_version: number;
  iv: Uint8Array;
  ciphertext: Uint8Array;
}

/** A row to insert. */
export interface NewMapping {
  token: Token;
  type: string;
  blindIndex: Uint8Array;
  dekVersion: number;
  iv: Uint8Array;
  ciphertext: Uint8Array;
}

const SQL_LOOKUP = 'select token, blind_index, dek_version from mappings where tenant_id = $1 and blind_index = any($2::bytea[])';
const SQL_RESOLVE =
  'select token, type, blind_index, dek_version, iv, ciphertext from mappings where tenant_id = $1 and token = any($2::text[])';
const SQL_INSERT =
  'insert into mappings (tenant_id, token, type, blind_index, dek_version, iv, ciphertext) ' +
  'select $1, * from unnest($2::text[], $3::text[], $4::bytea[], $5::int[], $6::bytea[], $7::bytea[]) ' +
  'on conflict do nothing returning token, blind_index, dek_version';

export function mappingAad(tenantId: string, token: string, type: string, dekVersion: number): Uint8Array {
  return utf8(`veil:map:v1|${tenantId}|${token}|${type}|${dekVersion}`);
}

export function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

export interface MappingStatements {
  db: Db;
  rowsPerStatement: number;
}

type TokenRow = { token: string; blind_index: Uint8Array; dek_version: number };

/**
 * Runs `statement` on each part of `items`, then `progress()`; blind hex → token of every row
 * returned, and with `versions` each token's DEK version (for the audit trail).
 */
async function tokensByBlind<T>(
  s: MappingStatements,
  items: readonly T[],
  statement: (part: T[]) => Promise<TokenRow[]>,
  progress: () => void,
  versions?: Map<Token, number>,
): Promise<Map<string, Token>> {
  const found = new Map<string, Token>();
  for (const part of chunks(items, s.rowsPerStatement)) {
    const rows = await statement(part);
    progress();
    for (const r of rows) {
      found.set(toHex(r.blind_index), r.token as Token);
      versions?.set(r.token as Token, Number(r.dek_version));
    }
  }
  return found;
}

/** Tokens already stored for these blind indexes: blind hex → token. */
export function lookupTokens(
  s: MappingStatements,
  tenantId: string,
  blinds: readonly Uint8Array[],
  progress: () => void,
  versions?: Map<Token, number>,
): Promise<Map<string, Token>> {
  return tokensByBlind(s, blinds, (part) => s.db.query<TokenRow>(SQL_LOOKUP, [tenantId, part], 'veil_vault_lookup'), progress, versions);
}

/**
 * Inserts rows, skipping any whose blind index or token is taken; returns blind hex → token of
 * the rows written.
 */
export function insertMappings(
  s: MappingStatements,
  tenantId: string,
  rows: readonly NewMapping[],
  progress: () => void,
  versions?: Map<Token, number>,
): Promise<Map<string, Token>> {
  const columns = (part: NewMapping[]) => [
    tenantId,
    part.map((r) => r.token),
    part.map((r) => r.type),
    part.map((r) => r.blindIndex),
    part.map((r) => r.dekVersion),
    part.map((r) => r.iv),
    part.map((r) => r.ciphertext),
  ];
  return tokensByBlind(s, rows, (part) => s.db.query<TokenRow>(SQL_INSERT, columns(part), 'veil_vault_insert'), progress, versions);
}

/** The rows of these tokens, one statement's worth at a time. */
export async function* selectMappings(
  s: MappingStatements,
  tenantId: string,
  tokens: readonly string[],
  progress: () => void,
): AsyncGenerator<MappingRow[]> {
  for (const part of chunks(tokens, s.rowsPerStatement)) {
    const rows = await s.db.query<MappingRow>(SQL_RESOLVE, [tenantId, part], 'veil_vault_resolve');
    progress();
    yield rows;
  }
}
