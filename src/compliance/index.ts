/**
 * What the compliance endpoints (`/v1/veil/*`) need besides the vault: the audit store, a
 * look-up of which tokens exist (and under which DEK version) without decrypting anything, and
 * the per-key reveal limiter. Built by the runtime entry; absent with the memory vault.
 */
import type { AuditStore } from '../audit/store.js';
import type { Db } from '../db/client.js';
import type { Token } from '../vault/types.js';
import type { EraseDeps } from './erase.js';
import type { RateLimiter } from './rate-limit.js';

export interface Compliance {
  readonly audit: AuditStore;
  /** Token → DEK version of every given token that exists for the tenant (no decryption). */
  known(tenantId: string, tokens: readonly Token[]): Promise<Map<Token, number>>;
  readonly revealLimiter: RateLimiter;
  /** Erasure (`POST /v1/veil/erase`); needs the database vault's keyring. */
  readonly erase?: EraseDeps;
}

export function knownTokens(db: Db): Compliance['known'] {
  return async (tenantId, tokens) => {
    const out = new Map<Token, number>();
    if (tokens.length === 0) return out;
    const rows = await db.query<{ token: string; dek_version: number }>(
      'select token, dek_version from mappings where tenant_id = $1 and token = any($2::text[])',
      [tenantId, [...tokens]],
    );
    for (const r of rows) out.set(r.token as Token, Number(r.dek_version));
    return out;
  };
}
