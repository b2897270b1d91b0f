/**
 * `POST /v1/veil/reveal` `{"tokens": ["[PERSON_…]", …], "purpose": "…"}` → for each token, in
 * order, `{token, type, value, outcome}`: the value when the caller's role may see its class,
 * a partial mask when the role gets masks, `null` (outcome `denied`) when the role gets
 * nothing, the token is malformed, unknown, of another tenant (the same thing: tokens are
 * scoped to the tenant), or of the highly sensitive class without a purpose (body `purpose` or
 * `x-veil-purpose`). Order of work: validate → rate-limit (per API key, counting tokens) →
 * look up which tokens exist (no decryption) → write the audit event (fail closed: 503
 * `veil_audit_unavailable`, nothing decrypted) → decrypt only the allowed tokens.
 */
import type { Hono } from 'hono';
import { parseWith, readJson } from '../middleware/body.js';
import type { Env } from '../context.js';
import { z } from 'zod';
import { AUDIT_TEXT_MAX } from '../../audit/restore.js';
import type { AuditToken } from '../../audit/chain.js';
import { isVeilError, revealRateLimited, vaultUnavailable } from '../../core/errors.js';
import type { Compliance } from '../../compliance/index.js';
import type { EntityType, Principal } from '../../core/types.js';
import { parseToken, tokenType } from '../../core/token.js';
import { maskValue, restoreAction, type Policy } from '../../policy/index.js';
import type { Token, Vault } from '../../vault/types.js';

export const REVEAL_MAX_TOKENS = 1000;

export const RevealBody = z.object({
  tokens: z.array(z.string().max(200)).min(1).max(REVEAL_MAX_TOKENS),
  purpose: z.string().min(1).max(AUDIT_TEXT_MAX).optional(),
});

export interface RevealDeps {
  readonly vault: Vault;
  readonly compliance: Compliance;
  policyFor(tenantId: string): Policy | Promise<Policy>;
  readonly maxBodyBytes: number;
  readonly maxJsonDepth: number;
}

export interface RevealItem {
  token: string;
  type: EntityType | null;
  value: string | null;
  outcome: 'revealed' | 'masked' | 'denied';
}

/** Registers the route on the gateway app (behind its /v1 authentication middleware). */
export function registerRevealRoute(app: Hono<Env>, deps: RevealDeps): void {
  app.post('/v1/veil/reveal', async (c) => {
    const body = parseWith(RevealBody, await readJson(c, deps), 'reveal');
    const principal = c.get('principal');
    const requestId = c.get('requestId');
    const header = c.req.header('x-veil-purpose');
    const purpose = body.purpose ?? (header ? header.slice(0, AUDIT_TEXT_MAX) : undefined);
    const { compliance, vault } = deps;

    let wait: number;
    try {
      // shared by every gateway process on the database (src/compliance/rate-limit.ts)
      wait = await compliance.revealLimiter.take(principal.keyId ?? `principal:${principal.tenantId}:${principal.principalId}`, body.tokens.length);
    } catch (e) {
      throw isVeilError(e) ? e : vaultUnavailable(e);
    }
    if (wait > 0) {
      throw revealRateLimited(wait);
    }

    const policy = await deps.policyFor(principal.tenantId);
    const items = body.tokens.map((presented) => {
      const bare = /^\[.*\]$/.test(presented) ? presented.slice(1, -1) : presented;
      return { presented, token: parseToken(bare) };
    });
    const valid = [...new Set(items.map((i) => i.token).filter((t): t is Token => t !== null))];
    let known: Map<Token, number>;
    try {
      known = await compliance.known(principal.tenantId, valid);
    } catch (e) {
      throw isVeilError(e) ? e : vaultUnavailable(e);
    }

    const decisions = new Map<Token, AuditToken>();
    const audited: AuditToken[] = [];
    for (const it of items) {
      if (!it.token) {
        audited.push({ token: it.presented.slice(0, 64), type: null, outcome: 'denied', reason: 'malformed' });
        continue;
      }
      if (decisions.has(it.token)) continue;
      const type = tokenType(it.token);
      const version = known.get(it.token);
      const action = restoreAction(policy, principal.role, type);
      let d: AuditToken;
      if (version === undefined) d = { token: it.token, type, outcome: 'denied', reason: 'unknown' };
      else if (action === 'placeholder') d = { token: it.token, type, outcome: 'denied', reason: 'role', keyVersion: version };
      else if (policy.sensitivity[type] === 'highly_sensitive' && !purpose) d = { token: it.token, type, outcome: 'denied', reason: 'purpose_required', keyVersion: version };
      else d = { token: it.token, type, outcome: action === 'value' ? 'revealed' : 'masked', keyVersion: version };
      decisions.set(it.token, d);
      audited.push(d);
    }

    await compliance.audit.append(principal.tenantId, [
      {
        kind: 'reveal',
        tenantId: principal.tenantId,
        principalId: principal.principalId,
        ...(principal.keyId ? { keyId: principal.keyId } : {}),
        role: principal.role,
        ...(purpose ? { purpose } : {}),
        requestId,
        endpoint: '/v1/veil/reveal',
        tokens: audited,
      },
    ]);

    const allowed = [...decisions.values()].filter((d) => d.outcome !== 'denied').map((d) => d.token as Token);
    let values = new Map<Token, string>();
    if (allowed.length > 0) {
      try {
        values = await vault.resolve({ principal, requestId, ...(purpose ? { purpose } : {}) }, allowed);
      } catch (e) {
        throw isVeilError(e) ? e : vaultUnavailable(e);
      }
    }
    const data: RevealItem[] = items.map((it) => {
      const d = it.token ? decisions.get(it.token) : undefined;
      if (!it.token || !d || d.outcome === 'denied') {
        return { token: it.presented, type: it.token ? tokenType(it.token) : null, value: null, outcome: 'denied' };
      }
      const v = values.get(it.token);
      if (v === undefined) return { token: it.presented, type: tokenType(it.token), value: null, outcome: 'denied' };
      const type = tokenType(it.token);
      return { token: it.presented, type, value: d.outcome === 'revealed' ? v : maskValue(type, v), outcome: d.outcome };
    });
    return c.json({ object: 'list', data });
  });
}
