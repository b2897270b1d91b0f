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
import { createTtlCache } from '../core/cache.js';
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

// Hot statements: fixed text (arrays instead of IN lists), so PostgreSQL prepares each once.
const SQL_LOOKUP = 'select token, blind_index, dek_version from mappings where tenant_id = $1 and blind_index = any($2::bytea[])';
const SQL_RESOLVE =
  'select token, type, blind_index, dek_version, iv, ciphertext from mappings where tenant_id = $1 and token = any($2::text[])';
const SQL_INSERT =
  'insert into mappings (tenant_id, token, type, blind_index, dek_version, iv, ciphertext) ' +
  'select $1, * from unnest($2::text[], $3::text[], $4::bytea[], $5::int[], $6::bytea[], $7::bytea[]) ' +
  'on conflict do nothing returning token, blind_index, dek_version';
const MAX_TOKEN_ATTEMPTS = 5;

export function mappingAad(tenantId: string, token: string, type: string, dekVersion: number): Uint8Array {
  return utf8(`veil:map:v1|${tenantId}|${token}|${type}|${dekVersion}`);
}

class IntegrityFailure extends Error {}

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Work between event-loop turns in {@link mapYielding}: per-value crypto of 10k values would hold the loop. */
const SLICE_MS = 8;
const SLICE_ITEMS = 128;

/**
 * `Promise.all(xs.map(fn))` in slices of {@link SLICE_ITEMS}, giving the event loop a turn
 * (a timer, so it works on Workers too) whenever more than {@link SLICE_MS} ms of work ran.
 */
async function mapYielding<T, R>(xs: readonly T[], fn: (x: T, i: number) => Promise<R> | R): Promise<R[]> {
  if (xs.length <= SLICE_ITEMS) return Promise.all(xs.map(fn));
  const out: R[] = [];
  let since = performance.now();
  for (let i = 0; i < xs.length; i += SLICE_ITEMS) {
    if (performance.now() - since > SLICE_MS) {
      await new Promise((r) => setTimeout(r, 0));
      since = performance.now();
    }
    out.push(...(await Promise.all(xs.slice(i, i + SLICE_ITEMS).map((x, j) => fn(x, i + j)))));
  }
  return out;
}

/** A token and the DEK version its stored value was under when this process found or stored it. */
interface Found {
  token: Token;
  version: number;
}

export function createDbVault(opts: DbVaultOptions): DbVault {
  const { db } = opts;
  const log = opts.logger ?? silentLogger;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const rowsPerStatement = Math.max(1, opts.maxRowsPerStatement ?? (db.kind === 'pglite' ? PGLITE_ROWS_PER_STATEMENT : PG_ROWS_PER_STATEMENT));
  const cx = opts.crypto ?? webVaultCrypto;
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
  let closed = false;
  const tokenCacheMax = opts.tokenCacheMax ?? 100_000;
  const tokenCache =
    tokenCacheMax > 0 ? createTtlCache<string, Found>({ max: tokenCacheMax, ttlMs: opts.tokenCacheTtlMs ?? 300_000, now: opts.now }) : null;
  const cacheGet = (key: string): Found | undefined => tokenCache?.get(key);
  const cachePut = (key: string, found: Found) => void tokenCache?.set(key, found);

  /**
   * Runs `fn` under a watchdog of `timeoutMs` that `fn` re-arms (`progress`) after each step
   * it completes; maps every failure to a 503 VeilError.
   */
  async function guarded<T>(op: string, tenantId: string, fn: (progress: () => void) => Promise<T>): Promise<T> {
    if (closed) throw vaultUnavailable(new Error('vault closed'));
    let timer: ReturnType<typeof setTimeout> | undefined;
    let fire: (e: Error) => void = () => {};
    let done = false;
    const arm = () => {
      clearTimeout(timer);
      if (done) return;
      timer = setTimeout(() => fire(new Error(`vault ${op}: a step took longer than ${timeoutMs} ms`)), timeoutMs);
    };
    const timeout = new Promise<never>((_, reject) => {
      fire = reject;
    });
    arm();
    try {
      return await Promise.race([fn(arm), timeout]);
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
      done = true;
      clearTimeout(timer);
    }
  }

  async function lookup(tenantId: string, blinds: Uint8Array[], progress: () => void): Promise<Map<string, Found>> {
    const found = new Map<string, Found>();
    for (const part of chunks(blinds, rowsPerStatement)) {
      const rows = await db.query<{ token: string; blind_index: Uint8Array; dek_version: number }>(SQL_LOOKUP, [tenantId, part], 'veil_vault_lookup');
      progress();
      for (const r of rows) found.set(toHex(r.blind_index), { token: r.token as Token, version: Number(r.dek_version) });
    }
    return found;
  }

  interface Pending {
    type: EntityType;
    value: string;
    blind: Uint8Array;
    hex: string;
  }

  /** Inserts new mappings; returns blind hex → token (the winner's token on a race). */
  async function insertNew(tenantId: string, pending: Pending[], progress: () => void): Promise<Map<string, Found>> {
    const result = new Map<string, Found>();
    let todo = pending;
    for (let attempt = 0; todo.length > 0; attempt++) {
      if (attempt >= MAX_TOKEN_ATTEMPTS) throw new Error('could not allocate unique token ids');
      const deks = await keyring.reserveEncryptions(tenantId, todo.length);
      progress();
      const rows = await mapYielding(todo, async (p, i) => {
          const dek = deks[i]!;
          const token = makeToken(p.type, randomTokenId());
          const iv = randomBytes(GCM_IV_BYTES);
          const ciphertext = await cx.encrypt(dek.key, iv, utf8(p.value), mappingAad(tenantId, token, p.type, dek.version));
          return { tenantId, token, type: p.type, blindIndex: p.blind, dekVersion: dek.version, iv, ciphertext };
        });
      const inserted = new Set<string>();
      for (const part of chunks(rows, rowsPerStatement)) {
        const got = await db.query<{ token: string; blind_index: Uint8Array; dek_version: number }>(
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
        progress();
        for (const g of got) {
          const hex = toHex(g.blind_index);
          inserted.add(hex);
          result.set(hex, { token: g.token as Token, version: Number(g.dek_version) });
        }
      }
      const lost = todo.filter((p) => !inserted.has(p.hex));
      if (lost.length === 0) break;
      // Either another request stored the same value first (take its token) or the random
      // token id collided with an existing one (retry those with new ids).
      const winners = await lookup(tenantId, lost.map((p) => p.blind), progress);
      for (const [hex, token] of winners) result.set(hex, token);
      todo = lost.filter((p) => !winners.has(p.hex));
    }
    return result;
  }

  async function tokenize(ctx: RequestContext, items: readonly TokenizeItem[], versions?: Map<Token, number>): Promise<Token[]> {
    if (items.length === 0) return [];
    const tenantId = ctx.principal.tenantId;
    return guarded('tokenize', tenantId, async (progress) => {
      const blindKey = await keyring.blindKey(tenantId);
      progress();
      // One entry per distinct (type, normalized value); the first spelling is the one stored.
      const byInput = new Map<string, Pending>();
      const order: string[] = [];
      const firsts: { input: string; type: EntityType; value: string }[] = [];
      for (const it of items) {
        const input = blindInput(it.type, it.value);
        order.push(input);
        if (!byInput.has(input)) {
          byInput.set(input, undefined as unknown as Pending);
          firsts.push({ input, type: it.type, value: it.value });
        }
      }
      const pendingAll = await mapYielding(firsts, async (f) => {
          const blind = await cx.hmac(blindKey, utf8(f.input));
          const p: Pending = { type: f.type, value: f.value, blind, hex: toHex(blind) };
          byInput.set(f.input, p);
          return p;
        });
      const known = new Map<string, Found>();
      const uncached: Pending[] = [];
      for (const p of pendingAll) {
        const t = cacheGet(`${tenantId}:${p.hex}`);
        if (t) known.set(p.hex, t);
        else uncached.push(p);
      }
      if (uncached.length > 0) {
        for (const [hex, found] of await lookup(tenantId, uncached.map((p) => p.blind), progress)) known.set(hex, found);
        const missing = uncached.filter((p) => !known.has(p.hex));
        if (missing.length > 0) {
          for (const [hex, found] of await insertNew(tenantId, missing, progress)) known.set(hex, found);
        }
        for (const p of uncached) {
          const t = known.get(p.hex);
          if (t) cachePut(`${tenantId}:${p.hex}`, t);
        }
      }
      return order.map((input) => {
        const f = known.get(byInput.get(input)!.hex);
        if (!f) throw new Error('token missing after insert');
        versions?.set(f.token, f.version);
        return f.token;
      });
    });
  }

  async function resolve(ctx: RequestContext, tokens: readonly Token[]): Promise<Map<Token, string>> {
    const out = new Map<Token, string>();
    const wanted = [...new Set(tokens)].filter((t) => parseToken(t) !== null);
    if (wanted.length === 0) return out;
    const tenantId = ctx.principal.tenantId;
    return guarded('resolve', tenantId, async (progress) => {
      const blindKey = await keyring.blindKey(tenantId);
      progress();
      for (const part of chunks(wanted, rowsPerStatement)) {
        const rows = await db.query<{ token: string; type: string; blind_index: Uint8Array; dek_version: number; iv: Uint8Array; ciphertext: Uint8Array }>(
          SQL_RESOLVE,
          [tenantId, part],
          'veil_vault_resolve',
        );
        progress();
        await mapYielding(rows, async (r) => {
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
          });
      }
      return out;
    });
  }

  return {
    keyring,
    tokenize,
    resolve,
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
