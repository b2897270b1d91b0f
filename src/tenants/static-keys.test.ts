import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isVeilError } from '../core/errors.js';
import { apiKeyHash, closedAuthenticator, createStaticKeyAuthenticator, MAX_STATIC_KEYS, parseApiKeyHashes, StaticKeyConfigError } from './static-keys.js';

const KEY = 'vk_' + 'x'.repeat(43);

describe('VEIL_API_KEY_HASHES', () => {
  it('parses entries separated by commas, semicolons or whitespace, with an optional name', async () => {
    const h = await apiKeyHash(KEY);
    const h2 = await apiKeyHash('vk_' + 'y'.repeat(43));
    const list = parseApiKeyHashes(` ${h.toUpperCase()}:ten_a:admin:ops ;\n${h2}:default:restricted `);
    expect(list.map((e) => [e.tenantId, e.role, e.name])).toEqual([
      ['ten_a', 'admin', 'ops'],
      ['default', 'restricted', 'static'],
    ]);
    expect(parseApiKeyHashes('')).toEqual([]);
  });

  it('rejects malformed entries by position, never quoting them', async () => {
    const h = await apiKeyHash(KEY);
    const cases: [string, RegExp][] = [
      [`${h}:t`, /entry 1: expected/],
      [`${h}:t:user:n:extra`, /entry 1: expected/],
      [`${h.slice(1)}:t:user`, /entry 1: the hash must be 64 hex/],
      [`${h}:t/x:user`, /tenant id/],
      [`${h}:t:root`, /unknown role/],
      [`${h}:t:user:bad/name`, /entry 1: the name/],
      [`${h}:t:user,${h}:u:admin`, /entry 2: the same key is listed twice/],
    ];
    for (const [text, re] of cases) {
      const e = (() => {
        try {
          parseApiKeyHashes(text);
        } catch (x) {
          return x as Error;
        }
      })();
      expect(e).toBeInstanceOf(StaticKeyConfigError);
      expect(e!.message).toMatch(re);
      expect(e!.message).not.toContain(h.slice(0, 16));
    }
    expect(() => parseApiKeyHashes(Array.from({ length: MAX_STATIC_KEYS + 1 }, () => 'x').join(','))).toThrow(/more than/);
  });

  it('property: any text either parses or throws StaticKeyConfigError, in time linear in its size', () => {
    const piece = fc.oneof(fc.string(), fc.constantFrom(':', ',', ' ', 'a'.repeat(64), 'admin', 'user', 't1'));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }).map((a) => a.join('')), (text) => {
        try {
          const list = parseApiKeyHashes(text);
          for (const e of list) expect(e.hash).toHaveLength(32);
        } catch (e) {
          expect(e).toBeInstanceOf(StaticKeyConfigError);
        }
      }),
      { numRuns: 500 },
    );
    const t0 = performance.now();
    expect(() => parseApiKeyHashes(':'.repeat(199_999))).toThrow(/entry 1: expected/);
    expect(() => parseApiKeyHashes(':'.repeat(5_000_000))).toThrow(/longer than/);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it('authenticates like the database store: missing, invalid, key with tenant and role', async () => {
    const auth = createStaticKeyAuthenticator(parseApiKeyHashes(`${await apiKeyHash(KEY)}:ten_a:user:app`));
    expect(await auth.authenticate(null)).toEqual({ kind: 'denied', reason: 'missing' });
    expect(await auth.authenticate('sk-openai')).toEqual({ kind: 'denied', reason: 'invalid' });
    expect(await auth.authenticate('vk_' + 'x'.repeat(42) + 'y')).toEqual({ kind: 'denied', reason: 'invalid' });
    const ok = await auth.authenticate(KEY);
    expect(ok).toMatchObject({ kind: 'key', principal: { tenantId: 'ten_a', role: 'user', principalId: 'prn_app' } });
    expect(JSON.stringify(ok)).not.toContain(KEY.slice(3));
    expect(() => createStaticKeyAuthenticator([])).toThrow(StaticKeyConfigError);
  });

  it('the closed authenticator refuses everyone with veil_auth_not_configured', async () => {
    const e = await closedAuthenticator.authenticate(KEY).catch((x: unknown) => x);
    expect(isVeilError(e) && e.status === 500 && e.code === 'veil_auth_not_configured').toBe(true);
  });
});
