/**
 * The Workers entry driven in Node with plain Web API Request/Response objects (as workerd calls
 * it), against the loopback fake upstream (test/fakes/upstream.ts, the network stand-in). The
 * same entry runs in workerd in test/workerd.test.ts; here: open mode, configuration errors.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiKeyHash } from '../src/tenants/static-keys.js';
import { loadConfig } from '../src/core/config.js';
import { silentLogger } from '../src/core/types.js';
import { buildServices } from '../src/runtime/node/services.js';
import worker from '../src/runtime/workers.js';
import { type FakeUpstream, lastUserText, startFakeUpstream } from './fakes/upstream.js';

let up: FakeUpstream;
beforeAll(async () => {
  up = await startFakeUpstream();
});
afterAll(() => up.close());

const chatRequest = (headers: Record<string, string> = {}) =>
  new Request('https://veil.example/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'mail ada@example.org now' }] }),
  });

it('explicit open mode (VEIL_OPEN_MODE=true, local development): a sanitized, restored round trip without a key', async () => {
  up.received.length = 0;
  const env = { VEIL_UPSTREAM_URL: up.url, VEIL_UPSTREAM_API_KEY: 'sk-edge', VEIL_OPEN_MODE: 'true' };
  const res = await worker.fetch(chatRequest(), env, {});
  expect(res.status).toBe(200);
  const body = await res.json();
  expect(body.choices[0].message.content).toBe('You said: mail ada@example.org now');
  expect(lastUserText(up.received[0]!.body)).toMatch(/^mail \[EMAIL_[0-9A-Z]{8}\] now$/);
  expect(up.received[0]!.headers.authorization).toBe('Bearer sk-edge');
});

it('no key configured and no open mode: refused with 500 veil_auth_not_configured, nothing upstream', async () => {
  up.received.length = 0;
  for (const env of [{ VEIL_UPSTREAM_URL: up.url, VEIL_UPSTREAM_API_KEY: 'sk-edge' }, { VEIL_UPSTREAM_URL: up.url, VEIL_API_KEY_HASHES: '', VEIL_OPEN_MODE: 'false' }]) {
    const res = await worker.fetch(chatRequest({ authorization: 'Bearer sk-caller' }), env, {});
    expect(res.status).toBe(500);
    expect((await res.json()).error).toMatchObject({ type: 'server_error', code: 'veil_auth_not_configured' });
  }
  expect(up.received).toHaveLength(0);
});

it('keys win over open mode; a malformed VEIL_API_KEY_HASHES answers 500 veil_misconfigured without echoing the secret', async () => {
  up.received.length = 0;
  const key = 'vk_' + 'k'.repeat(43);
  const both = { VEIL_UPSTREAM_URL: up.url, VEIL_UPSTREAM_API_KEY: 'sk-edge', VEIL_OPEN_MODE: 'true', VEIL_API_KEY_HASHES: `${await apiKeyHash(key)}:t1:user` };
  expect((await worker.fetch(chatRequest(), both, {})).status).toBe(401);
  expect((await worker.fetch(chatRequest({ authorization: `Bearer ${key}` }), both, {})).status).toBe(200);

  const secret = 'ab'.repeat(31) + 'zz';
  const bad = { VEIL_UPSTREAM_URL: up.url, VEIL_UPSTREAM_API_KEY: 'sk-edge', VEIL_API_KEY_HASHES: `${secret}:t1:user` };
  const res = await worker.fetch(chatRequest({ authorization: `Bearer ${key}` }), bad, {});
  expect(res.status).toBe(500);
  const text = await res.text();
  expect(JSON.parse(text).error).toMatchObject({ code: 'veil_misconfigured', message: expect.stringMatching(/^VEIL_API_KEY_HASHES entry 1: the hash must be 64 hex/) });
  expect(text).not.toContain(secret);
  const badConfig = await worker.fetch(chatRequest(), { VEIL_UPSTREAM_URL: 'not a url', VEIL_OPEN_MODE: 'true' }, {});
  expect(badConfig.status).toBe(500);
  expect((await badConfig.json()).error.message).toMatch(/^Invalid configuration: VEIL_UPSTREAM_URL/);
  expect(up.received).toHaveLength(1);
});

it('the Node server refuses to start with the Workers-only VEIL_API_KEY_HASHES / VEIL_OPEN_MODE instead of ignoring them', async () => {
  for (const env of [{ VEIL_API_KEY_HASHES: `${'a'.repeat(64)}:t:user` }, { VEIL_OPEN_MODE: 'true' }]) {
    await expect(buildServices(loadConfig({ ...env, VEIL_NER: 'off', VEIL_VAULT: 'memory' }), silentLogger)).rejects.toThrow(/configure the Workers build only/);
  }
});
