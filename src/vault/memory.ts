/**
 * In-memory vault for tests, `VEIL_VAULT=memory` and the Workers build. Same contract as the
 * database vault (per-tenant, stable per normalized value: the same `blindInput` of
 * src/vault/normalize.ts, so both vaults give one token to the same spellings) but nothing is
 * persisted or encrypted.
 */
import type { RequestContext } from '../core/types.js';
import { makeToken, randomTokenId } from '../core/token.js';
import { yielder } from '../core/yield.js';
import { blindInput } from './normalize.js';
import type { Token, TokenizeItem, Vault } from './types.js';

export function createMemoryVault(): Vault & {
  size(tenantId: string): number;
} {
  const byValue = new Map<string, Map<string, Token>>();
  const byToken = new Map<string, Map<Token, string>>();
  const tenant = <V>(m: Map<string, V>, id: string, make: () => V): V => {
    let v = m.get(id);
    if (!v) m.set(id, (v = make()));
    return v;
  };
  let closed = false;
  return {
    async tokenize(ctx: RequestContext, items: readonly TokenizeItem[]) {
      if (closed) throw new Error('vault closed');
      const values = tenant(byValue, ctx.principal.tenantId, () => new Map<string, Token>());
      const tokens = tenant(byToken, ctx.principal.tenantId, () => new Map<Token, string>());
      const out: Token[] = [];
      const tick = yielder(8);
      for (const item of items) {
        // a huge batch yields to other requests every ~8 ms
        const turn = tick();
        if (turn) await turn;
        const key = blindInput(item.type, item.value);
        let token = values.get(key);
        if (!token) {
          do token = makeToken(item.type, randomTokenId());
          while (tokens.has(token));
          values.set(key, token);
          tokens.set(token, item.value);
        }
        out.push(token);
      }
      return out;
    },
    async resolve(ctx: RequestContext, list: readonly Token[]) {
      if (closed) throw new Error('vault closed');
      const tokens = byToken.get(ctx.principal.tenantId);
      const out = new Map<Token, string>();
      if (!tokens) return out;
      for (const t of list) {
        const v = tokens.get(t);
        if (v !== undefined) out.set(t, v);
      }
      return out;
    },
    async close() {
      closed = true;
    },
    size(tenantId: string) {
      return byToken.get(tenantId)?.size ?? 0;
    },
  };
}
