/**
 * The db vault's in-process cache of blind index → token for known values, per tenant
 * ('<tenant>:<blind hex>', on the shared TTL + size cache of src/core/cache.ts). It holds what
 * the database holds in `mappings` (HMACs and tokens), never a value; tokens never change once
 * written, so processes sharing a database stay consistent. `max` 0 turns it off.
 * Erasure must clear it (`forget`; the TTL bounds staleness). Pure TypeScript; runs on Workers.
 */
import { createTtlCache } from '../core/cache.js';
import type { Token } from './types.js';

export interface TokenCache {
  get(tenantId: string, blindHex: string): Token | undefined;
  put(tenantId: string, blindHex: string, token: Token, version?: number): void;
  /** The DEK version the token's value was stored under when it was cached (for the audit trail). */
  version(tenantId: string, blindHex: string): number | undefined;
  /** Drops one tenant's entries, or every tenant's with null. */
  forget(tenantId: string | null): void;
}

export function createTokenCache(opts: { max: number; ttlMs: number; now?: () => number }): TokenCache {
  const cache = opts.max > 0 ? createTtlCache<string, { token: Token; version?: number }>(opts) : null;
  return {
    get: (tenantId, hex) => cache?.get(`${tenantId}:${hex}`)?.token,
    put: (tenantId, hex, token, version) => void cache?.set(`${tenantId}:${hex}`, version === undefined ? { token } : { token, version }),
    version: (tenantId, hex) => cache?.get(`${tenantId}:${hex}`)?.version,
    forget(tenantId) {
      if (!cache) return;
      if (tenantId === null) return cache.clear();
      const prefix = `${tenantId}:`;
      for (const k of [...cache.keys()]) if (k.startsWith(prefix)) cache.delete(k);
    },
  };
}
