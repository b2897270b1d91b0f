/**
 * Hostile paths and upstream faults (issue 7, "every surface" and "clear failures"): PII in
 * URL paths, upstream headers on success and error, upstream connection failures logged by
 * cause, streams answered oddly by the upstream, and callers that disconnect. Real HTTP: the
 * official `openai` client (and plain fetch where headers or raw bytes matter) → Veil
 * (createApp on @hono/node-server) → the loopback fake upstream (test/fakes/upstream.ts, the
 * stand-in the network forces). Detection is the real pattern detector, except in the one
 * disconnect test, which wraps it to take long enough for the caller to leave.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../src/core/types.js';
import { freePort } from '../bench/lib.js';
import { createPatternDetector } from '../src/detect/patterns/index.js';
import type { Detector } from '../src/detect/types.js';
import { chatChunks, chatCompletion, defaultHandler, errorBody, type FakeUpstream, lastUserText, smallPieces, startFakeUpstream } from './fakes/upstream.js';
import { type Gateway, startGateway } from './helpers/gateway.js';

const SSN = '219-09-9999';
const EMAIL = 'jane.roe@example.com';

interface Line {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}
function capturingLogger(): Logger & { lines: Line[]; text(): string } {
  const lines: Line[] = [];
  const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => void lines.push({ level, msg, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), text: () => JSON.stringify(lines) };
}

let up: FakeUpstream;
let gw: Gateway;
let log: ReturnType<typeof capturingLogger>;

beforeAll(async () => {
  up = await startFakeUpstream();
  log = capturingLogger();
  gw = await startGateway(up.url, { logger: log });
});
afterAll(async () => {
  await gw.close();
  await up.close();
});
afterEach(() => {
  up.handler = defaultHandler;
  up.received.length = 0;
  log.lines.length = 0;
});

const base = () => gw.url.replace(/\/v1$/, '');

describe('PII in URL paths', () => {
  it('GET /v1/models/<SSN> → 400 veil_pii_in_path, not forwarded, not logged, metrics by route pattern', async () => {
    const res = await fetch(`${gw.url}/models/${SSN}`, { headers: { authorization: 'Bearer sk' } });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.code).toBe('veil_pii_in_path');
    expect(body.error.message).not.toContain(SSN);
    expect(up.received).toHaveLength(0);
    expect(log.text()).not.toContain(SSN);
    expect(log.lines.find((l) => l.msg === 'request')!.fields.route).toBe('/v1/models/:id');
    const metrics = await (await fetch(`${base()}/metrics`)).text();
    expect(metrics).not.toContain(SSN);
    expect(metrics).toContain('path="/v1/models/:id",status="400"');
  });

  it('model ids without PII are forwarded (dates in versioned ids, slashes)', async () => {
    const client = gw.client();
    up.handler = (req) => ({ kind: 'json', body: { id: decodeURIComponent(req.path.slice('/models/'.length)), object: 'model', created: 1, owned_by: 'x' } });
    expect((await client.models.retrieve('gpt-4o-2024-08-06')).id).toBe('gpt-4o-2024-08-06');
    const r = await fetch(`${gw.url}/models/meta-llama/Llama-3.1-8B-Instruct`, { headers: { authorization: 'Bearer sk' } });
    expect(r.status).toBe(200);
    expect((await r.json()).id).toBe('meta-llama/Llama-3.1-8B-Instruct');
  });

  it('an unknown path with PII: 404 that does not echo it; logged as `other`', async () => {
    const res = await fetch(`${gw.url}/files/${EMAIL}/content/${SSN}`, { headers: { authorization: 'Bearer sk' } });
    expect(res.status).toBe(404);
    const body = await res.json();
    expect(body.error.message).toBe('Unknown endpoint GET /v1/files/:param/content/:param.');
    expect(log.text()).not.toContain(SSN);
    expect(log.text()).not.toContain(EMAIL);
    expect(log.lines.find((l) => l.msg === 'request')!.fields.route).toBe('other');
  });
});

describe('upstream headers reach the caller', () => {
  const UP_HEADERS = {
    'retry-after': '7',
    'x-ratelimit-remaining-requests': '0',
    'x-ratelimit-reset-requests': '7s',
    'openai-processing-ms': '12',
    'x-request-id': 'req_upstream_42',
  };
  const post = (body: unknown) =>
    fetch(`${gw.url}/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer sk', 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it.each([
    ['success', 200, () => chatCompletion(['ok'])],
    ['429', 429, () => errorBody('Rate limit reached', 'requests', 'rate_limit_exceeded')],
    ['503', 503, () => errorBody('Overloaded', 'server_error')],
  ])('%s: Retry-After, rate-limit and openai-* headers pass; the upstream id is x-upstream-request-id', async (_, status, body) => {
    up.handler = () => ({ kind: 'json', status, body: body(), headers: UP_HEADERS });
    const res = await post({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(status);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(res.headers.get('x-ratelimit-reset-requests')).toBe('7s');
    expect(res.headers.get('openai-processing-ms')).toBe('12');
    expect(res.headers.get('x-upstream-request-id')).toBe('req_upstream_42');
    expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{24}$/);
  });

  it('streamed: the upstream request id passes as x-upstream-request-id', async () => {
    const res = await post({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.headers.get('x-upstream-request-id')).toBe('upstream-req-1');
    await res.text();
  });

  it('the SDK sees Retry-After on a 429 (and honours it when retrying)', async () => {
    up.handler = () => ({ kind: 'json', status: 429, body: errorBody('slow down', 'requests'), headers: { 'retry-after': '0' } });
    const err = await gw
      .client()
      .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.headers.get('retry-after')).toBe('0');
  });
});

describe('upstream unreachable: the cause is logged', () => {
  it('connection refused → reason "refused" with the errno, not "Error"', async () => {
    const log2 = capturingLogger();
    // a port nobody listens on (not port 9: fetch refuses "bad ports" before connecting)
    const gw2 = await startGateway(`http://127.0.0.1:${await freePort()}/v1`, { logger: log2 });
    try {
      const err = await gw2.client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
      expect(err.status).toBe(502);
      const line = log2.lines.find((l) => l.msg === 'request failed')!;
      expect(line.level).toBe('error');
      expect(line.fields).toMatchObject({ code: 'upstream_unreachable', reason: 'refused', errno: 'ECONNREFUSED' });
    } finally {
      await gw2.close();
    }
  });

  it('DNS failure → reason "dns"', async () => {
    const log2 = capturingLogger();
    const gw2 = await startGateway('http://veil-no-such-host.invalid/v1', { logger: log2 });
    try {
      const err = await gw2.client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
      expect(err.status).toBe(502);
      expect(log2.lines.find((l) => l.msg === 'request failed')!.fields.reason).toBe('dns');
    } finally {
      await gw2.close();
    }
  });

  it('TLS failure (https to a plain-HTTP server) → reason "tls"', async () => {
    const log2 = capturingLogger();
    const gw2 = await startGateway(up.url.replace(/^http:/, 'https:'), { logger: log2 });
    try {
      const err = await gw2.client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
      expect(err.status).toBe(502);
      expect(log2.lines.find((l) => l.msg === 'request failed')!.fields.reason).toBe('tls');
    } finally {
      await gw2.close();
    }
  });

  it('connection reset → reason "reset"', async () => {
    const log2 = capturingLogger();
    const up2 = await startFakeUpstream(() => ({ kind: 'destroy' }));
    const gw2 = await startGateway(up2.url, { logger: log2 });
    try {
      const err = await gw2.client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
      expect(err.status).toBe(502);
      expect(log2.lines.find((l) => l.msg === 'request failed')!.fields.reason).toBe('reset');
    } finally {
      await gw2.close();
      await up2.close();
    }
  });
});

describe('streams answered oddly by the upstream', () => {
  it('stream: true answered with plain JSON → restored and sent as a stream the SDK reads', async () => {
    up.handler = (req) => ({
      kind: 'json',
      body: chatCompletion([`You said: ${lastUserText(req.body)}`], {
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: `You said: ${lastUserText(req.body)}`,
              tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: JSON.stringify({ to: /\[EMAIL_[0-9A-Z]{8}\]/.exec(lastUserText(req.body))![0] }) } }],
            },
            finish_reason: 'stop',
          },
        ],
      }),
    });
    const stream = await gw.client().chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: `mail ${EMAIL}` }] });
    let text = '';
    let args = '';
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      args += c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(`You said: mail ${EMAIL}`);
    expect(JSON.parse(args)).toEqual({ to: EMAIL });
    expect(finish).toBe('stop');
    expect(up.allRaw()).not.toContain(EMAIL);
  });

  it('non-JSON events and JSON events without choices are restored, never passed with placeholders', async () => {
    let ph = '';
    up.handler = (req) => {
      ph = /\[EMAIL_[0-9A-Z]{8}\]/.exec(lastUserText(req.body))![0];
      return { kind: 'sse', events: [`note for ${ph}`, { type: 'annotation', text: `see ${ph}` }, ...chatChunks([['ok']])] };
    };
    const res = await fetch(`${gw.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: `mail ${EMAIL}` }] }),
    });
    const raw = await res.text();
    expect(ph).not.toBe('');
    expect(raw).not.toContain(ph);
    expect(raw).toContain(`data: note for ${EMAIL}\n\n`);
    expect(raw).toContain(`data: ${JSON.stringify({ type: 'annotation', text: `see ${EMAIL}` })}\n\n`);
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('chunks with a non-numeric or missing index are restored per index value, split placeholders included', async () => {
    up.handler = (req) => {
      const text = `You said: ${lastUserText(req.body)}`;
      const events = chatChunks([smallPieces(text), smallPieces(text, 3), smallPieces(text, 5)]) as any[];
      for (const e of events) {
        for (const ch of e.choices) {
          if (ch.index === 1) ch.index = 'one';
          else if (ch.index === 2) delete ch.index;
        }
      }
      // the last chunks (finish_reason) for index 'one' and missing index are dropped: held text is flushed at the end
      return { kind: 'sse', events: events.filter((e) => !(e.choices[0] && e.choices[0].index !== 0 && e.choices[0].finish_reason)) };
    };
    const res = await fetch(`${gw.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: `mail ${EMAIL}` }] }),
    });
    const raw = await res.text();
    expect(raw).not.toMatch(/EMAIL_/);
    const texts = new Map<string, string>();
    for (const line of raw.split('\n\n')) {
      if (!line.startsWith('data: {')) continue;
      for (const ch of JSON.parse(line.slice(6)).choices) {
        const k = JSON.stringify(ch.index ?? null);
        texts.set(k, (texts.get(k) ?? '') + (ch.delta?.content ?? ''));
      }
    }
    const want = `You said: mail ${EMAIL}`;
    expect(Object.fromEntries(texts)).toEqual({ '0': want, '"one"': want, null: want });
  });
});

describe('a caller that disconnects', () => {
  it('during detection → 499 in logs and metrics, nothing at error level, nothing sent upstream', async () => {
    const patterns = createPatternDetector();
    // the real detector, made slow: it waits until the caller has gone, as a busy NER would
    const slow: Detector = {
      ...patterns,
      detect: (texts, signal) =>
        new Promise((resolve, reject) => {
          const fail = () => reject(Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }));
          if (signal?.aborted) return fail();
          signal?.addEventListener('abort', fail, { once: true });
          void resolve;
          void texts;
        }),
    };
    const log2 = capturingLogger();
    const gw2 = await startGateway(up.url, { logger: log2, detector: slow });
    try {
      const controller = new AbortController();
      const p = gw2.client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { signal: controller.signal });
      setTimeout(() => controller.abort(), 200);
      await expect(p).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
      await expect.poll(() => log2.lines.find((l) => l.msg === 'request')?.fields.status, { timeout: 5000 }).toBe(499);
      expect(log2.lines.filter((l) => l.level === 'error')).toEqual([]);
      const metrics = await (await fetch(`${gw2.url.replace(/\/v1$/, '')}/metrics`)).text();
      expect(metrics).toContain('path="/v1/chat/completions",status="499"');
      expect(metrics).not.toContain('status="503"');
      expect(up.received).toHaveLength(0);
    } finally {
      await gw2.close();
    }
  });
});
