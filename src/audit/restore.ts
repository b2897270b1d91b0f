/**
 * Audit of restores into responses (plain and streamed): one event per request, written
 * before any stored value is decrypted (src/sanitize/sanitize.ts calls it between tokenizing and
 * resolving placeholders pasted into the input). It lists every placeholder the response may
 * be restored from — minted for this request or presented by the caller — with what the
 * caller's role gets for it. A rejected append rejects the request (503
 * `veil_audit_unavailable`): no event, no decryption, nothing sent upstream.
 */
import { isVeilError, vaultUnavailable } from '../core/errors.js';
import type { RequestContext } from '../core/types.js';
import { restoreAction, type Policy } from '../policy/index.js';
import { tokenType } from '../core/token.js';
import type { Token } from '../vault/types.js';
import type { AuditToken, TokenOutcome } from './chain.js';
import type { AuditStore } from './store.js';

export interface RestoreAudit {
  readonly ctx: RequestContext;
  readonly endpoint: string;
  readonly policy: Policy;
  /** Tokens minted or found for values in this request's own text. */
  readonly minted: readonly Token[];
  /** DEK version of each minted token's stored value, as the vault's tokenize reported it (no extra query). */
  readonly mintedVersions?: ReadonlyMap<Token, number>;
  /** Placeholders the caller pasted into its input (to be decrypted after this call). */
  readonly presented: readonly Token[];
  /** The OpenAI `user` field as sent upstream (already masked). */
  readonly endUser?: string | undefined;
}

export type RestoreAuditor = (a: RestoreAudit) => Promise<void>;

export function outcomeOf(policy: Policy, role: string, token: Token): TokenOutcome {
  const action = restoreAction(policy, role, tokenType(token));
  return action === 'value' ? 'revealed' : action === 'masked' ? 'masked' : 'denied';
}

/** Maximum length of free-text fields copied into an event. */
export const AUDIT_TEXT_MAX = 200;

/**
 * Every token of the event carries its key version (`kv`: the DEK its stored value is encrypted
 * under). For placeholders pasted into the input, `known` (token → DEK version, no decryption)
 * gives it — the version a decryption uses — and says which do not exist for the tenant
 * (another tenant's, or made up): those are recorded as denied. For tokens of the request's
 * own text it comes with the tokens from the vault (`mintedVersions`), at no extra query.
 */
export function createRestoreAuditor(
  store: AuditStore,
  known?: (tenantId: string, tokens: readonly Token[]) => Promise<Map<Token, number>>,
): RestoreAuditor {
  return async (a) => {
    const seen = new Set<string>();
    const tokens: AuditToken[] = [];
    const role = a.ctx.principal.role;
    let versions: Map<Token, number> | null = null;
    if (known && a.presented.length > 0) {
      try {
        versions = await known(a.ctx.principal.tenantId, a.presented);
      } catch (e) {
        throw isVeilError(e) ? e : vaultUnavailable(e);
      }
    }
    const add = (t: Token, presented: boolean) => {
      if (seen.has(t)) return;
      seen.add(t);
      const outcome = outcomeOf(a.policy, role, t);
      const kv = presented ? versions?.get(t) : a.mintedVersions?.get(t);
      if (presented && versions && kv === undefined) {
        tokens.push({ token: t, type: tokenType(t), outcome: 'denied', reason: 'unknown' });
        return;
      }
      tokens.push({
        token: t,
        type: tokenType(t),
        outcome,
        ...(kv !== undefined ? { keyVersion: kv } : {}),
        ...(outcome === 'denied' ? { reason: 'role' } : presented ? { reason: 'presented' } : {}),
      });
    };
    for (const t of a.minted) add(t, false);
    for (const t of a.presented) add(t, true);
    if (tokens.length === 0) return;
    const p = a.ctx.principal;
    await store.append(p.tenantId, [
      {
        kind: 'restore',
        tenantId: p.tenantId,
        principalId: p.principalId,
        ...(p.keyId ? { keyId: p.keyId } : {}),
        role,
        ...(a.ctx.purpose ? { purpose: a.ctx.purpose.slice(0, AUDIT_TEXT_MAX) } : {}),
        ...(a.endUser ? { endUser: a.endUser.slice(0, AUDIT_TEXT_MAX) } : {}),
        requestId: a.ctx.requestId,
        endpoint: a.endpoint,
        tokens,
      },
    ]);
  };
}
