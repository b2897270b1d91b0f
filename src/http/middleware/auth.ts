/**
 * Who is calling. `requireCaller` guards /v1/*: open mode (no keys yet) or a valid Veil key,
 * else 401 `invalid_api_key` (missing, unknown, revoked) or 403 `veil_tenant_disabled`; a Veil
 * key is never forwarded upstream, so a key-mode gateway without VEIL_UPSTREAM_API_KEY answers
 * 500 `veil_misconfigured`. `requireAdmin` guards operator endpoints (/metrics): an admin-role
 * key, or anyone in open mode. Not hono's bearer-auth: open mode admits callers without a token
 * and the errors must be OpenAI-shaped.
 */
import type { MiddlewareHandler } from 'hono';
import { adminRequired, misconfigured, tenantDisabled, unauthorized, type VeilError } from '../../core/errors.js';
import type { AuthResult, Authenticator } from '../../tenants/auth.js';
import { bearerOf, type Env } from '../context.js';

export function deniedError(reason: Extract<AuthResult, { kind: 'denied' }>['reason']): VeilError {
  if (reason === 'disabled') return tenantDisabled();
  return unauthorized(
    reason === 'missing'
      ? 'Missing Veil API key: send "Authorization: Bearer vk_…".'
      : reason === 'revoked'
        ? 'This Veil API key has been revoked.'
        : 'Invalid Veil API key.',
  );
}

export function requireCaller(auth: Authenticator, upstreamNeedsCallerKey: boolean): MiddlewareHandler<Env> {
  return async (c, next) => {
    const bearer = bearerOf(c);
    const result = await auth.authenticate(bearer);
    if (result.kind === 'denied') throw deniedError(result.reason);
    c.set('principal', result.principal);
    c.set('forwardBearer', result.kind === 'open' ? bearer : null);
    // /v1/messages goes to the Anthropic upstream, which has its own key (src/surfaces)
    if (result.kind === 'key' && upstreamNeedsCallerKey && !c.req.path.startsWith('/v1/messages')) {
      // A Veil key must never be forwarded, and there is no upstream key to use instead.
      throw misconfigured('This Veil gateway uses API keys but has no VEIL_UPSTREAM_API_KEY configured.');
    }
    await next();
  };
}

export function requireAdmin(auth: Authenticator, what: string): MiddlewareHandler<Env> {
  return async (c, next) => {
    const result = await auth.authenticate(bearerOf(c));
    if (result.kind === 'denied') throw deniedError(result.reason);
    if (result.kind === 'key' && result.principal.role !== 'admin') throw adminRequired(what);
    await next();
  };
}
