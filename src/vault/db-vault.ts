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
 */
import { createTtlCache, type TtlCache } from '../core/cache.js';
import { isVeilError, vaultIntegrity, vaultUnavailable } from '../core/errors.js';
import { silentLogger, type EntityType, type Logger, type RequestContext } from '../core/types.js';
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
import { blindInput } from './normalize.js';
import type { Token, TokenizeItem, Vault } from './types.js';

export interface DbVaultOptions {
  db: Db;
  provider: MasterKeyProvider;
  logger?: Logger;
  /** Bound on one vault call, database and key service included (VEIL_DB_TIMEOUT_MS, default 5000). */
  timeoutMs?: number;
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

/** Rows per statement (arrays bind as one parameter each; this only bounds statement size). */
const CHUNK = 2000;

// Hot statements: fixed text (arrays instead of IN lists), so PostgreSQL prepares each once.
const SQL_LOOKUP = 'select token, blind_index from mappings where tenant_id = $1 and blind_index = any($2::bytea[])';
const SQL_RESOLVE =
  'select token, type, blind_index, dek_version, iv, ciphertext from mappings where tenant_id = $1 and token = any($2::text[])';
const SQL_INSERT =
  'insert into mappings (tenant_id, token, type, blind_index, dek_version, iv, ciphertext) ' +
  'select $1, * from unnest($2::text[], $3::text[], $4::bytea[], $5::int[], $6::bytea[], $7::bytea[]) ' +
  'on conflict do nothing returning token, blind_index';
const MAX_TOKEN_ATTEMPTS = 5;

export function mappingAad(tenantId: string, token: string, type: string, dekVersion: number): Uint8Array {
  return utf8(`veil:map:v1|${tenantId}|${token}|${type}|${dekVersion}`);
}

class IntegrityFailure extends Error {}

function chunks<T>(xs: readonly T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** What the vault's operations share: the database, the keys, the per-field crypto. */
interface VaultDeps {
  db: Db;
  keyring: Keyring;
  cx: VaultCrypto;
}

/**
 * One vault call bounded by `timeoutMs` (database and key service included), every failure
 * mapped to a 503: an integrity failure to `veil_vault_integrity`, anything else to
 * `veil_vault_unavailable`. Logs the operation, tenant and error class only.
 */
async function guarded<T>(op: string, tenantId: string, timeoutMs: number, log: Logger, fn: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`vault ${op} timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } catch (e) {
    if (isVeilError(e)) throw e;
    if (e instanceof IntegrityFailure || e instanceof DecryptError) {
      log.error('vault integrity check failed', { op, tenantId });
      throw vaultIntegrity();
    }
    const code = (e as { code?: unknown }).code;
    log.error('vault unavailable', { op, tenantId, error: (e as Error)?.name ?? 'Error', code: typeof code === 'string' ? code : null });
    throw vaultUnavailable(e);
  } finally {
    clearTimeout(timer);
  }
}

/** Blind index (hex) → token of the values already stored. */
async function lookup({ db }: VaultDeps, tenantId: string, blinds: Uint8Array[]): Promise<Map<string, Token>> {
  const found = new Map<string, Token>();
  for (const part of chunks(blinds)) {
    const rows = await db.query<{ token: string; blind_index: Uint8Array }>(SQL_LOOKUP, [tenantId, part], 'veil_vault_lookup');
    for (const r of rows) found.set(toHex(r.blind_index), r.token as Token);
  }
  return found;
}

/** A distinct (type, normalized value) of one tokenize call, with its blind index. */
interface Pending {
  type: EntityType;
  value: string;
  blind: Uint8Array;
  hex: string;
}

/** Encrypts and inserts new mappings; returns blind hex → token (the winner's token on a race). */
async function insertNew(deps: VaultDeps, tenantId: string, pending: Pending[]): Promise<Map<string, Token>> {
  const { db, keyring, cx } = deps;
  const result = new Map<string, Token>();
  let todo = pending;
  for (let attempt = 0; todo.length > 0; attempt++) {
    if (attempt >= MAX_TOKEN_ATTEMPTS) throw new Error('could not allocate unique token ids');
    const deks = await keyring.reserveEncryptions(tenantId, todo.length);
    const rows = await Promise.all(
      todo.map(async (p, i) => {
        const dek = deks[i]!;
        const token = makeToken(p.type, randomTokenId());
        const iv = randomBytes(GCM_IV_BYTES);
        const ciphertext = await cx.encrypt(dek.key, iv, utf8(p.value), mappingAad(tenantId, token, p.type, dek.version));
        return { tenantId, token, type: p.type, blindIndex: p.blind, dekVersion: dek.version, iv, ciphertext };
      }),
    );
    const inserted = new Set<string>();
    for (const part of chunks(rows)) {
      const got = await db.query<{ token: string; blind_index: Uint8Array }>(
        SQL_INSERT,
        [
          tenantId,
          part.map((r) => r.token),
          part.map((r) => r.type),
          part.map((r) => r.blindIndex),
          part.map((r) => r.dekVersion),
          part.map((r) => r.iv),
          part.map((r) => r.ciphertext),
        ],
        'veil_vault_insert',
      );
      for (const g of got) {
        const hex = toHex(g.blind_index);
        inserted.add(hex);
        result.set(hex, g.token as Token);
      }
    }
    const lost = todo.filter((p) => !inserted.has(p.hex));
    if (lost.length === 0) break;
    // Either another request stored the same value first (take its token) or the random
    // token id collided with an existing one (retry those with new ids).
    const winners = await lookup(deps, tenantId, lost.map((p) => p.blind));
    for (const [hex, token] of winners) result.set(hex, token);
    todo = lost.filter((p) => !winners.has(p.hex));
  }
  return result;
}

/**
 * The tokenize pipeline: one blind index per distinct (type, normalized value) → token cache →
 * one lookup for the rest → insert what is new. Returns one token per item, in order.
 */
async function tokenizeItems(
  deps: VaultDeps,
  cache: TtlCache<string, Token> | null,
  tenantId: string,
  items: readonly TokenizeItem[],
): Promise<Token[]> {
  const blindKey = await deps.keyring.blindKey(tenantId);
  // One entry per distinct (type, normalized value); the first spelling is the one stored.
  const firsts = new Map<string, { type: EntityType; value: string }>();
  const order: string[] = [];
  for (const it of items) {
    const input = blindInput(it.type, it.value);
    order.push(input);
    if (!firsts.has(input)) firsts.set(input, { type: it.type, value: it.value });
  }
  const byInput = new Map<string, Pending>();
  await Promise.all(
    [...firsts].map(async ([input, f]) => {
      const blind = await deps.cx.hmac(blindKey, utf8(input));
      byInput.set(input, { type: f.type, value: f.value, blind, hex: toHex(blind) });
    }),
  );
  const known = new Map<string, Token>();
  const uncached: Pending[] = [];
  for (const p of byInput.values()) {
    const t = cache?.get(`${tenantId}:${p.hex}`);
    if (t) known.set(p.hex, t);
    else uncached.push(p);
  }
  if (uncached.length > 0) {
    for (const [hex, token] of await lookup(deps, tenantId, uncached.map((p) => p.blind))) known.set(hex, token);
    const missing = uncached.filter((p) => !known.has(p.hex));
    if (missing.length > 0) {
      for (const [hex, token] of await insertNew(deps, tenantId, missing)) known.set(hex, token);
    }
    for (const p of uncached) {
      const t = known.get(p.hex);
      if (t) cache?.set(`${tenantId}:${p.hex}`, t);
    }
  }
  return order.map((input) => {
    const t = known.get(byInput.get(input)!.hex);
    if (!t) throw new Error('token missing after insert');
    return t;
  });
}

/**
 * Decrypts the tenant's mappings of `wanted` tokens. Every row is authenticated twice: the GCM
 * tag (tenant, token, type, DEK version) and the blind index re-derived from the value.
 */
async function resolveTokens(deps: VaultDeps, tenantId: string, wanted: Token[]): Promise<Map<Token, string>> {
  const { db, keyring, cx } = deps;
  const out = new Map<Token, string>();
  const blindKey = await keyring.blindKey(tenantId);
  for (const part of chunks(wanted)) {
    const rows = await db.query<{ token: string; type: string; blind_index: Uint8Array; dek_version: number; iv: Uint8Array; ciphertext: Uint8Array }>(
      SQL_RESOLVE,
      [tenantId, part],
      'veil_vault_resolve',
    );
    await Promise.all(
      rows.map(async (r) => {
        const token = r.token as Token;
        if (tokenType(token) !== r.type) throw new IntegrityFailure();
        const version = Number(r.dek_version);
        const key = await keyring.dek(tenantId, version);
        if (!key) throw new IntegrityFailure();
        const pt = await cx.decrypt(key, r.iv, r.ciphertext, mappingAad(tenantId, token, r.type, version));
        const value = fromUtf8(pt);
        // The blind index is not under the GCM tag: re-derive it from the authenticated value,
        // so a row whose blind_index was edited (e.g. swapped with another row's, which makes
        // tokenize hand out the other value's token) fails instead of restoring a wrong value.
        const blind = await cx.hmac(blindKey, utf8(blindInput(r.type as EntityType, value)));
        if (!timingSafeEqual(blind, r.blind_index)) throw new IntegrityFailure();
        out.set(token, value);
      }),
    );
  }
  return out;
}

/** The vault: its keyring and token cache, and each call guarded (timeout, fail closed). */
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
  const deps: VaultDeps = { db, keyring, cx: opts.crypto ?? webVaultCrypto };
  const tokenCacheMax = opts.tokenCacheMax ?? 100_000;
  const tokenCache =
    tokenCacheMax > 0 ? createTtlCache<string, Token>({ max: tokenCacheMax, ttlMs: opts.tokenCacheTtlMs ?? 300_000, now: opts.now }) : null;
  let closed = false;

  function call<T>(op: string, tenantId: string, fn: () => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(vaultUnavailable(new Error('vault closed')));
    return guarded(op, tenantId, timeoutMs, log, fn);
  }

  return {
    keyring,
    async tokenize(ctx: RequestContext, items: readonly TokenizeItem[]): Promise<Token[]> {
      if (items.length === 0) return [];
      const tenantId = ctx.principal.tenantId;
      return call('tokenize', tenantId, () => tokenizeItems(deps, tokenCache, tenantId, items));
    },
    async resolve(ctx: RequestContext, tokens: readonly Token[]): Promise<Map<Token, string>> {
      const wanted = [...new Set(tokens)].filter((t) => parseToken(t) !== null);
      if (wanted.length === 0) return new Map();
      const tenantId = ctx.principal.tenantId;
      return call('resolve', tenantId, () => resolveTokens(deps, tenantId, wanted));
    },
    forgetTenant(tenantId, keys = false) {
      if (tenantId === null) tokenCache?.clear();
      else {
        const prefix = `${tenantId}:`;
        for (const k of [...(tokenCache?.keys() ?? [])]) if (k.startsWith(prefix)) tokenCache!.delete(k);
      }
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
