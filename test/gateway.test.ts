/**
 * End to end through real HTTP: the official `openai` client → Veil (createApp on
 * @hono/node-server) → a fake OpenAI-compatible upstream on loopback (test/fakes/upstream.ts,
 * the stand-in the network forces). Detection is the real pattern detector; the vault is the
 * in-memory one (the encrypted vault has its own suite in src/vault/db-vault.test.ts).
 */
import fc from 'fast-check';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OPEN_PRINCIPAL } from '../src/core/types.js';
import type { Detector } from '../src/detect/types.js';
import type { Vault } from '../src/vault/types.js';
import {
  chatChunks,
  chatCompletion,
  defaultHandler,
  errorBody,
  type FakeUpstream,
  lastUserText,
  smallPieces,
  startFakeUpstream,
  toolCallChunks,
} from './fakes/upstream.js';
import { type Gateway, startGateway } from './helpers/gateway.js';
import { splitAt } from './helpers/split.js';

const PII = {
  email: 'jane.roe@example.com',
  phone: '+1 415 555 2671',
  card: '4111 1111 1111 1111',
  ssn: '123-45-6789',
  iban: 'GB82 WEST 1234 5698 7654 32',
  ip: '203.0.113.42',
};
const VALUES = Object.values(PII);
const PROMPT =
  `Please update my profile: email ${PII.email}, phone ${PII.phone}. ` +
  `Refund to card ${PII.card}; SSN ${PII.ssn}; IBAN ${PII.iban}. Last login from ${PII.ip}.`;

function expectNoPii(raw: string) {
  for (const v of VALUES) expect(raw).not.toContain(v);
  // also the compact forms (digits without separators)
  expect(raw).not.toContain('4111111111111111');
  expect(raw).not.toContain('123456789');
  expect(raw).not.toContain('GB82WEST12345698765432');
}

let up: FakeUpstream;
let gw: Gateway;
let client: OpenAI;

beforeAll(async () => {
  up = await startFakeUpstream();
  gw = await startGateway(up.url);
  client = gw.client();
});
afterAll(async () => {
  await gw.close();
  await up.close();
});
afterEach(() => {
  up.handler = defaultHandler;
  up.received.length = 0;
});

describe('chat completions', () => {
  it('plain: upstream sees placeholders only; the reply is restored exactly', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: PROMPT }] });
    expect(res.choices[0]!.message.content).toBe(`You said: ${PROMPT}`);
    expect(up.received).toHaveLength(1);
    const sent = lastUserText(up.received[0]!.body);
    expect(sent).toMatch(/\[EMAIL_[0-9A-Z]{8}\]/);
    expect(sent).toMatch(/\[CARD_[0-9A-Z]{8}\]/);
    expect(sent).toMatch(/\[SSN_[0-9A-Z]{8}\]/);
    expect(sent).toMatch(/\[IBAN_[0-9A-Z]{8}\]/);
    expect(sent).toMatch(/\[PHONE_[0-9A-Z]{8}\]/);
    expect(sent).toMatch(/\[IP_[0-9A-Z]{8}\]/);
    expectNoPii(up.allRaw());
    // the upstream got the gateway's key, never the caller's
    expect(up.received[0]!.headers.authorization).toBe('Bearer sk-upstream-test');
  });

  it('every role and field is sanitized: system, assistant history, tool results, tool-call arguments, name, content parts', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-fake',
      messages: [
        { role: 'system', content: `Escalate to ${PII.email}.` },
        { role: 'user', name: 'jane.roe@example.com', content: [{ type: 'text', text: `My card is ${PII.card}` }] },
        {
          role: 'assistant',
          content: `Noted your SSN ${PII.ssn}.`,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ iban: PII.iban, ip: PII.ip }) } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: `Account holder phone ${PII.phone}` },
        { role: 'user', content: 'Thanks' },
      ],
    });
    expect(res.choices[0]!.message.content).toBe('You said: Thanks');
    const raw = up.allRaw();
    expectNoPii(raw);
    const sent = up.received[0]!.body;
    // the tool-call arguments stay valid JSON with placeholders inside
    const args = JSON.parse(sent.messages[2].tool_calls[0].function.arguments);
    expect(args.iban).toMatch(/^\[IBAN_[0-9A-Z]{8}\]$/);
    expect(args.ip).toMatch(/^\[IP_[0-9A-Z]{8}\]$/);
    // unknown and untouched fields pass through
    expect(sent.messages[3].tool_call_id).toBe('call_1');
    // `name` stays within OpenAI's allowed characters: the placeholder is written without brackets
    expect(sent.messages[1].name).toMatch(/^EMAIL_[0-9A-Z]{8}$/);
  });

  it('request-level identity fields are sanitized too: user, metadata values, prediction', async () => {
    await client.chat.completions.create({
      model: 'gpt-fake',
      user: PII.email,
      metadata: { customer: PII.email, plan: 'gold' },
      prediction: { type: 'content', content: `Dear customer, your card ${PII.card}` },
      messages: [{ role: 'user', content: 'hi' }],
    });
    expectNoPii(up.allRaw());
    const sent = up.received[0]!.body;
    expect(sent.user).toMatch(/^\[EMAIL_[0-9A-Z]{8}\]$/);
    expect(sent.metadata).toEqual({ customer: sent.user, plan: 'gold' });
    expect(sent.prediction.content).toMatch(/^Dear customer, your card \[CARD_[0-9A-Z]{8}\]$/);
  });

  it('the same value gets the same placeholder across requests', async () => {
    await client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: `a ${PII.email}` }] });
    await client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: `b ${PII.email}` }] });
    const t1 = /\[EMAIL_[0-9A-Z]{8}\]/.exec(lastUserText(up.received[0]!.body))![0];
    const t2 = /\[EMAIL_[0-9A-Z]{8}\]/.exec(lastUserText(up.received[1]!.body))![0];
    expect(t1).toBe(t2);
  });

  it('streamed in 1–3 character chunks: restored exactly, usage chunk and ids passed through', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-fake',
      messages: [{ role: 'user', content: PROMPT }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    const ids = new Set<string>();
    let usage: unknown = null;
    let finish: string | null = null;
    for await (const chunk of stream) {
      ids.add(chunk.id);
      if (chunk.usage) usage = chunk.usage;
      for (const ch of chunk.choices) {
        text += ch.delta.content ?? '';
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    expect(text).toBe(`You said: ${PROMPT}`);
    expect(ids.size).toBe(1);
    expect(usage).toEqual({ prompt_tokens: 11, completion_tokens: 22, total_tokens: 33 });
    expect(finish).toBe('stop');
    expectNoPii(up.allRaw());
  });

  it('n=2 streamed and plain: every choice restored, including mangled placeholders', async () => {
    up.handler = (req) => {
      const sent = lastUserText(req.body);
      const token = /\[(EMAIL_[0-9A-Z]{8})\]/.exec(sent)![1]!;
      const a = `Mail ${`[${token}]`} today.`;
      const b = `Mail ${token.toLowerCase()}'s inbox or [ ${token} ].`;
      if (req.body.stream) return { kind: 'sse', events: chatChunks([smallPieces(a, 3), smallPieces(b, 5)]), maxWrite: 3 };
      return { kind: 'json', body: chatCompletion([a, b]) };
    };
    const messages = [{ role: 'user' as const, content: `Contact ${PII.email}` }];
    const plain = await client.chat.completions.create({ model: 'gpt-fake', n: 2, messages });
    expect(plain.choices.map((c) => c.message.content)).toEqual([`Mail ${PII.email} today.`, `Mail ${PII.email}'s inbox or ${PII.email}.`]);

    const stream = await client.chat.completions.create({ model: 'gpt-fake', n: 2, messages, stream: true });
    const texts = ['', ''];
    for await (const chunk of stream) for (const ch of chunk.choices) texts[ch.index] += ch.delta.content ?? '';
    expect(texts).toEqual([`Mail ${PII.email} today.`, `Mail ${PII.email}'s inbox or ${PII.email}.`]);
  });

  it('streamed tool call: arguments restored and JSON-escaped across split fragments', async () => {
    up.handler = (req) => {
      const sent = JSON.stringify(req.body.messages);
      const email = /\[EMAIL_[0-9A-Z]{8}\]/.exec(sent)![0];
      const card = /\[CARD_[0-9A-Z]{8}\]/.exec(sent)![0];
      const args = JSON.stringify({ to: email, note: `charge ${card} "now"` });
      return { kind: 'sse', events: toolCallChunks('send_mail', smallPieces(args, 11)) };
    };
    const stream = client.chat.completions.stream({
      model: 'gpt-fake',
      messages: [{ role: 'user', content: `Mail ${PII.email} about card ${PII.card}` }],
      tools: [{ type: 'function', function: { name: 'send_mail', parameters: { type: 'object', properties: {} } } }],
    });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function.name).toBe('send_mail');
    const args = JSON.parse(call.type === 'function' ? call.function.arguments : '{}');
    expect(args).toEqual({ to: PII.email, note: `charge ${PII.card} "now"` });
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expectNoPii(up.allRaw());
  });

  it('values with quotes and backslashes are JSON-escaped into non-streamed tool-call arguments', async () => {
    up.handler = (req) => {
      const email = /\[EMAIL_[0-9A-Z]{8}\]/.exec(JSON.stringify(req.body.messages))![0];
      const body = chatCompletion(['']);
      (body.choices[0]!.message as any) = {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'f', arguments: `{"to":"${email}"}` } }],
      };
      return { kind: 'json', body };
    };
    const res = await client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: `to ${PII.email}` }] });
    const call = res.choices[0]!.message.tool_calls![0]!;
    expect(JSON.parse(call.type === 'function' ? call.function.arguments : '')).toEqual({ to: PII.email });
  });

  it('JSON mode (response_format): values are JSON-escaped into the content, plain and streamed', async () => {
    // A value that needs escaping, stored through the gateway's own vault and carried in as a
    // placeholder (the RAG path), so the restore runs in the gateway with JSON mode on.
    const value = 'Jo "Q" \\ Smith';
    const [token] = await gw.services.vault.tokenize({ principal: OPEN_PRINCIPAL, requestId: 'test' }, [{ type: 'PERSON', value }]);
    up.handler = (req) => {
      const content = `{"name":"[${token}]"}`;
      expect(lastUserText(req.body)).toContain(`[${token}]`);
      if (req.body.stream) return { kind: 'sse', events: chatChunks([smallPieces(content, 4)]) };
      return { kind: 'json', body: chatCompletion([content]) };
    };
    const messages = [{ role: 'user' as const, content: `who is [${token}]? answer as JSON` }];
    const res = await client.chat.completions.create({ model: 'm', messages, response_format: { type: 'json_object' } });
    expect(JSON.parse(res.choices[0]!.message.content!)).toEqual({ name: value });
    const stream = await client.chat.completions.create({ model: 'm', messages, response_format: { type: 'json_object' }, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(JSON.parse(text)).toEqual({ name: value });
    // without JSON mode the same reply is plain text, not escaped
    const plain = await client.chat.completions.create({ model: 'm', messages });
    expect(plain.choices[0]!.message.content).toBe(`{"name":"${value}"}`);
  });

  it('a request without PII streams through byte for byte', async () => {
    const events = chatChunks([smallPieces('Hello there, [not a token] PERSON_ABC.')], { usage: true, extraTop: { x_unknown: { a: 1 } } });
    up.handler = () => ({ kind: 'sse', events, maxWrite: 2 });
    const res = await fetch(`${gw.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-caller' },
      body: JSON.stringify({ model: 'gpt-fake', messages: [{ role: 'user', content: 'hello' }], stream: true }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    const expected = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n';
    expect(await res.text()).toBe(expected);
  });

  it('placeholders already in the input (RAG chunks) are restored; unknown ones are left alone', async () => {
    // First request mints the token; the second carries it verbatim as retrieved context.
    await client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: `x ${PII.email}` }] });
    const token = /\[EMAIL_[0-9A-Z]{8}\]/.exec(lastUserText(up.received[0]!.body))![0];
    const res = await client.chat.completions.create({
      model: 'gpt-fake',
      messages: [{ role: 'user', content: `Context: ${token} and [PERSON_ZZZZZZZZ]` }],
    });
    expect(res.choices[0]!.message.content).toBe(`You said: Context: ${PII.email} and [PERSON_ZZZZZZZZ]`);
  });
});

describe('completions, embeddings, models', () => {
  it('legacy completions, plain and streamed', async () => {
    const plain = await client.completions.create({ model: 'gpt-fake', prompt: `Write to ${PII.email}` });
    expect(plain.choices[0]!.text).toBe(`Echo: Write to ${PII.email}`);
    const stream = await client.completions.create({ model: 'gpt-fake', prompt: `Write to ${PII.email}`, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.text ?? '';
    expect(text).toBe(`Echo: Write to ${PII.email}`);
    expectNoPii(up.allRaw());
  });

  it('embeddings: string and array input are sanitized; vectors pass through', async () => {
    const res = await client.embeddings.create({ model: 'text-embedding-fake', input: [`card ${PII.card}`, `mail ${PII.email}`, 'plain'] });
    expect(res.data.map((d) => d.index)).toEqual([0, 1, 2]);
    expect(res.data[0]!.embedding.map((x) => Math.round(x * 1e6) / 1e6)).toEqual([0.1, -0.2, 0.3]);
    const one = await client.embeddings.create({ model: 'text-embedding-fake', input: `ssn ${PII.ssn}` });
    expect(one.data).toHaveLength(1);
    expectNoPii(up.allRaw());
    expect(up.received[0]!.body.input[2]).toBe('plain');
  });

  it('token-array inputs are refused (they cannot be inspected)', async () => {
    await expect(client.embeddings.create({ model: 'm', input: [[1, 2, 3]] })).rejects.toMatchObject({
      status: 400,
      error: { code: 'veil_unsupported_input', param: 'input' },
    });
    expect(up.received).toHaveLength(0);
  });

  it('/metrics counts requests and masked entities by type, and holds no values', async () => {
    await client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: `mail ${PII.email}` }] });
    const res = await fetch(gw.url.replace(/\/v1$/, '/metrics'));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^veil_requests_total\{path="\/v1\/chat\/completions",status="200"\} \d+$/m);
    expect(text).toMatch(/^veil_entities_masked_total\{type="EMAIL"\} \d+$/m);
    expect(text).toMatch(/^veil_request_duration_ms_bucket\{path="\/v1\/chat\/completions",le="\+Inf"\} \d+$/m);
    expect(text).not.toContain(PII.email);
    const ready = await fetch(gw.url.replace(/\/v1$/, '/readyz'));
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('models are listed from the upstream', async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual(['gpt-fake']);
  });
});

describe('errors', () => {
  async function rawPost(body: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${gw.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-caller', ...headers },
      body,
    });
    return { status: res.status, body: await res.json(), headers: res.headers };
  }

  it('malformed JSON → 400 in the OpenAI shape, nothing sent upstream', async () => {
    const r = await rawPost('{"model": "x", "messages": [');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'invalid_json' } });
    expect(r.headers.get('x-request-id')).toMatch(/^req_/);
    expect(r.headers.get('x-should-retry')).toBe('false');
    expect(up.received).toHaveLength(0);
  });

  it('missing messages → 400 with param', async () => {
    const r = await rawPost('{"model":"x"}');
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe('messages');
    expect(up.received).toHaveLength(0);
  });

  it('oversized body → 413, nothing sent upstream', async () => {
    const big = JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'a'.repeat(300 * 1024) }] });
    const r = await rawPost(big);
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('request_too_large');
    expect(up.received).toHaveLength(0);
  });

  it('oversized chunked body (no Content-Length) → 413, nothing sent upstream', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${gw.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-caller' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('request_too_large');
    expect(up.received).toHaveLength(0);
  });

  it('unknown endpoint → 404 in the OpenAI shape', async () => {
    const res = await fetch(`${gw.url}/nope`, { headers: { authorization: 'Bearer x' } });
    expect(res.status).toBe(404);
    expect((await res.json()).error.type).toBe('invalid_request_error');
  });

  it.each([
    [400, 'invalid_request_error', OpenAI.BadRequestError],
    [401, 'invalid_request_error', OpenAI.AuthenticationError],
    [429, 'requests', OpenAI.RateLimitError],
    [500, 'server_error', OpenAI.InternalServerError],
    [503, 'server_error', OpenAI.InternalServerError],
  ])('upstream %i comes back with its status and body', async (status, type, Cls) => {
    up.handler = () => ({ kind: 'json', status, body: errorBody(`upstream says ${status}`, type, 'some_code', 'model') });
    const err = await client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(Cls);
    expect(err.status).toBe(status);
    expect(err.error).toEqual({ message: `upstream says ${status}`, type, param: 'model', code: 'some_code' });
  });

  it('upstream timeout → 504', async () => {
    const up2 = await startFakeUpstream(() => ({ kind: 'hang' }));
    const gw2 = await startGateway(up2.url, {}, { timeoutMs: 300 });
    try {
      const err = await gw2.client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
      expect(err.status).toBe(504);
      expect(err.error.code).toBe('upstream_timeout');
    } finally {
      await gw2.close();
      await up2.close();
    }
  });

  it('upstream unreachable → 502', async () => {
    const gw2 = await startGateway('http://127.0.0.1:9/v1');
    try {
      const err = await gw2.client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
      expect(err.status).toBe(502);
      expect(err.error.code).toBe('upstream_unreachable');
    } finally {
      await gw2.close();
    }
  });

  it('mid-stream upstream disconnect → the client sees an error (not a silent end), held text is released first', async () => {
    up.handler = (req) => ({
      kind: 'sse',
      events: chatChunks([smallPieces(`You said: ${lastUserText(req.body)}`)]),
      disconnectAfter: 12,
    });
    const stream = await client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: `hi ${PII.email}` }], stream: true });
    let text = '';
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String(err.message)).toMatch(/upstream/i);
    // 1 role chunk + 11 content pieces reached the gateway; the cut falls inside the placeholder,
    // so the held placeholder prefix is released as it came (it is not PII) before the error.
    const sent = `You said: ${lastUserText(up.received[0]!.body)}`;
    const delivered = smallPieces(sent).slice(0, 11).join('');
    expect(delivered).toMatch(/^You said: hi \[EMAIL_[0-9A-Z]{0,7}$/);
    expect(text).toBe(delivered);
  });

  it('stalled upstream stream → in-band timeout error', async () => {
    up.handler = (req) => ({ kind: 'sse', events: chatChunks([smallPieces(`You said: ${lastUserText(req.body)}`)]), stallAfter: 5 });
    const stream = await client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'hello' }], stream: true });
    const err = await (async () => {
      for await (const _ of stream) void _;
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.error?.code ?? err.code).toBe('upstream_timeout');
  });

  it('client abort cancels the upstream request', async () => {
    up.handler = (req) => ({ kind: 'sse', events: chatChunks([smallPieces(`You said: ${lastUserText(req.body)}`.repeat(20))]), delayMs: 20 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'gpt-fake', messages: [{ role: 'user', content: 'long story' }], stream: true },
      { signal: controller.signal },
    );
    const before = up.aborted;
    let n = 0;
    await (async () => {
      for await (const _ of stream) if (++n === 3) controller.abort();
    })().catch(() => {});
    await expect.poll(() => up.aborted, { timeout: 3000 }).toBeGreaterThan(before);
  });

  it('client abort of a non-streamed request cancels the upstream request', async () => {
    up.handler = () => ({ kind: 'hang' });
    const controller = new AbortController();
    const before = up.aborted;
    const p = client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'slow one' }] }, { signal: controller.signal });
    await expect.poll(() => up.received.length, { timeout: 3000 }).toBe(1);
    controller.abort();
    await expect(p).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    await expect.poll(() => up.aborted, { timeout: 3000 }).toBeGreaterThan(before);
  });

  it('detector failure → 503, fail closed: nothing sent upstream', async () => {
    const failing: Detector = { name: 'broken', detect: async () => Promise.reject(new Error('model crashed on jane.roe@example.com')) };
    const gw2 = await startGateway(up.url, { detector: failing });
    try {
      const res = await fetch(`${gw2.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: `hi ${PII.email}` }] }),
      });
      expect(res.status).toBe(503);
      const body = await res.json();
      expect(body.error.code).toBe('veil_detection_unavailable');
      expect(JSON.stringify(body)).not.toContain(PII.email);
      expect(up.received).toHaveLength(0);
    } finally {
      await gw2.close();
    }
  });

  it('vault failure → 503, fail closed: nothing sent upstream', async () => {
    const failing: Vault = {
      tokenize: async () => Promise.reject(new Error('db down')),
      resolve: async () => Promise.reject(new Error('db down')),
      close: async () => {},
    };
    const gw2 = await startGateway(up.url, { vault: failing });
    try {
      const err = await gw2.client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `hi ${PII.email}` }] }).catch((e) => e);
      expect(err.status).toBe(503);
      expect(err.error.code).toBe('veil_vault_unavailable');
      expect(up.received).toHaveLength(0);
    } finally {
      await gw2.close();
    }
  });

  it('open mode without an upstream key forwards the caller key; with no key at all → 401', async () => {
    const gw2 = await startGateway(up.url, {}, { apiKey: undefined });
    try {
      await gw2.client({ apiKey: 'sk-caller-own' }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
      expect(up.received[0]!.headers.authorization).toBe('Bearer sk-caller-own');
      const res = await fetch(`${gw2.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe('missing_api_key');
    } finally {
      await gw2.close();
    }
  });
});

describe('streaming invariant over HTTP (property)', () => {
  it('any chunking of the upstream stream restores to the same text as the non-streamed reply', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(1000), { maxLength: 25 }),
        fc.integer({ min: 1, max: 7 }),
        fc.constantFrom('strict', 'lower', 'bare', 'spaced'),
        async (cuts, maxWrite, mangle) => {
          up.handler = (req) => {
            let text = `Reply: ${lastUserText(req.body)} end`;
            if (mangle === 'lower') text = text.replace(/\[([A-Z_]+_[0-9A-Z]{8})\]/g, (_, t: string) => `[${t.toLowerCase()}]`);
            if (mangle === 'bare') text = text.replace(/\[([A-Z_]+_[0-9A-Z]{8})\]/g, '$1');
            if (mangle === 'spaced') text = text.replace(/\[([A-Z_]+_[0-9A-Z]{8})\]/g, '[ $1 ]');
            if (!req.body.stream) return { kind: 'json', body: chatCompletion([text]) };
            const pieces = splitAt(text, cuts.map((c) => c % (text.length + 1)));
            return { kind: 'sse', events: chatChunks([pieces.filter((p) => p.length > 0)]), maxWrite };
          };
          const messages = [{ role: 'user' as const, content: PROMPT }];
          const plain = await client.chat.completions.create({ model: 'gpt-fake', messages });
          const stream = await client.chat.completions.create({ model: 'gpt-fake', messages, stream: true });
          let text = '';
          for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
          expect(text).toBe(plain.choices[0]!.message.content);
          expect(text).toBe(`Reply: ${PROMPT} end`);
        },
      ),
      { numRuns: 40 },
    );
  });
});
