/** The memory vault normalizes as the database vault does (src/vault/normalize.ts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OPEN_PRINCIPAL, type RequestContext } from '../core/types.js';
import { createMemoryVault } from './memory.js';
import { blindInput } from './normalize.js';

const ctx: RequestContext = { principal: OPEN_PRINCIPAL, requestId: 'req_test' };

describe('memory vault', () => {
  it('one token for a card number with and without separators, as in the database vault (issue 8)', async () => {
    const v = createMemoryVault();
    const [a, b, c] = await v.tokenize(ctx, [
      { type: 'CARD', value: '4111 1111 1111 1111' },
      { type: 'CARD', value: '4111-1111-1111-1111' },
      { type: 'CARD', value: '4111111111111111' },
    ]);
    expect(b).toBe(a);
    expect(c).toBe(a);
    // the value comes back as first written
    expect((await v.resolve(ctx, [a!])).get(a!)).toBe('4111 1111 1111 1111');
  });

  it('same token exactly when normalize.ts says the values are the same', async () => {
    const piece = fc.constantFrom('4111', '1111', ' ', '-', '.', 'ß', 'SS', 'ss', 'Ada', 'ADA', '\u00a0', '+1', '@X.com');
    const value = fc.array(piece, { minLength: 1, maxLength: 6 }).map((p) => p.join(''));
    const type = fc.constantFrom('CARD' as const, 'PERSON' as const, 'EMAIL' as const, 'PHONE' as const);
    await fc.assert(
      fc.asyncProperty(type, value, value, async (t, x, y) => {
        const v = createMemoryVault();
        const [a, b] = await v.tokenize(ctx, [
          { type: t, value: x },
          { type: t, value: y },
        ]);
        expect(a === b).toBe(blindInput(t, x) === blindInput(t, y));
      }),
      { numRuns: 300 },
    );
  });
});
