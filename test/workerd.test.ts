/**
 * The Workers build run for real: wrangler (pinned dev dependency) bundles src/runtime/workers.ts with
 * wrangler.toml and serves it from workerd (the runtime Cloudflare deploys, from npm) over
 * HTTP; the official `openai` client calls it. The upstream is the loopback fake
 * (test/fakes/upstream.ts), the stand-in the network forces. Checks the Workers entry
 * authenticates like Node and fails closed: no key → 401 and the upstream gets nothing; a valid
 * key → 200 with PII masked upstream and restored; no key configured → every request refused.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyHash } from '../src/tenants/static-keys.js';
import { type FakeUpstream, lastUserText, startFakeUpstream } from './fakes/upstream.js';

process.env.WRANGLER_SEND_METRICS = 'false';
const { unstable_dev } = await import('wrangler');
type DevWorker = Awaited<ReturnType<typeof unstable_dev>>;

const EMAIL = 'ada.lovelace@example.org';
const SSN = '219-09-9999';
const ADMIN_KEY = 'vk_' + 'A'.repeat(20) + 'admin' + 'B'.repeat(18);
const USER_KEY = 'vk_' + 'C'.repeat(20) + 'user_' + 'D'.repeat(18);
const START_TIMEOUT_MS = 90_000;

/** Starts the worker in workerd; fails (instead of hanging) when workerd does not come up. */
async function startWorkerd(vars: Record<string, string>): Promise<DevWorker> {
  let timer: NodeJS.Timeout | undefined;
  const started = unstable_dev('src/runtime/workers.ts', {
    config: 'wrangler.toml',
    ip: '127.0.0.1',
    port: 0,
    inspect: false,
    logLevel: 'error',
    vars,
    experimental: { disableExperimentalWarning: true },
  });
  try {
    return await Promise.race([
      started,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`workerd did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const base = (w: DevWorker) => `http://${w.address}:${w.port}`;
const chat = (w: DevWorker, headers: Record<string, string> = {}) =>
  fetch(`${base(w)}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: `mail ${EMAIL}` }] }),
  });

let up: FakeUpstream;
beforeAll(async () => {
  up = await startFakeUpstream();
});
afterAll(() => up?.close());

describe('Workers build in workerd with VEIL_API_KEY_HASHES', () => {
  let w: DevWorker;
  beforeAll(async () => {
    w = await startWorkerd({
      VEIL_UPSTREAM_URL: up.url,
      VEIL_UPSTREAM_API_KEY: 'sk-edge',
      VEIL_API_KEY_HASHES: `${await apiKeyHash(ADMIN_KEY)}:acme:admin:ops, ${await apiKeyHash(USER_KEY)}:acme:user:chat`,
    });
  }, START_TIMEOUT_MS + 10_000);
  afterAll(() => w?.stop());

  it('no key, a wrong key or an upstream token → 401 in the OpenAI shape, and the upstream receives nothing', async () => {
    up.received.length = 0;
    for (const headers of [{} as Record<string, string>, { authorization: `Bearer vk_${'Z'.repeat(43)}` }, { authorization: 'Bearer sk-caller-openai-key' }]) {
      const res = await chat(w, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('x-should-retry')).toBe('false');
      expect((await res.json()).error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    }
    const models = await fetch(`${base(w)}/v1/models`);
    expect(models.status).toBe(401);
    expect(up.received).toHaveLength(0);
  });

  it('a valid key → 200 through the openai SDK: masked upstream with the operator key, restored for the caller (plain and streamed)', async () => {
    up.received.length = 0;
    const client = new OpenAI({ baseURL: `${base(w)}/v1`, apiKey: USER_KEY, maxRetries: 0, timeout: 20_000 });
    const res = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `mail ${EMAIL}, ssn ${SSN}` }] });
    // the key's role is honoured: the default policy shows a `user` highly sensitive values masked
    expect(res.choices[0]!.message.content).toBe(`You said: mail ${EMAIL}, ssn •••• 9999`);
    const admin = new OpenAI({ baseURL: `${base(w)}/v1`, apiKey: ADMIN_KEY, maxRetries: 0, timeout: 20_000 });
    const full = await admin.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `ssn ${SSN}` }] });
    expect(full.choices[0]!.message.content).toBe(`You said: ssn ${SSN}`);

    const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: `again ${EMAIL}` }] });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    expect(streamed).toBe(`You said: again ${EMAIL}`);

    expect(up.received).toHaveLength(3);
    expect(lastUserText(up.received[0]!.body)).toMatch(/^mail \[EMAIL_[0-9A-Z]{8}\], ssn \[SSN_[0-9A-Z]{8}\]$/);
    expect(lastUserText(up.received[1]!.body)).toMatch(/^ssn \[SSN_[0-9A-Z]{8}\]$/);
    expect(lastUserText(up.received[2]!.body)).toMatch(/^again \[EMAIL_[0-9A-Z]{8}\]$/);
    for (const r of up.received) expect(r.headers.authorization).toBe('Bearer sk-edge'); // the Veil key is never forwarded
    expect(up.allRaw()).not.toContain(EMAIL);
    expect(up.allRaw()).not.toContain(SSN);
    expect(up.allRaw()).not.toContain(USER_KEY);
    expect(up.allRaw()).not.toContain(ADMIN_KEY);
  });

  it('/metrics needs the admin-role key; /healthz and /readyz answer', async () => {
    const metrics = (key?: string) => fetch(`${base(w)}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    expect((await metrics()).status).toBe(401);
    expect((await metrics(USER_KEY)).status).toBe(403);
    const ok = await metrics(ADMIN_KEY);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^veil_entities_masked_total\{type="EMAIL"\} \d+$/m);
    expect((await fetch(`${base(w)}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base(w)}/readyz`)).json()).toEqual({ status: 'ready' });
  });
});

describe('Workers build in workerd with no key configured', () => {
  let w: DevWorker;
  beforeAll(async () => {
    w = await startWorkerd({ VEIL_UPSTREAM_URL: up.url, VEIL_UPSTREAM_API_KEY: 'sk-edge' });
  }, START_TIMEOUT_MS + 10_000);
  afterAll(() => w?.stop());

  it('fails closed: every request is refused with 500 veil_auth_not_configured, the upstream receives nothing, /readyz is 503', async () => {
    up.received.length = 0;
    for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${USER_KEY}` }, { authorization: 'Bearer sk-caller' }]) {
      const res = await chat(w, headers);
      expect(res.status).toBe(500);
      expect((await res.json()).error).toMatchObject({ type: 'server_error', code: 'veil_auth_not_configured' });
    }
    expect((await fetch(`${base(w)}/metrics`)).status).toBe(500);
    expect(up.received).toHaveLength(0);
    expect((await fetch(`${base(w)}/healthz`)).status).toBe(200);
    expect((await fetch(`${base(w)}/readyz`)).status).toBe(503);
  });
});
