/**
 * With an audit trail (src/audit), the Responses and Anthropic surfaces write one restore event
 * per request, as chat does (endpoint named, never values). Real PGlite, db vault, audit store,
 * API keys; the loopback upstream (test/fakes/surfaces-upstream.ts) is the only fake.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAuditStore, type AuditStore } from '../src/audit/store.js';
import { createApiKeyStore } from '../src/tenants/api-keys.js';
import { knownTokens } from '../src/compliance/index.js';
import { createRateLimiter } from '../src/compliance/rate-limit.js';
import { randomBytes } from '../src/keys/crypto.js';
import { createLocalProvider } from '../src/keys/local.js';
import { nodeVaultCrypto } from '../src/keys/crypto.node.js';
import { createDbVault } from '../src/vault/db-vault.js';
import { surfacesHandler } from './fakes/surfaces-upstream.js';
import { type FakeUpstream, startFakeUpstream } from './fakes/upstream.js';
import { type Gateway, startGateway } from './helpers/gateway.js';
import { type Harness, pgliteDriver } from './helpers/db.js';

const EMAIL = 'jane.roe@example.com';
let h: Harness;
let up: FakeUpstream;
let gw: Gateway;
let audit: AuditStore;
let tenant = '';
let key = '';

beforeAll(async () => {
  h = await pgliteDriver.open();
  up = await startFakeUpstream(surfacesHandler);
  const provider = createLocalProvider(randomBytes(32));
  const store = createApiKeyStore(h.db, { cacheTtlMs: 50 });
  audit = createAuditStore({ db: h.db, provider, hmac: nodeVaultCrypto.hmac, timeoutMs: 3000 });
  tenant = (await store.createTenant('Tenant A')).id;
  key = (await store.issueKey({ tenantId: tenant, name: 'a-user', role: 'user' })).key;
  gw = await startGateway(up.url, {
    vault: createDbVault({ db: h.db, provider, crypto: nodeVaultCrypto, timeoutMs: 3000 }),
    auth: store,
    anthropic: { baseURL: up.url.replace(/\/v1$/, ''), apiKey: 'sk-ant-upstream', timeoutMs: 10_000 },
    compliance: { audit, known: knownTokens(h.db), revealLimiter: createRateLimiter(0) },
  });
}, 60_000);
afterAll(async () => {
  await gw?.close();
  await up?.close();
  await h?.cleanup();
});

it('responses and messages requests are audited (endpoint named, no values), and restore exactly', async () => {
  const r = await gw.client({ apiKey: key }).responses.create({ model: 'm', input: `mail ${EMAIL}` });
  expect(r.output_text).toBe(`You said: mail ${EMAIL}`);
  const anthropic = new Anthropic({ baseURL: gw.url.replace(/\/v1$/, ''), apiKey: key, maxRetries: 0 });
  const m = await anthropic.messages.create({ model: 'c', max_tokens: 10, messages: [{ role: 'user', content: `mail ${EMAIL}` }] });
  expect(m.content[0]).toMatchObject({ type: 'text', text: `You said: mail ${EMAIL}` });
  const evs: any[] = [];
  for await (const e of audit.events(tenant)) evs.push(JSON.parse(e.body));
  expect(evs.map((e) => [e.kind, e.endpoint])).toEqual([
    ['restore', 'responses'],
    ['restore', 'messages'],
  ]);
  expect(JSON.stringify(evs)).not.toContain(EMAIL);
  expect(up.allRaw()).not.toContain(EMAIL);
}, 60_000);
