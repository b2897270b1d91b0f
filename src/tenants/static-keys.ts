/**
 * API keys configured as one secret instead of a database (the Workers build):
 * `VEIL_API_KEY_HASHES` holds entries `<sha256-hex of the vk_… key>:<tenant-id>:<role>[:<name>]`
 * separated by commas, semicolons or whitespace. Only hashes are configured; the keys themselves
 * (`vk_` + 43 base64url characters, as issued by the CLI) stay with the callers. The
 * {@link Authenticator} answers exactly like the database store (src/tenants/api-keys.ts): no bearer
 * → `missing`, anything else that is not a configured key → `invalid`; revoking a key means
 * removing its entry. {@link closedAuthenticator} refuses every request when no key is configured
 * (fail closed), unless the deployment opted into open mode explicitly.
 * Pure TypeScript + Web Crypto (runs on Workers and Node).
 */
import { authNotConfigured } from '../core/errors.js';
import { fromHex, sha256, timingSafeEqual, toHex, utf8 } from '../keys/crypto.js';
import { isRole, ROLES, type Role } from '../policy/index.js';
import { API_KEY_RE } from './api-keys.js';
import type { AuthResult, Authenticator } from './auth.js';

export interface StaticKeyEntry {
  readonly hash: Uint8Array;
  readonly tenantId: string;
  readonly role: Role;
  /** Principal name (default `static`); keys with the same tenant and name share one principal. */
  readonly name: string;
}

/** Most entries accepted in one secret (a Workers secret is at most 5 KiB anyway). */
export const MAX_STATIC_KEYS = 1_000;
const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Thrown for a malformed `VEIL_API_KEY_HASHES`; the message names the entry by position, never its text. */
export class StaticKeyConfigError extends Error {
  override readonly name = 'StaticKeyConfigError';
}

/** SHA-256 hex of a key, as `VEIL_API_KEY_HASHES` wants it. */
export async function apiKeyHash(key: string): Promise<string> {
  return toHex(await sha256(utf8(key)));
}

/** Parses `VEIL_API_KEY_HASHES`. Throws {@link StaticKeyConfigError} on any malformed entry. */
export function parseApiKeyHashes(text: string): StaticKeyEntry[] {
  if (text.length > MAX_STATIC_KEYS * 200) throw new StaticKeyConfigError(`VEIL_API_KEY_HASHES: longer than ${MAX_STATIC_KEYS * 200} characters`);
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (parts.length > MAX_STATIC_KEYS) throw new StaticKeyConfigError(`VEIL_API_KEY_HASHES: more than ${MAX_STATIC_KEYS} entries`);
  const seen = new Set<string>();
  return parts.map((part, i) => {
    const where = `VEIL_API_KEY_HASHES entry ${i + 1}`;
    const [hex, tenantId, role, name = 'static', ...extra] = part.split(':');
    if (extra.length > 0 || !hex || !tenantId || !role) throw new StaticKeyConfigError(`${where}: expected <sha256-hex>:<tenant-id>:<role>[:<name>]`);
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new StaticKeyConfigError(`${where}: the hash must be 64 hex characters (SHA-256 of the vk_… key)`);
    if (!ID_RE.test(tenantId)) throw new StaticKeyConfigError(`${where}: the tenant id must be 1-64 of A-Z a-z 0-9 _ . -`);
    if (!isRole(role)) throw new StaticKeyConfigError(`${where}: unknown role; use one of ${ROLES.join(', ')}`);
    if (!ID_RE.test(name)) throw new StaticKeyConfigError(`${where}: the name must be 1-64 of A-Z a-z 0-9 _ . -`);
    const lower = hex.toLowerCase();
    if (seen.has(lower)) throw new StaticKeyConfigError(`${where}: the same key is listed twice`);
    seen.add(lower);
    return { hash: fromHex(lower), tenantId, role, name };
  });
}

/** Authenticates `vk_…` keys against configured hashes; at least one entry is required. */
export function createStaticKeyAuthenticator(entries: readonly StaticKeyEntry[]): Authenticator {
  if (entries.length === 0) throw new StaticKeyConfigError('VEIL_API_KEY_HASHES: no entries');
  const byHash = new Map<string, { hash: Uint8Array; result: AuthResult }>();
  for (const e of entries) {
    const hex = toHex(e.hash);
    byHash.set(hex, {
      hash: e.hash,
      result: {
        kind: 'key',
        principal: Object.freeze({ tenantId: e.tenantId, principalId: `prn_${e.name}`, role: e.role, keyId: `key_sha256_${hex.slice(0, 12)}` }),
      },
    });
  }
  return {
    async authenticate(bearer) {
      if (!bearer) return { kind: 'denied', reason: 'missing' };
      if (!API_KEY_RE.test(bearer)) return { kind: 'denied', reason: 'invalid' };
      const hash = await sha256(utf8(bearer));
      const hit = byHash.get(toHex(hash));
      return hit && timingSafeEqual(hit.hash, hash) ? hit.result : { kind: 'denied', reason: 'invalid' };
    },
  };
}

/** No key configured and no explicit open mode: every request is refused (500 `veil_auth_not_configured`). */
export const closedAuthenticator: Authenticator = {
  async authenticate() {
    throw authNotConfigured();
  },
};
