/**
 * POST /v1/responses and GET /v1/responses/{id} through Veil with the official `openai`
 * client over real HTTP. The only fake is the loopback upstream (test/fakes/upstream.ts +
 * test/fakes/responses-wire.ts, the Responses wire format); the gateway, the pattern detector,
 * the vault and the restorer are the real ones.
 */
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { routePattern } from '../src/http/metrics.js';
import type { AuthResult } from '../src/tenants/auth.js';
import { OPEN_PRINCIPAL } from '../src/core/types.js';
import { type FakeUpstream, type Handler, smallPieces, startFakeUpstream } from './fakes/upstream.js';
import { responseEvents, responseObject } from './fakes/responses-wire.js';
import { type Gateway, postOversized, startGateway } from './helpers/gateway.js';
import { DEFAULT_POLICY, type Policy } from '../src/policy/index.js';
import { createMemoryVault } from '../src/vault/memory.js';
import type { Vault } from '../src/vault/types.js';

const EMAIL = 'jane.doe@example.com';
const SSN = '219-09-9999';
const PHONE = '+1 415 555 0132';
const PII = [EMAIL, SSN, PHONE, 'jane.doe'];

/** The last user text of a Responses request (string input or message items). */
function userText(body: any): string {
  if (typeof body.input === 'string') return body.input;
  const msgs = (body.input as any[]).filter((i) => (i.type ?? 'message') === 'message' && i.role === 'user');
  const m = msgs[msgs.length - 1];
  return typeof m.content === 'string' ? m.content : m.content.map((p: any) => p.text ?? '').join('');
}
const firstPlaceholder = (s: string) => /\[[A-Z_]+_[0-9A-Z]{8}\]/.exec(s)?.[0] ?? '';

let upstream: FakeUpstream;
let gw: Gateway;
const stored = new Map<string, unknown>();

/** Echo: `You said: <user text>`; a function tool in the request makes it call the tool with the first placeholder. */
const handler: Handler = (req) => {
  if (req.method === 'GET' && req.path.startsWith('/responses/')) {
    const r = stored.get(req.path.slice('/responses/'.length));
    return r ? { kind: 'json', body: r } : { kind: 'json', status: 404, body: { error: { message: 'No response found.', type: 'invalid_request_error', param: null, code: null } } };
  }
  const text = `You said: ${userText(req.body)}`;
  const call = Array.isArray(req.body.tools) && req.body.tools.length > 0;
  const spec = call
    ? ({ kind: 'call', name: 'lookup_customer', args: JSON.stringify({ email: firstPlaceholder(JSON.stringify(req.body.input)), note: text }) } as const)
    : ({ kind: 'text', text } as const);
  if (req.body.stream) {
    const pieces = smallPieces(spec.kind === 'text' ? spec.text : spec.args, (req.body.metadata?.seed as number | undefined) ?? 3);
    return { kind: 'sse', named: true, events: responseEvents([{ spec, pieces }]), ...(req.body.metadata?.maxWrite ? { maxWrite: Number(req.body.metadata.maxWrite) } : {}) };
  }
  const obj = responseObject([spec], { instructions: req.body.instructions ?? null });
  stored.set(obj.id, obj);
  return { kind: 'json', body: obj };
};

beforeAll(async () => {
  upstream = await startFakeUpstream(handler);
  gw = await startGateway(upstream.url);
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});
afterEach(() => {
  for (const v of PII) expect(upstream.allRaw()).not.toContain(v);
});

describe('POST /v1/responses', () => {
  it('plain: string input and instructions are sanitized, output_text restored exactly', async () => {
    const res = await gw.client().responses.create({
      model: 'gpt-fake',
      instructions: `Always cc ${EMAIL}.`,
      input: `My SSN is ${SSN}, call me on ${PHONE}.`,
    });
    expect(res.output_text).toBe(`You said: My SSN is ${SSN}, call me on ${PHONE}.`);
    expect(res.instructions).toBe(`Always cc ${EMAIL}.`);
    const sent = upstream.received.at(-1)!.body;
    expect(sent.input).toMatch(/^My SSN is \[SSN_[0-9A-Z]{8}\], call me on \[PHONE_[0-9A-Z]{8}\]\.$/);
    expect(sent.instructions).toMatch(/^Always cc \[EMAIL_[0-9A-Z]{8}\]\.$/);
  });

  it('plain: items (messages with parts, function_call, function_call_output), tool schemas and text.format are sanitized', async () => {
    const res = await gw.client().responses.create({
      model: 'gpt-fake',
      input: [
        { role: 'system', content: `Escalate to ${EMAIL}` },
        { type: 'function_call', call_id: 'call_1', name: 'crm', arguments: JSON.stringify({ ssn: SSN }) },
        { type: 'function_call_output', call_id: 'call_1', output: JSON.stringify({ phone: PHONE }) },
        { role: 'assistant', content: [{ type: 'output_text', text: `Noted ${PHONE}`, annotations: [] }] },
        { role: 'user', content: [{ type: 'input_text', text: `Write to ${EMAIL}` }] },
      ] as any,
      text: { format: { type: 'json_schema', name: 'out', description: `for ${EMAIL}`, schema: { type: 'object', properties: { to: { type: 'string', description: `like ${EMAIL}` } } } } },
    });
    expect(res.output_text).toBe(`You said: Write to ${EMAIL}`);
    const sent = upstream.received.at(-1)!.body;
    expect(JSON.parse(sent.input[1].arguments).ssn).toMatch(/^\[SSN_[0-9A-Z]{8}\]$/);
    expect(JSON.parse(sent.input[2].output).phone).toMatch(/^\[PHONE_[0-9A-Z]{8}\]$/);
    expect(sent.text.format.schema.properties.to.description).toMatch(/^like \[EMAIL_/);
  });

  it('plain, with a function tool: description sanitized, arguments restored as JSON', async () => {
    const res = await gw.client().responses.create({
      model: 'gpt-fake',
      input: `Find the customer ${EMAIL}`,
      tools: [{ type: 'function', name: 'lookup_customer', description: `Looks up e.g. ${EMAIL}`, strict: false, parameters: { type: 'object', properties: { email: { type: 'string' } } } }],
    });
    const call = res.output[0] as any;
    expect(call.type).toBe('function_call');
    expect(JSON.parse(call.arguments)).toEqual({ email: EMAIL, note: `You said: Find the customer ${EMAIL}` });
    expect(upstream.received.at(-1)!.body.tools[0].description).toMatch(/^Looks up e\.g\. \[EMAIL_/);
  });

  it('streamed: deltas, done events and response.completed restored; placeholders split over 1–3 character deltas come out whole', async () => {
    const stream = await gw.client().responses.create({ model: 'gpt-fake', input: `Mail ${EMAIL} about ${SSN}`, stream: true });
    let deltas = '';
    let done = '';
    let completed = '';
    const types: string[] = [];
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') deltas += ev.delta;
      if (ev.type === 'response.output_text.done') done = ev.text;
      if (ev.type === 'response.completed') completed = (ev.response.output[0] as any).content[0].text;
    }
    const want = `You said: Mail ${EMAIL} about ${SSN}`;
    expect(deltas).toBe(want);
    expect(done).toBe(want);
    expect(completed).toBe(want);
    expect(types.at(-1)).toBe('response.completed');
  });

  it('streamed with a function tool: argument deltas restored JSON-escaped; the SDK helper reads the final response', async () => {
    const stream = gw.client().responses.stream({
      model: 'gpt-fake',
      input: `Find "${EMAIL}"`,
      tools: [{ type: 'function', name: 'lookup_customer', description: null, strict: false, parameters: { type: 'object', properties: {} } }],
    });
    let args = '';
    for await (const ev of stream) if (ev.type === 'response.function_call_arguments.delta') args += ev.delta;
    const final = await stream.finalResponse();
    const want = { email: EMAIL, note: `You said: Find "${EMAIL}"` };
    expect(JSON.parse(args)).toEqual(want);
    expect(JSON.parse((final.output[0] as any).arguments)).toEqual(want);
  });

  it('property: any 1–3 character delta split and any byte split of the wire restores exactly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 40 }), async (seed, maxWrite) => {
        const stream: AsyncIterable<any> = await gw.client().responses.create({
          model: 'gpt-fake',
          input: `${EMAIL}|${SSN}|${PHONE}`,
          stream: true,
          metadata: { seed: String(seed), maxWrite: String(maxWrite) },
        } as any) as any;
        let deltas = '';
        for await (const ev of stream) if (ev.type === 'response.output_text.delta') deltas += ev.delta;
        expect(deltas).toBe(`You said: ${EMAIL}|${SSN}|${PHONE}`);
      }),
      { numRuns: 12 },
    );
  }, 60_000);
});

describe('GET /v1/responses/{id}', () => {
  it('restores stored placeholders of the caller’s tenant only', async () => {
    // Two tenants on one gateway: the bearer names the tenant (an authenticator, not a fake service).
    const auth = {
      async authenticate(b: string | null): Promise<AuthResult> {
        return { kind: 'key', principal: { tenantId: b === 'vk_b' ? 'tenant-b' : 'tenant-a', principalId: b ?? 'x', role: 'admin' } };
      },
    };
    const two = await startGateway(upstream.url, { auth });
    try {
      const created = await two.client({ apiKey: 'vk_a' }).responses.create({ model: 'gpt-fake', input: `Reach me at ${EMAIL}` });
      expect(created.output_text).toBe(`You said: Reach me at ${EMAIL}`);
      const mine = await two.client({ apiKey: 'vk_a' }).responses.retrieve(created.id);
      expect(mine.output_text).toBe(`You said: Reach me at ${EMAIL}`);
      const theirs = await two.client({ apiKey: 'vk_b' }).responses.retrieve(created.id);
      expect(theirs.output_text).toMatch(/^You said: Reach me at \[EMAIL_[0-9A-Z]{8}\]$/);
    } finally {
      await two.close();
    }
  });

  it('a stored placeholder the role may not see is never decrypted (regression: it was decrypted, then hidden)', async () => {
    const policy: Policy = { ...DEFAULT_POLICY, restore: { ...DEFAULT_POLICY.restore, user: { ...DEFAULT_POLICY.restore.user!, sensitive: 'placeholder' } } };
    const auth = {
      async authenticate(b: string | null): Promise<AuthResult> {
        return { kind: 'key', principal: { tenantId: 'tenant-a', principalId: b ?? 'x', role: b === 'vk_user' ? 'user' : 'admin' } };
      },
    };
    const inner = createMemoryVault();
    const asked: string[] = [];
    const vault: Vault = { ...inner, resolve: (c, t) => (asked.push(...t), inner.resolve(c, t)) };
    const gw2 = await startGateway(upstream.url, { auth, vault, policyFor: () => policy });
    try {
      const created = await gw2.client({ apiKey: 'vk_admin' }).responses.create({ model: 'gpt-fake', input: `Reach me at ${EMAIL}` });
      expect(created.output_text).toBe(`You said: Reach me at ${EMAIL}`);
      asked.length = 0;
      const seen = await gw2.client({ apiKey: 'vk_user' }).responses.retrieve(created.id);
      expect(seen.output_text).toMatch(/^You said: Reach me at \[EMAIL_[0-9A-Z]{8}\]$/);
      expect(asked).toEqual([]);
      expect((await gw2.client({ apiKey: 'vk_admin' }).responses.retrieve(created.id)).output_text).toBe(`You said: Reach me at ${EMAIL}`);
      expect(asked).toHaveLength(1);
    } finally {
      await gw2.close();
    }
  });

  it('refuses an id that holds PII, without forwarding it', async () => {
    const before = upstream.received.length;
    await expect(gw.client().responses.retrieve(SSN)).rejects.toMatchObject({ status: 400, code: 'veil_pii_in_path' });
    expect(upstream.received.length).toBe(before);
  });
});

describe('Vercel AI SDK default provider (openai(model) speaks the Responses API)', () => {
  it('generateText and streamText round-trip exactly', async () => {
    const { generateText, streamText } = await import('ai');
    const { createOpenAI } = await import('@ai-sdk/openai');
    const openai = createOpenAI({ baseURL: gw.url, apiKey: 'sk-caller' });
    const before = upstream.received.length;
    const plain = await generateText({ model: openai('gpt-fake'), system: `CC ${EMAIL}`, prompt: `My SSN is ${SSN}` });
    expect(plain.text).toBe(`You said: My SSN is ${SSN}`);
    expect(upstream.received[before]!.path).toBe('/responses');
    const streamed = streamText({ model: openai('gpt-fake'), prompt: `Call ${PHONE} or mail ${EMAIL}` });
    let text = '';
    for await (const t of streamed.textStream) text += t;
    expect(text).toBe(`You said: Call ${PHONE} or mail ${EMAIL}`);
  });
});

describe('hostile upstream streams', () => {
  const collect = async (input: string) => {
    const stream: AsyncIterable<any> = (await gw.client().responses.create({ model: 'gpt-fake', input, stream: true })) as any;
    const evs: any[] = [];
    for await (const ev of stream) evs.push(ev);
    return evs;
  };
  const withHandler = async (h: Handler, fn: () => Promise<void>) => {
    const saved = upstream.handler;
    upstream.handler = h;
    try {
      await fn();
    } finally {
      upstream.handler = saved;
    }
  };

  it('a stream that ends before response.completed: held text released, then an in-band error event', async () => {
    await withHandler(
      (req) => {
        // the stream stops right after a delta that ends inside a placeholder
        const text = `You said: ${userText(req.body)}`;
        const cut = text.indexOf('[') + 4;
        const events = responseEvents([{ spec: { kind: 'text', text }, pieces: [text.slice(0, cut)] }]).filter((e: any) => e.type !== 'response.output_text.done' && e.type !== 'response.content_part.done' && e.type !== 'response.output_item.done' && e.type !== 'response.completed');
        return { kind: 'sse', named: true, events };
      },
      async () => {
        const evs = await collect(`Mail ${EMAIL} now`);
        const deltas = evs.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
        expect(deltas).toBe('You said: Mail [EMA'); // never completed: the partial placeholder is released as written
        expect(evs.at(-1)).toMatchObject({ type: 'error', code: 'upstream_stream_truncated' });
      },
    );
  });

  it('an upstream that stalls mid-stream: error event upstream_timeout after the idle timeout', async () => {
    await withHandler(
      (req) => ({ kind: 'sse', named: true, events: responseEvents([{ spec: { kind: 'text', text: `You said: ${userText(req.body)}` }, pieces: smallPieces(`You said: ${userText(req.body)}`) }]), stallAfter: 4 }),
      async () => {
        const evs = await collect(`Mail ${EMAIL}`);
        expect(evs.at(-1)).toMatchObject({ type: 'error', code: 'upstream_timeout' });
      },
    );
  }, 20_000);

  it('an upstream error answer keeps its status and OpenAI shape', async () => {
    await withHandler(
      () => ({ kind: 'json', status: 429, body: { error: { message: 'Rate limit reached.', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } }, headers: { 'retry-after': '1' } }),
      async () => {
        await expect(gw.client().responses.create({ model: 'gpt-fake', input: `hi ${EMAIL}` })).rejects.toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
      },
    );
  });

  it('malformed input is a 400, never forwarded', async () => {
    const before = upstream.received.length;
    await expect(gw.client().responses.create({ model: 'gpt-fake', input: 42 as any })).rejects.toMatchObject({ status: 400, param: 'input' });
    await expect(gw.client().responses.create({ model: 'gpt-fake', input: [{ role: 'user', content: [7] }] as any })).rejects.toMatchObject({ status: 400 });
    expect(upstream.received.length).toBe(before);
  });

  it('an oversized body (Content-Length or chunked) is a 413 request_too_large, never forwarded', async () => {
    const before = upstream.received.length;
    for (const chunked of [false, true]) {
      const r = await postOversized(`${gw.url}/responses`, 300 * 1024, chunked);
      expect([r.status, r.body.error.code, r.body.error.type]).toEqual([413, 'request_too_large', 'invalid_request_error']);
    }
    expect(upstream.received.length).toBe(before);
  });

  it('logs and metrics name response ids by pattern only', () => {
    expect(routePattern('/v1/responses/219-09-9999')).toBe('/v1/responses/:id');
    expect(routePattern('/v1/responses/resp_1/input_items')).toBe('/v1/responses/:id/input_items');
    expect(routePattern('/v1/responses')).toBe('/v1/responses');
  });
});

describe('structured output (text.format json_schema)', () => {
  it('values are JSON-escaped into output text: plain, deltas, done event and response.completed', async () => {
    // A value that needs escaping, stored through the gateway's vault and carried in as a placeholder.
    const value = 'Jo "Q" \\ Smith';
    const [token] = await gw.services.vault.tokenize({ principal: OPEN_PRINCIPAL, requestId: 'test' }, [{ type: 'PERSON', value }]);
    const content = `{"name":"[${token}]"}`;
    const saved = upstream.handler;
    upstream.handler = (req) => {
      const spec = { kind: 'text', text: content } as const;
      if (req.body.stream) return { kind: 'sse', named: true, events: responseEvents([{ spec, pieces: smallPieces(content, 5) }], { text: req.body.text }) };
      return { kind: 'json', body: responseObject([spec], { text: req.body.text }) };
    };
    try {
      const format = { type: 'json_schema', name: 'person', schema: { type: 'object', properties: { name: { type: 'string' } } } } as const;
      const input = `who is [${token}]? answer as JSON`;
      const plain = await gw.client().responses.create({ model: 'm', input, text: { format } });
      expect(JSON.parse(plain.output_text)).toEqual({ name: value });
      const stream: AsyncIterable<any> = (await gw.client().responses.create({ model: 'm', input, text: { format }, stream: true })) as any;
      let deltas = '';
      let done = '';
      let completed = '';
      for await (const ev of stream) {
        if (ev.type === 'response.output_text.delta') deltas += ev.delta;
        if (ev.type === 'response.output_text.done') done = ev.text;
        if (ev.type === 'response.completed') completed = ev.response.output[0].content[0].text;
      }
      expect(JSON.parse(deltas)).toEqual({ name: value });
      expect(JSON.parse(done)).toEqual({ name: value });
      expect(JSON.parse(completed)).toEqual({ name: value });
    } finally {
      upstream.handler = saved;
    }
  });
});
