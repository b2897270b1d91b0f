/** The `Authenticator` contract (who is calling: open mode, a key, or denied and why) and the always-open one. */
import { OPEN_PRINCIPAL, type Principal } from '../core/types.js';

/**
 * Who is calling. `open`: no Veil API key exists yet (single-tenant development mode); the
 * caller's bearer token is forwarded upstream when no upstream key is configured.
 * `key`: a valid `vk_…` key; the caller's token is never forwarded.
 * `denied`: keys exist and this request carries none, or an unknown / revoked one, or a valid
 * key of a disabled tenant (`disabled`: 403 `veil_tenant_disabled`, the others 401).
 */
export type AuthResult =
  | { readonly kind: 'open'; readonly principal: Principal }
  | { readonly kind: 'key'; readonly principal: Principal }
  | { readonly kind: 'denied'; readonly reason: 'missing' | 'invalid' | 'revoked' | 'disabled' };

export interface Authenticator {
  /** `bearer` is the token from `Authorization: Bearer …`, or null when there is none. */
  authenticate(bearer: string | null): Promise<AuthResult>;
}

/** Always open: for tests and for a gateway with no key store. */
export const openAuthenticator: Authenticator = {
  async authenticate() {
    return { kind: 'open', principal: OPEN_PRINCIPAL };
  },
};
