/**
 * The encrypted database vault (PGlite or PostgreSQL through {@link Db}).
 *
 * mappings row: tenant_id | token | type | blind_index = HMAC-SHA256(blindKey, 'TYPE|normalized')
 *   | dek_version | iv (12 random bytes) | ciphertext = AES-256-GCM(DEK, iv, utf8(value as first
 *   written), AAD 'veil:map:v1|<tenant>|<token>|<type>|<dek_version>') as ct || 16-byte tag.
 *
 * Integrity: the GCM tag binds tenant, token, type and DEK version; `resolve` also re-derives
 * the blind index from the decrypted value and compares it with the row's, so an edited
 * blind_index is caught too (no format change: the index is a function of the value).
 *
 * Fails closed: any database or key-service failure rejects with `vaultUnavailable` (503), a
 * value that does not authenticate rejects with `veil_vault_integrity` (503) — never a wrong
 * value. Tokens of another tenant simply do not exist. Nothing here logs a value.
 *
 * Pieces, one job each: src/keys/keyring.ts (keys), mappings.ts (the table's statements),
 * token-cache.ts (blind index → token in memory), step-watchdog.ts (the per-step time bound),
 * src/core/yield.ts (event-loop turns during per-value crypto). This file runs the two
 * pipelines: tokenize (distinct inputs → blind indexes → cache → lookup → insert new) and
 * resolve (select → decrypt → re-check the blind index).
 */
import { mapYielding } from '../core/yield.js';
import { isVeilError, vaultIntegrity, vaultUnavailable } from '../core/errors.js';
import { silentLogger, type EntityType, type Logger } from '../core/types.js';
import type { Db } from '../db/client.js';
import {
  GCM_IV_BYTES,
  aesGcmDecrypt,
  aesGcmEncrypt,
  DecryptError,
  fromUtf8,
  hmacSha256,
  randomBytes,
  timingSafeEqual,
  toHex,
  utf8,
} from '../keys/crypto.js';
import type { MasterKeyProvider } from '../keys/provider.js';
import { makeToken, parseToken, randomTokenId, tokenType } from '../core/token.js';
import { createKeyring, type Keyring, type KeyringOptions } from '../keys/keyring.js';
import { insertMappings, lookupTokens, mappingAad, selectMappings, type MappingRow, type MappingStatements } from './mappings.js';
import { blindInput } from './normalize.js';
import { withStepWatchdog } from './step-watchdog.js';
import { createTokenCache, type TokenCache } from './token-cache.js';
import type { Token, TokenizeItem, Vault } from './types.js';

export { mappingAad } from './mappings.js';

export interface DbVaultOptions {
  db: Db;
  provider: MasterKeyProvider;
  logger?: Logger;
  /**
   * Bound on each step of a vault call (VEIL_DB_TIMEOUT_MS, default 5000): the key service,
   * then every statement. The clock restarts after each step that completes, so a big request
   * of many statements is not failed for its size, while a stuck database fails after one step.
   */
  timeoutMs?: number;
  /**
   * Rows per statement. PGlite runs SQL on the event loop, so its statements are kept small
   * (default {@link PGLITE_ROWS_PER_STATEMENT}; the loop gets a turn between them); on
   * PostgreSQL the default is {@link PG_ROWS_PER_STATEMENT}.
   */
  maxRowsPerStatement?: number;
  /** VEIL_KEY_CACHE_TTL_MS */
  keyCacheTtlMs?: number;
  /** VEIL_KEY_CACHE_MAX */
  keyCacheMax?: number;
  dekMaxEncryptions?: number;
  dekReserveBatch?: number;
  /** When true, `close()` also closes the database (default false: the app owns it). */
  closeDb?: boolean;
  /** Per-field crypto; default Web Crypto. On Node pass `nodeVaultCrypto` (src/keys/crypto.node.ts). */
  crypto?: VaultCrypto;
  /**
   * In-process cache of blind index → token for known values (VEIL_TOKEN_CACHE_MAX entries,
   * 0 = off; VEIL_TOKEN_CACHE_TTL_MS). It holds what the database holds in `mappings`
   * (HMACs and tokens), never a value; tokens never change once written, so processes
   * sharing a database stay consistent. Erasure must clear it (the TTL bounds staleness).
   */
  tokenCacheMax?: number;
  tokenCacheTtlMs?: number;
  now?: KeyringOptions['now'];
}

/**
 * The per-field primitives: HMAC-SHA-256 for blind indexes, AES-256-GCM (ct || 16-byte tag)
 * for values. `decrypt` throws DecryptError on any failure.
 */
export interface VaultCrypto {
  hmac(key: Uint8Array, data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  encrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array | Promise<Uint8Array>;
  decrypt(key: Uint8Array, iv: Uint8Array, ciphertextAndTag: Uint8Array, aad: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** Web Crypto (src/keys/crypto.ts): runs everywhere, Workers included. */
export const webVaultCrypto: VaultCrypto = { hmac: hmacSha256, encrypt: aesGcmEncrypt, decrypt: aesGcmDecrypt };

export interface DbVault extends Vault {
  readonly keyring: Keyring;
  /**
   * Drops this tenant's entries from the token cache (after an erasure, src/compliance/erase.ts);
   * with `keys`, also every unwrapped key (after a tenant is shredded). `null`: every tenant.
   */
  forgetTenant(tenantId: string | null, keys?: boolean): void;
}

/** Rows per statement on PostgreSQL (arrays bind as one parameter each; this only bounds statement size). */
export const PG_ROWS_PER_STATEMENT = 2000;
/** Rows per statement on PGlite: one insert of this many rows holds the event loop a few ms. */
export const PGLITE_ROWS_PER_STATEMENT = 100;

const MAX_TOKEN_ATTEMPTS = 5;

/** A stored value whose row does not check out (wrong type, missing DEK, edited blind index). */
class IntegrityFailure extends Error {}

/** What the pipelines below need: statements, keys and per-field crypto. */
interface VaultDeps extends MappingStatements {
  keyring: Keyring;
  cx: VaultCrypto;
  tokenCache: TokenCache;
}

/** A distinct (type, normalized value) of a tokenize call, with its blind index. */
interface Pending {
  type: EntityType;
  value: string;
  blind: Uint8Array;
  hex: string;
}

/**
 * Maps any failure of a vault call to its 503: VeilErrors pass through, a value that does not
 * authenticate is `vaultIntegrity`, anything else (database, key service, timeout) is
 * `vaultUnavailable`. Logs the op, tenant and error name/code only.
 */
function toVaultError(e: unknown, op: string, tenantId: string, log: Logger): Error {
  if (isVeilError(e)) return e;
  if (e instanceof IntegrityFailure || e instanceof DecryptError) {
    log.error('vault integrity check failed', { op, tenantId });
    return vaultIntegrity();
  }
  const code = (e as { code?: unknown }).code;
  log.error('vault unavailable', { op, tenantId, error: (e as Error)?.name ?? 'Error', code: typeof code === 'string' ? code : null });
  return vaultUnavailable(e);
}

/** One entry per distinct blind input, first spelling kept (the one stored), and each item's input in order. */
function distinctInputs(items: readonly TokenizeItem[]): { order: string[]; firsts: { input: string; type: EntityType; value: string }[] } {
  const seen = new Set<string>();
  const order: string[] = [];
  const firsts: { input: string; type: EntityType; value: string }[] = [];
  for (const it of items) {
    const input = blindInput(it.type, it.value);
    order.push(input);
    if (!seen.has(input)) {
      seen.add(input);
      firsts.push({ input, type: it.type, value: it.value });
    }
  }
  return { order, firsts };
}

/** Encrypts one new mapping row under its assigned DEK, with a fresh random token. */
async function sealNew(d: VaultDeps, tenantId: string, p: Pending, dek: { version: number; key: Uint8Array }) {
  const token = makeToken(p.type, randomTokenId());
  const iv = randomBytes(GCM_IV_BYTES);
  const ciphertext = await d.cx.encrypt(dek.key, iv, utf8(p.value), mappingAad(tenantId, token, p.type, dek.version));
  return { token, type: p.type, blindIndex: p.blind, dekVersion: dek.version, iv, ciphertext };
}

/** Inserts new mappings; returns blind hex → token (the winner's token on a race). */
async function insertNew(d: VaultDeps, tenantId: string, pending: Pending[], progress: () => void, versions?: Map<Token, number>): Promise<Map<string, Token>> {
  const result = new Map<string, Token>();
  let todo = pending;
  for (let attempt = 0; todo.length > 0; attempt++) {
    if (attempt >= MAX_TOKEN_ATTEMPTS) throw new Error('could not allocate unique token ids');
    const deks = await d.keyring.reserveEncryptions(tenantId, todo.length);
    progress();
    const rows = await mapYielding(todo, (p, i) => sealNew(d, tenantId, p, deks[i]!));
    const inserted = await insertMappings(d, tenantId, rows, progress, versions);
    for (const [hex, token] of inserted) result.set(hex, token);
    const lost = todo.filter((p) => !inserted.has(p.hex));
    if (lost.length === 0) break;
    // Either another request stored the same value first (take its token) or the random
    // token id collided with an existing one (retry those with new ids).
    const winners = await lookupTokens(d, tenantId, lost.map((p) => p.blind), progress, versions);
    for (const [hex, token] of winners) result.set(hex, token);
    todo = lost.filter((p) => !winners.has(p.hex));
  }
  return result;
}

/** Tokens of distinct values: from the token cache, else the database, else newly inserted (then cached). */
async function tokensFor(
  d: VaultDeps,
  tenantId: string,
  pending: readonly Pending[],
  progress: () => void,
  versions = new Map<Token, number>(),
): Promise<Map<string, Token>> {
  const known = new Map<string, Token>();
  const uncached: Pending[] = [];
  for (const p of pending) {
    const t = d.tokenCache.get(tenantId, p.hex);
    if (t) {
      known.set(p.hex, t);
      const v = d.tokenCache.version(tenantId, p.hex);
      if (v !== undefined) versions.set(t, v);
    } else uncached.push(p);
  }
  if (uncached.length === 0) return known;
  for (const [hex, token] of await lookupTokens(d, tenantId, uncached.map((p) => p.blind), progress, versions)) known.set(hex, token);
  const missing = uncached.filter((p) => !known.has(p.hex));
  if (missing.length > 0) {
    for (const [hex, token] of await insertNew(d, tenantId, missing, progress, versions)) known.set(hex, token);
  }
  for (const p of uncached) {
    const t = known.get(p.hex);
    if (t) d.tokenCache.put(tenantId, p.hex, t, versions.get(t));
  }
  return known;
}

async function tokenizeSteps(d: VaultDeps, tenantId: string, items: readonly TokenizeItem[], progress: () => void, versions?: Map<Token, number>): Promise<Token[]> {
  const blindKey = await d.keyring.blindKey(tenantId);
  progress();
  const { order, firsts } = distinctInputs(items);
  const pending = await mapYielding(firsts, async (f): Promise<Pending> => {
    const blind = await d.cx.hmac(blindKey, utf8(f.input));
    return { type: f.type, value: f.value, blind, hex: toHex(blind) };
  });
  const hexOf = new Map(firsts.map((f, i) => [f.input, pending[i]!.hex]));
  const known = await tokensFor(d, tenantId, pending, progress, versions);
  return order.map((input) => {
    const t = known.get(hexOf.get(input)!);
    if (!t) throw new Error('token missing after insert');
    return t;
  });
}

/**
 * Decrypts a row and checks it: the GCM tag binds tenant, token, type and DEK version; the blind
 * index is not under the tag, so it is re-derived from the authenticated value (a row whose
 * blind_index was edited, e.g. swapped with another row's, which makes tokenize hand out the
 * other value's token, fails instead of restoring a wrong value).
 */
async function openRow(d: VaultDeps, tenantId: string, blindKey: Uint8Array, r: MappingRow): Promise<string> {
  const token = r.token as Token;
  if (tokenType(token) !== r.type) throw new IntegrityFailure();
  const version = Number(r.dek_version);
  const key = await d.keyring.dek(tenantId, version);
  if (!key) throw new IntegrityFailure();
  const value = fromUtf8(await d.cx.decrypt(key, r.iv, r.ciphertext, mappingAad(tenantId, token, r.type, version)));
  const blind = await d.cx.hmac(blindKey, utf8(blindInput(r.type as EntityType, value)));
  if (!timingSafeEqual(blind, r.blind_index)) throw new IntegrityFailure();
  return value;
}

async function resolveSteps(d: VaultDeps, tenantId: string, wanted: readonly Token[], progress: () => void): Promise<Map<Token, string>> {
  const out = new Map<Token, string>();
  const blindKey = await d.keyring.blindKey(tenantId);
  progress();
  for await (const rows of selectMappings(d, tenantId, wanted, progress)) {
    await mapYielding(rows, async (r) => void out.set(r.token as Token, await openRow(d, tenantId, blindKey, r)));
  }
  return out;
}

export function createDbVault(opts: DbVaultOptions): DbVault {
  const { db } = opts;
  const log = opts.logger ?? silentLogger;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const keyring = createKeyring({
    db,
    provider: opts.provider,
    logger: log,
    cacheTtlMs: opts.keyCacheTtlMs,
    cacheMax: opts.keyCacheMax,
    dekMaxEncryptions: opts.dekMaxEncryptions,
    dekReserveBatch: opts.dekReserveBatch,
    now: opts.now,
  });
  const tokenCache = createTokenCache({ max: opts.tokenCacheMax ?? 100_000, ttlMs: opts.tokenCacheTtlMs ?? 300_000, now: opts.now });
  const deps: VaultDeps = {
    db,
    rowsPerStatement: Math.max(1, opts.maxRowsPerStatement ?? (db.kind === 'pglite' ? PGLITE_ROWS_PER_STATEMENT : PG_ROWS_PER_STATEMENT)),
    keyring,
    cx: opts.crypto ?? webVaultCrypto,
    tokenCache,
  };
  let closed = false;

  /** Runs one vault call under the per-step watchdog; every failure becomes a 503 VeilError. */
  async function guarded<T>(op: string, tenantId: string, fn: (progress: () => void) => Promise<T>): Promise<T> {
    if (closed) throw vaultUnavailable(new Error('vault closed'));
    try {
      return await withStepWatchdog(timeoutMs, `vault ${op}`, fn);
    } catch (e) {
      throw toVaultError(e, op, tenantId, log);
    }
  }

  return {
    keyring,
    async tokenize(ctx, items, versions) {
      if (items.length === 0) return [];
      const tenantId = ctx.principal.tenantId;
      return guarded('tokenize', tenantId, (progress) => tokenizeSteps(deps, tenantId, items, progress, versions));
    },
    async resolve(ctx, tokens) {
      const wanted = [...new Set(tokens)].filter((t) => parseToken(t) !== null);
      if (wanted.length === 0) return new Map();
      const tenantId = ctx.principal.tenantId;
      return guarded('resolve', tenantId, (progress) => resolveSteps(deps, tenantId, wanted, progress));
    },
    forgetTenant(tenantId, keys = false) {
      tokenCache.forget(tenantId);
      if (keys) keyring.clear();
    },
    async close() {
      if (closed) return;
      closed = true;
      keyring.clear();
      if (opts.closeDb) await db.close();
    },
  };
}
