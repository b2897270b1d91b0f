/** The /v1 caller check and the admin check (auth.ts) with a real static-key authenticator. */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { apiKeyHash, createStaticKeyAuthenticator, parseApiKeyHashes } from '../../tenants/static-keys.js';
import { openAuthenticator, type Authenticator } from '../../tenants/auth.js';
import type { Env } from '../context.js';
import { onError } from './errors.js';
import { requireAdmin, requireCaller } from './auth.js';
import { silentLogger } from '../../core/types.js';

const ADMIN = 'vk_' + 'a'.repeat(43);
const USER = 'vk_' + 'u'.repeat(43);

async function appWith(auth: Authenticator, upstreamNeedsCallerKey = false) {
  const app = new Hono<Env>();
  app.onError(onError(silentLogger));
  app.use('/v1/*', requireCaller(auth, upstreamNeedsCallerKey));
  app.get('/v1/who', (c) => c.json({ tenant: c.get('principal').tenantId, forward: c.get('forwardBearer') }));
  app.use('/admin', requireAdmin(auth, 'GET /admin'));
  app.get('/admin', (c) => c.text('ok'));
  return app;
}

describe('auth middleware', () => {
  it('open mode admits anyone and forwards the caller’s bearer', async () => {
    const app = await appWith(openAuthenticator);
    const res = await app.request('/v1/who', { headers: { authorization: 'Bearer sk-caller' } });
    expect(await res.json()).toEqual({ tenant: 'default', forward: 'sk-caller' });
    expect((await app.request('/admin')).status).toBe(200);
  });

  it('key mode: 401 without a valid key, 403 for a non-admin on admin routes, never forwards a Veil key', async () => {
    const auth = createStaticKeyAuthenticator(parseApiKeyHashes(`${await apiKeyHash(ADMIN)}:t1:admin ${await apiKeyHash(USER)}:t1:user`));
    const app = await appWith(auth);
    const missing = await app.request('/v1/who');
    expect(missing.status).toBe(401);
    expect((await missing.json()).error.code).toBe('invalid_api_key');
    const ok = await app.request('/v1/who', { headers: { authorization: `Bearer ${USER}` } });
    expect(await ok.json()).toEqual({ tenant: 't1', forward: null });
    const notAdmin = await app.request('/admin', { headers: { authorization: `Bearer ${USER}` } });
    expect(notAdmin.status).toBe(403);
    expect((await notAdmin.json()).error.code).toBe('veil_admin_required');
    expect((await app.request('/admin', { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
    const noUpstreamKey = await (await appWith(auth, true)).request('/v1/who', { headers: { authorization: `Bearer ${USER}` } });
    expect(noUpstreamKey.status).toBe(500);
    expect((await noUpstreamKey.json()).error.code).toBe('veil_misconfigured');
  });
});
