/**
 * POST /v1/messages (Anthropic Messages API) through Veil with the official `@anthropic-ai/sdk`
 * over real HTTP. The only fake is the loopback upstream (test/fakes/upstream.ts), speaking
 * Anthropic's wire format (message objects; typed `event:` SSE events, no `[DONE]`); the
 * gateway, pattern detector, vault and restorer are the real ones.
 */
import Anthropic from '@anthropic-ai/sdk';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResult } from '../src/tenants/auth.js';
import { type FakeUpstream, type Handler, smallPieces, startFakeUpstream } from './fakes/upstream.js';
import { type Gateway, postOversized, startGateway } from './helpers/gateway.js';

const EMAIL = 'jane.doe@example.com';
const SSN = '219-09-9999';
const PHONE = '+1 415 555 0132';
const PII = [EMAIL, SSN, PHONE, 'jane.doe'];

function lastUserText(body: any): string {
  const m = [...body.messages].reverse().find((x: any) => x.role === 'user');
  if (typeof m.content === 'string') return m.content;
  return m.content.map((b: any) => (b.type === 'text' ? b.text : b.type === 'tool_result' ? (typeof b.content === 'string' ? b.content : '') : '')).join('');
}
const firstPlaceholder = (s: string) => /\[[A-Z_]+_[0-9A-Z]{8}\]/.exec(s)?.[0] ?? '';

function message(content: unknown[]) {
  return { id: 'msg_fake1', type: 'message', role: 'assistant', model: 'claude-fake', content, stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 10, output_tokens: 20 } };
}

/** Anthropic stream events: a text block and (with tools) a tool_use block, deltas in the given pieces. */
function streamEvents(text: string, toolArgs: string | null, seed: number) {
  const events: unknown[] = [{ type: 'message_start', message: { ...message([]), stop_reason: null, usage: { input_tokens: 10, output_tokens: 1 } } }];
  events.push({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, { type: 'ping' });
  for (const p of smallPieces(text, seed)) events.push({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: p } });
  events.push({ type: 'content_block_stop', index: 0 });
  if (toolArgs !== null) {
    events.push({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_fake1', name: 'lookup', input: {} } });
    for (const p of smallPieces(toolArgs, seed + 1)) events.push({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: p } });
    events.push({ type: 'content_block_stop', index: 1 });
  }
  events.push({ type: 'message_delta', delta: { stop_reason: toolArgs ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: 15 } }, { type: 'message_stop' });
  return events;
}

/** Echo: `You said: <last user text>`; with tools, also a tool_use whose input holds the first placeholder. */
const handler: Handler = (req) => {
  const text = `You said: ${lastUserText(req.body)}`;
  const tools = Array.isArray(req.body.tools) && req.body.tools.length > 0;
  const input = { email: firstPlaceholder(JSON.stringify(req.body.messages)), note: text };
  if (req.body.stream) {
    const seed = Number(req.body.metadata?.user_id?.length ?? 3);
    return { kind: 'sse', named: true, events: streamEvents(text, tools ? JSON.stringify(input) : null, seed), ...(req.headers['x-max-write'] ? { maxWrite: Number(req.headers['x-max-write']) } : {}) };
  }
  return { kind: 'json', body: message([{ type: 'text', text }, ...(tools ? [{ type: 'tool_use', id: 'toolu_fake1', name: 'lookup', input }] : [])]) };
};

let upstream: FakeUpstream;
let gw: Gateway;
const origin = (g: Gateway) => g.url.replace(/\/v1$/, '');
const client = (g: Gateway, apiKey = 'sk-ant-caller', headers: Record<string, string> = {}) =>
  new Anthropic({ baseURL: origin(g), apiKey, maxRetries: 0, timeout: 10_000, defaultHeaders: headers });

beforeAll(async () => {
  upstream = await startFakeUpstream(handler);
  gw = await startGateway(upstream.url, { anthropic: { baseURL: upstream.url.replace(/\/v1$/, ''), apiKey: 'sk-ant-upstream', timeoutMs: 10_000 } });
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});
afterEach(() => {
  for (const v of PII) expect(upstream.allRaw()).not.toContain(v);
});

const TOOL = { name: 'lookup', description: `Looks up e.g. ${EMAIL}`, input_schema: { type: 'object' as const, properties: { email: { type: 'string', description: `like ${EMAIL}` } } } };

describe('POST /v1/messages', () => {
  it('messages.create: system, text, tool_use and tool_result sanitized; text and tool_use input restored exactly', async () => {
    const res = await client(gw).messages.create({
      model: 'claude-fake',
      max_tokens: 100,
      system: [{ type: 'text', text: `Escalate to ${EMAIL}` }],
      tools: [TOOL],
      messages: [
        { role: 'user', content: `Look up ${EMAIL}` },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_0', name: 'lookup', input: { email: EMAIL } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_0', content: `SSN ${SSN}, phone ${PHONE}` }] },
      ],
    });
    const want = `You said: SSN ${SSN}, phone ${PHONE}`;
    expect(res.content[0]).toEqual({ type: 'text', text: want });
    expect(res.content[1]).toMatchObject({ type: 'tool_use', input: { email: EMAIL, note: want } });
    const sent = upstream.received.at(-1)!;
    expect(sent.path).toBe('/messages');
    expect(sent.headers['x-api-key']).toBe('sk-ant-upstream');
    expect(sent.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/); // the SDK's version passes through
    expect(sent.body.system[0].text).toMatch(/^Escalate to \[EMAIL_[0-9A-Z]{8}\]$/);
    expect(sent.body.messages[1].content[0].input.email).toMatch(/^\[EMAIL_[0-9A-Z]{8}\]$/);
    expect(sent.body.tools[0].input_schema.properties.email.description).toMatch(/^like \[EMAIL_/);
  });

  it('messages.stream: text_delta and input_json_delta restored; placeholders split over 1–3 character deltas come out whole', async () => {
    const stream = client(gw).messages.stream({ model: 'claude-fake', max_tokens: 100, tools: [TOOL], messages: [{ role: 'user', content: `Mail "${EMAIL}" re ${SSN}` }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    const final = await stream.finalMessage();
    const want = `You said: Mail "${EMAIL}" re ${SSN}`;
    expect(text).toBe(want);
    expect(final.content[0]).toMatchObject({ type: 'text', text: want });
    expect(final.content[1]).toMatchObject({ type: 'tool_use', input: { email: EMAIL, note: want } });
  });

  it('property: any 1–3 character delta split and any byte split of the wire restores exactly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 9 }), fc.integer({ min: 1, max: 40 }), async (seedText, maxWrite) => {
        const stream = await client(gw, 'sk-ant-caller', { 'x-max-write': String(maxWrite) }).messages.create({
          model: 'claude-fake',
          max_tokens: 100,
          stream: true,
          metadata: { user_id: 'u'.repeat(seedText.length) },
          messages: [{ role: 'user', content: `${EMAIL}|${SSN}|${PHONE}` }],
        });
        let text = '';
        for await (const ev of stream) if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
        expect(text).toBe(`You said: ${EMAIL}|${SSN}|${PHONE}`);
      }),
      { numRuns: 12 },
    );
  }, 60_000);

  it('Anthropic-shaped errors: invalid JSON is a 400 invalid_request_error', async () => {
    const res = await fetch(`${gw.url}/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-caller' }, body: '{"messages": [' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'We could not parse the JSON body of your request. Make sure it is valid JSON.' } });
    await expect(client(gw).messages.create({ model: 'claude-fake', max_tokens: 1, messages: [] })).rejects.toBeInstanceOf(Anthropic.BadRequestError);
  });

  it('an oversized body (Content-Length or chunked) is a 413 request_too_large in Anthropic shape, never forwarded', async () => {
    const before = upstream.received.length;
    for (const chunked of [false, true]) {
      const r = await postOversized(`${gw.url}/messages`, 300 * 1024, chunked, { 'x-api-key': 'sk-ant-caller' });
      expect(r).toEqual({ status: 413, body: { type: 'error', error: { type: 'request_too_large', message: 'Request body is larger than the 262144 byte limit.' } } });
    }
    expect(upstream.received.length).toBe(before);
  });

  it('Veil keys are accepted in x-api-key, never forwarded; a wrong key is a 401 authentication_error', async () => {
    const auth = {
      async authenticate(b: string | null): Promise<AuthResult> {
        return b === 'vk_good' ? { kind: 'key', principal: { tenantId: 't1', principalId: 'p1', role: 'admin' } } : { kind: 'denied', reason: b ? 'invalid' : 'missing' };
      },
    };
    const keyed = await startGateway(upstream.url, { auth, anthropic: { baseURL: upstream.url.replace(/\/v1$/, ''), apiKey: 'sk-ant-upstream', timeoutMs: 10_000 } });
    try {
      const res = await client(keyed, 'vk_good').messages.create({ model: 'claude-fake', max_tokens: 10, messages: [{ role: 'user', content: `hi ${EMAIL}` }] });
      expect(res.content[0]).toEqual({ type: 'text', text: `You said: hi ${EMAIL}` });
      expect(upstream.received.at(-1)!.headers['x-api-key']).toBe('sk-ant-upstream');
      expect(upstream.allRaw()).not.toContain('vk_good');
      const bad = await fetch(`${keyed.url}/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'vk_bad' }, body: '{}' });
      expect(bad.status).toBe(401);
      expect(await bad.json()).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'Invalid Veil API key.' } });
    } finally {
      await keyed.close();
    }
  });

  it('open mode with no Anthropic upstream key forwards the caller’s x-api-key', async () => {
    const open = await startGateway(upstream.url, { anthropic: { baseURL: upstream.url.replace(/\/v1$/, ''), timeoutMs: 10_000 } });
    try {
      await client(open, 'sk-ant-mine').messages.create({ model: 'claude-fake', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
      expect(upstream.received.at(-1)!.headers['x-api-key']).toBe('sk-ant-mine');
    } finally {
      await open.close();
    }
  });
});
