/** The `Vault` contract both vaults keep (src/vault/db-vault.ts, src/vault/memory.ts). */
import type { EntityType, RequestContext } from '../core/types.js';

import type { Token } from '../core/token.js';

/** Re-exported for the vault's callers; defined with the placeholder functions in src/core/token.ts. */
export type { Token };

export interface TokenizeItem {
  readonly type: EntityType;
  /** The value exactly as found in the text; the vault normalizes it for stability. */
  readonly value: string;
}

/**
 * Placeholder store. Tokens are stable per (tenant, type, normalized value), unguessable, and
 * scoped to the tenant of `ctx.principal`: a token of another tenant never resolves.
 * Every method rejects (never returns partial results) when it cannot do its job, so the
 * gateway fails closed.
 */
export interface Vault {
  /**
   * Returns one token per item, in order. With `versions`, a vault that encrypts records in it
   * the DEK version of each returned token's stored value, as this process found or stored it
   * (for the audit trail; a rotation may re-encrypt it later).
   */
  tokenize(ctx: RequestContext, items: readonly TokenizeItem[], versions?: Map<Token, number>): Promise<Token[]>;
  /**
   * Returns the stored value of every token that exists for this tenant; unknown tokens are
   * absent from the map. The value is the first value tokenized for the token (as written).
   */
  resolve(ctx: RequestContext, tokens: readonly Token[]): Promise<Map<Token, string>>;
  close(): Promise<void>;
}
