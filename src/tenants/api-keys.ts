/**
 * Tenants, principals and gateway API keys (`vk_<base64url of 32 random bytes>`), plus the
 * {@link Authenticator} over them. Only SHA-256(key) is stored (the keys are 256-bit random, so
 * a plain hash is enough) with a short display prefix; the key is shown once at issue time.
 * Lookups are cached for `cacheTtlMs` (default 5 s), which bounds how long a revoked key keeps
 * working in another process; in this process revocation takes effect at once.
 * A key of a disabled tenant (`setTenantStatus`, `veil tenants disable`) is denied (403) like a
 * revoked one, within the same 5 s in other processes and at once in this one.
 * Unknown and revoked keys cost one indexed SELECT and no write; their results live in a small
 * separate negative cache (`negativeCacheMax` 1,024 entries for `negativeCacheTtlMs` 2 s), so a
 * flood of invalid keys can never evict a valid key from the positive cache, and a key issued by
 * another process works at once (it could not have been tried before it existed) or, at worst,
 * within 2 s. Concurrent lookups of one key share one query. `last_used_at` is written at most
 * once per `lastUsedIntervalMs` (default 60 s) per key, so it is accurate to about a minute.
 * Pure TypeScript + Web Crypto.
 */
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { authUnavailable, badRequest, notFound } from '../core/errors.js';
import { createInflight, createTtlCache } from '../core/cache.js';
import { randomId } from '../core/ids.js';
import { OPEN_PRINCIPAL } from '../core/types.js';
import type { Db } from '../db/client.js';
import { apiKeys, principals, TENANT_STATUSES, tenants } from '../db/schema.js';
import { randomBytes, sha256, timingSafeEqual, toBase64Url, toHex, utf8 } from '../keys/crypto.js';
import { isRole, ROLES, type Role } from '../policy/index.js';
import type { AuthResult, Authenticator } from './auth.js';

export const API_KEY_PREFIX = 'vk_';
/** `vk_` + 43 base64url characters. */
export const API_KEY_RE = /^vk_[A-Za-z0-9_-]{43}$/;

export type TenantStatus = (typeof TENANT_STATUSES)[number];

export interface TenantInfo {
  id: string;
  name: string;
  status: string;
  createdAt: Date;
}

export interface ApiKeyInfo {
  id: string;
  tenantId: string;
  principalId: string;
  name: string;
  role: string;
  /** The first characters of the key, for recognizing it (`vk_AbC123…`). */
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface IssueKeyInput {
  tenantId: string;
  /** Principal name (an app or service); keys with the same name share one principal. */
  name: string;
  role: Role;
  /** The key's id (default: a new random `key_…`); an audited issue names it in its event first. */
  id?: string;
}

export interface ApiKeyStore extends Authenticator {
  createTenant(name: string, id?: string): Promise<{ id: string }>;
  listTenants(): Promise<TenantInfo[]>;
  /** The key is in the result only; it cannot be recovered later. */
  issueKey(input: IssueKeyInput): Promise<{ id: string; key: string; prefix: string; principalId: string }>;
  listKeys(tenantId?: string): Promise<ApiKeyInfo[]>;
  /** True when the key existed and was not already revoked. */
  revokeKey(id: string): Promise<boolean>;
  /** Disables (every key of the tenant is refused with 403) or re-enables a tenant; false when there is no such tenant. */
  setTenantStatus(id: string, status: TenantStatus): Promise<boolean>;
  /** Forget cached lookups (tests, or after an out-of-band change). */
  clearCache(): void;
}

export interface ApiKeyStoreOptions {
  /** How long authentication results are cached (default 5000 ms). */
  cacheTtlMs?: number;
  /** Most cached valid keys (default 10000). */
  cacheMax?: number;
  /** How long unknown / revoked results are cached (default 2000 ms). */
  negativeCacheTtlMs?: number;
  /** Most cached unknown / revoked keys (default 1024), apart from the valid ones. */
  negativeCacheMax?: number;
  /** `last_used_at` is written at most this often per key (default 60000 ms). */
  lastUsedIntervalMs?: number;
  now?: () => number;
}

const PREFIX_CHARS = 6;

interface CachedKey {
  hash: Uint8Array;
  result: AuthResult;
}

export function createApiKeyStore(db: Db, opts: ApiKeyStoreOptions = {}): ApiKeyStore {
  const ttl = opts.cacheTtlMs ?? 5_000;
  const max = opts.cacheMax ?? 10_000;
  const negTtl = opts.negativeCacheTtlMs ?? 2_000;
  const negMax = opts.negativeCacheMax ?? 1_024;
  const lastUsedInterval = opts.lastUsedIntervalMs ?? 60_000;
  const now = opts.now ?? Date.now;
  /** Valid keys only. */
  const cache = createTtlCache<string, CachedKey>({ max, ttlMs: ttl, now });
  /** Unknown and revoked keys, bounded apart so they cannot push valid keys out. */
  const negative = createTtlCache<string, CachedKey>({ max: negMax, ttlMs: negTtl, now });
  /** Lookups in flight, by key hash: concurrent requests with one key share one query. */
  const inflight = createInflight<string, AuthResult>();
  /** Bumped by revocation: a lookup that started before it does not fill the cache. */
  let generation = 0;
  let anyKeys: { value: boolean; exp: number } | null = null;

  async function keysExist(): Promise<boolean> {
    if (anyKeys && anyKeys.exp > now()) return anyKeys.value;
    // Revoked keys count too: revoking every key must not reopen the gateway.
    const rows = await db.rows<{ one: number }>(sql`select 1 as one from ${apiKeys} limit 1`);
    const value = rows.length > 0;
    // Once keys exist they never go away (rows are revoked, not deleted): cache "true" for the
    // TTL; "false" too, so an issued key closes open mode within the TTL everywhere.
    anyKeys = { value, exp: now() + ttl };
    return value;
  }

  async function fetchKey(hash: Uint8Array): Promise<AuthResult> {
    // Read only: an unknown or revoked key writes nothing. Staleness of last_used_at is judged on
    // the database's clock, so several gateways agree on it. A prepared statement: the hot path.
    const rows = await db.query<{
      id: string;
      tenant_id: string;
      principal_id: string;
      role: string;
      key_hash: Uint8Array;
      revoked: boolean;
      disabled: boolean;
      stale: boolean;
    }>(
      `select k.id, k.tenant_id, k.principal_id, k.role, k.key_hash, k.revoked_at is not null as revoked,
              t.status = 'disabled' as disabled,
              (k.last_used_at is null or k.last_used_at <= now() - make_interval(secs => $2::double precision)) as stale
         from api_keys k join tenants t on t.id = k.tenant_id where k.key_hash = $1 limit 1`,
      [hash, lastUsedInterval / 1000],
      'veil_auth_lookup',
    );
    const row = rows[0];
    if (!row || !timingSafeEqual(new Uint8Array(row.key_hash), hash)) return { kind: 'denied', reason: 'invalid' };
    if (row.revoked) return { kind: 'denied', reason: 'revoked' };
    if (row.disabled) return { kind: 'denied', reason: 'disabled' };
    if (row.stale) await db.query('update api_keys set last_used_at = now() where id = $1', [row.id], 'veil_auth_touch');
    return { kind: 'key', principal: { tenantId: row.tenant_id, principalId: row.principal_id, role: row.role, keyId: row.id } };
  }

  async function lookup(key: string): Promise<AuthResult> {
    const hash = await sha256(utf8(key));
    const hex = toHex(hash);
    const hit = cache.get(hex) ?? negative.get(hex);
    if (hit && timingSafeEqual(hit.hash, hash)) return hit.result;
    return inflight.run(hex, async () => {
      const gen = generation;
      const result = await fetchKey(hash);
      if (gen !== generation) return result;
      if (result.kind === 'key') {
        negative.delete(hex);
        cache.set(hex, { hash, result });
      } else {
        cache.delete(hex);
        negative.set(hex, { hash, result });
      }
      return result;
    });
  }

  async function authenticate(bearer: string | null): Promise<AuthResult> {
    try {
      if (!(await keysExist())) {
        // "No keys" is cached; a key issued meanwhile by another process (the CLI) must work at
        // once — for its own tenant, not as the open tenant — and close open mode here.
        if (!bearer || !API_KEY_RE.test(bearer)) return { kind: 'open', principal: OPEN_PRINCIPAL };
        const r = await lookup(bearer);
        if (r.kind !== 'key') return { kind: 'open', principal: OPEN_PRINCIPAL };
        anyKeys = { value: true, exp: now() + ttl };
        return r;
      }
      if (!bearer) return { kind: 'denied', reason: 'missing' };
      if (!API_KEY_RE.test(bearer)) return { kind: 'denied', reason: 'invalid' };
      return await lookup(bearer);
    } catch (e) {
      // Fail closed: a store we cannot read authenticates nobody.
      throw authUnavailable(e);
    }
  }

  async function createTenant(name: string, id?: string): Promise<{ id: string }> {
    if (!name.trim()) throw badRequest('A tenant needs a name.', 'name');
    const tid = id ?? randomId('ten');
    await db.orm.insert(tenants).values({ id: tid, name: name.trim() });
    return { id: tid };
  }

  async function issueKey(input: IssueKeyInput) {
    if (!isRole(input.role)) throw badRequest(`Unknown role; use one of ${ROLES.join(', ')}.`, 'role');
    if (!input.name.trim()) throw badRequest('A key needs a name.', 'name');
    const tenant = await db.orm.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, input.tenantId)).limit(1);
    if (tenant.length === 0) throw notFound(`No tenant with id ${input.tenantId}.`);
    const name = input.name.trim();
    await db.orm.insert(principals).values({ id: randomId('prn'), tenantId: input.tenantId, name }).onConflictDoNothing();
    const p = await db.orm
      .select({ id: principals.id })
      .from(principals)
      .where(and(eq(principals.tenantId, input.tenantId), eq(principals.name, name)))
      .limit(1);
    const principalId = p[0]!.id;
    const key = API_KEY_PREFIX + toBase64Url(randomBytes(32));
    const prefix = key.slice(0, API_KEY_PREFIX.length + PREFIX_CHARS);
    const id = input.id ?? randomId('key');
    await db.orm.insert(apiKeys).values({
      id,
      tenantId: input.tenantId,
      principalId,
      name,
      role: input.role,
      keyHash: await sha256(utf8(key)),
      prefix,
    });
    anyKeys = null;
    negative.clear();
    return { id, key, prefix, principalId };
  }

  async function listKeys(tenantId?: string): Promise<ApiKeyInfo[]> {
    const q = db.orm
      .select({
        id: apiKeys.id,
        tenantId: apiKeys.tenantId,
        principalId: apiKeys.principalId,
        name: apiKeys.name,
        role: apiKeys.role,
        prefix: apiKeys.prefix,
        createdAt: apiKeys.createdAt,
        revokedAt: apiKeys.revokedAt,
        lastUsedAt: apiKeys.lastUsedAt,
      })
      .from(apiKeys);
    const rows = tenantId ? await q.where(eq(apiKeys.tenantId, tenantId)).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id)) : await q.orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
    return rows;
  }

  async function revokeKey(id: string): Promise<boolean> {
    const rows = await db.orm
      .update(apiKeys)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    forgetLookups();
    return rows.length > 0;
  }

  async function setTenantStatus(id: string, status: TenantStatus): Promise<boolean> {
    const rows = await db.orm.update(tenants).set({ status }).where(eq(tenants.id, id)).returning({ id: tenants.id });
    forgetLookups();
    return rows.length > 0;
  }

  /** After a change that can deny a key: lookups already running do not fill the cache. */
  function forgetLookups(): void {
    generation++;
    cache.clear();
    negative.clear();
  }

  return {
    authenticate,
    createTenant,
    async listTenants() {
      return db.orm.select().from(tenants).orderBy(asc(tenants.createdAt), asc(tenants.id));
    },
    issueKey,
    listKeys,
    revokeKey,
    setTenantStatus,
    clearCache() {
      cache.clear();
      negative.clear();
      anyKeys = null;
    },
  };
}
