/**
 * Availability under hostile input (issue 7), end to end over real HTTP: the `openai` client
 * or plain fetch → Veil (createApp on @hono/node-server) → the loopback fake upstream
 * (test/fakes/upstream.ts, the only stand-in: it is the network). Real pattern detector,
 * in-memory vault.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { emailPrompt } from '../bench/lib.js';
import { chatChunks, chatCompletion, defaultHandler, type FakeUpstream, lastUserText, startFakeUpstream } from './fakes/upstream.js';
import { type Gateway, startGateway } from './helpers/gateway.js';

let up: FakeUpstream;
let gw: Gateway;
beforeAll(async () => {
  up = await startFakeUpstream();
  gw = await startGateway(up.url, { limits: { maxBodyBytes: 2 * 1024 * 1024, streamIdleTimeoutMs: 5_000, maxSseEventBytes: 64 * 1024 } });
});
afterAll(async () => {
  await gw?.close();
  await up?.close();
});
afterEach(() => {
  up.handler = defaultHandler;
  up.received.length = 0;
});

const post = (body: string) =>
  fetch(`${gw.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk' }, body });

describe('JSON nesting', () => {
  it('a body nested 5,000 deep is a 400 veil_too_deep (was a 500 stack overflow), nothing upstream', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const r = await post(`{"model":"m","messages":[{"role":"user","content":"hi"}],"x":${deep}}`);
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({
      error: { message: 'The JSON body nests deeper than the 64-level limit.', type: 'invalid_request_error', param: null, code: 'veil_too_deep' },
    });
    expect(up.received).toHaveLength(0);
  });

  it('brackets inside strings do not count; 60 levels are fine', async () => {
    const r = await post(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: '[[[['.repeat(100) }], x: JSON.parse('['.repeat(60) + ']'.repeat(60)) }));
    expect(r.status).toBe(200);
  });

  it('tool-call arguments (a string) nested 3,000 deep: a 400, never a stack overflow; nothing upstream', async () => {
    const args = '{"a":'.repeat(3000) + '"mail jane.roe@example.com"' + '}'.repeat(3000);
    // the body itself is shallow: the arguments are a string, bounded by the walker's own limit
    const r = await post(
      JSON.stringify({
        model: 'm',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: args } }] },
        ],
      }),
    );
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('veil_nesting_too_deep');
    expect(up.received).toHaveLength(0);
  });
});

describe('big prompts', () => {
  it('a 256 KB prompt with an e-mail every ~25 characters: fast, no e-mail upstream, restored exactly; /healthz stays responsive', async () => {
    const text = emailPrompt(256 * 1024);
    up.handler = (req) => ({ kind: 'json', body: chatCompletion([lastUserText(req.body)]) });
    const healthz = gw.url.replace(/\/v1$/, '/healthz');
    let inFlight = true;
    const probes: number[] = [];
    const probe = (async () => {
      while (inFlight) {
        const t = performance.now();
        await (await fetch(healthz)).text();
        probes.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const t0 = performance.now();
    const res = await gw.client({ timeout: 60_000 }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: text }] });
    const ms = performance.now() - t0;
    inFlight = false;
    await probe;
    expect(res.choices[0]!.message.content).toBe(text);
    expect(up.allRaw()).not.toMatch(/u\d+@ex\d\.com/);
    // ~0.3 s on the 2-core dev machine (16.8 s before the one-pass rebuild)
    expect(ms).toBeLessThan(5_000);
    // the worst /healthz answer while it ran: generous bound for a shared, busy machine
    expect(Math.max(...probes)).toBeLessThan(1_500);
  });
});

describe('SSE event size limit', () => {
  it('an upstream event over the limit ends the stream with an in-band error; what came before is restored, nothing unrestored', async () => {
    up.handler = (req) => {
      const said = lastUserText(req.body); // 'mail [EMAIL_…] now'
      const at = said.indexOf('[EMAIL_');
      // the placeholder is split across events: the restorer holds its first half when the big event comes
      const pieces = ['You said: ', said.slice(0, at + 4), said.slice(at + 4, at + 10)];
      const events: unknown[] = chatChunks([pieces]).slice(0, 4);
      events.push(JSON.stringify({ choices: [{ index: 0, delta: { content: 'x'.repeat(200 * 1024) } }] }));
      events.push(...chatChunks([[said.slice(at + 10)]]).slice(1));
      return { kind: 'sse', events, maxWrite: 4096 };
    };
    const stream = await gw.client().chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'mail jane.roe@example.com now' }] });
    let text = '';
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.error?.code ?? err.code).toBe('upstream_event_too_large');
    // the held half placeholder is released as it came (it is not PII), nothing of the big event
    expect(text).toMatch(/^You said: mail \[EMAIL_[0-9A-Z]{0,7}$/);
    expect(text).not.toContain('xxxx');
  });
});

describe('stale upstream connections', () => {
  it('an upstream connection reset before any response byte is retried once: 200, not 502', async () => {
    let calls = 0;
    up.handler = (req) => (++calls === 1 ? { kind: 'destroy' } : defaultHandler(req));
    const res = await gw.client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi jane.roe@example.com' }] });
    expect(calls).toBe(2);
    expect(res.choices[0]!.message.content).toBe('You said: hi jane.roe@example.com');
    expect(up.allRaw()).not.toContain('jane.roe@example.com');
  });
});
