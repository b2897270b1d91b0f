/**
 * Every text field a model reads is sanitized, on every surface (issue 7, "every text field").
 * End to end through real HTTP: the official `openai` client → Veil (createApp on
 * @hono/node-server) → the loopback fake upstream (test/fakes/upstream.ts, the only stand-in:
 * the network). Detection is the real pattern detector; the vault the in-memory one.
 */
import fc from 'fast-check';
import type OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chatChunks, chatCompletion, defaultHandler, type FakeUpstream, startFakeUpstream } from './fakes/upstream.js';
import { type Gateway, startGateway } from './helpers/gateway.js';

const EMAIL = 'jane.roe@example.com';
const SSN = '219-09-9999';
const CARD = '4111 1111 1111 1111';
const TEXT = `mail ${EMAIL}, ssn ${SSN}, card ${CARD}`;

function expectNoPii(raw: string) {
  for (const v of [EMAIL, SSN, CARD, '4111111111111111', '219099999']) expect(raw).not.toContain(v);
}
const PH = (type: string) => new RegExp(`\\[${type}_[0-9A-Z]{8}\\]`);
const allPh = (s: string) => s.match(/\[[A-Z_]+_[0-9A-Z]{8}\]/g) ?? [];

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

const create = (body: Record<string, unknown>) =>
  client.chat.completions.create({ model: 'gpt-fake', messages: [{ role: 'user', content: 'hi' }], ...body } as never) as Promise<OpenAI.ChatCompletion>;

describe('request fields: none of the values reach the upstream', () => {
  it('stop (string and array), chat and legacy completions', async () => {
    await create({ stop: [TEXT, 'END'] });
    await create({ stop: TEXT });
    await client.completions.create({ model: 'gpt-fake', prompt: 'hi', stop: [TEXT] });
    expectNoPii(up.allRaw());
    expect(up.received[0]!.body.stop[0]).toMatch(PH('EMAIL'));
    expect(up.received[0]!.body.stop[1]).toBe('END');
    expect(up.received[1]!.body.stop).toMatch(PH('SSN'));
    expect(up.received[2]!.body.stop[0]).toMatch(PH('CARD'));
  });

  it('tool descriptions and parameter schemas (description, title, enum, const, default, examples); names and keys pass', async () => {
    const params = {
      type: 'object',
      title: `Customer ${EMAIL}`,
      properties: {
        customer: { type: 'string', description: `The customer, e.g. ${EMAIL}`, enum: [EMAIL, 'nobody'] },
        ssn: { type: 'string', const: SSN, examples: [`ssn ${SSN}`] },
        card: { type: 'string', default: CARD, pattern: '^[0-9 ]+$' },
        nested: { type: 'array', items: { anyOf: [{ type: 'string', description: TEXT }] } },
      },
      required: ['customer', 'ssn'],
    };
    await create({
      tools: [{ type: 'function', function: { name: 'lookup_customer', description: `Look up ${TEXT}`, parameters: params } }],
      functions: [{ name: 'legacy_fn', description: TEXT, parameters: params }],
    });
    expectNoPii(up.allRaw());
    const fn = up.received[0]!.body.tools[0].function;
    expect(fn.name).toBe('lookup_customer');
    expect(fn.description).toMatch(/^Look up mail \[EMAIL_[0-9A-Z]{8}\], ssn \[SSN_[0-9A-Z]{8}\], card \[CARD_[0-9A-Z]{8}\]$/);
    const p = fn.parameters;
    expect(Object.keys(p.properties)).toEqual(['customer', 'ssn', 'card', 'nested']);
    expect(p.required).toEqual(['customer', 'ssn']);
    expect(p.properties.customer.type).toBe('string');
    expect(p.properties.customer.enum[0]).toMatch(/^\[EMAIL_[0-9A-Z]{8}\]$/);
    expect(p.properties.customer.enum[1]).toBe('nobody');
    expect(p.properties.ssn.const).toMatch(/^\[SSN_[0-9A-Z]{8}\]$/);
    expect(p.properties.card.pattern).toBe('^[0-9 ]+$');
    expect(up.received[0]!.body.functions[0].name).toBe('legacy_fn');
  });

  it('a placeholder from an enum comes back restored in the tool call', async () => {
    up.handler = (req) => {
      const ph = req.body.tools[0].function.parameters.properties.customer.enum[0];
      return {
        kind: 'json',
        body: chatCompletion([''], {
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: JSON.stringify({ customer: ph }) } }] },
              finish_reason: 'tool_calls',
            },
          ],
        }),
      };
    };
    const res = await create({
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { customer: { type: 'string', enum: [EMAIL] } } } } }],
    });
    expect(JSON.parse(res.choices[0]!.message.tool_calls![0]!.type === 'function' ? (res.choices[0]!.message.tool_calls![0] as any).function.arguments : '')).toEqual({ customer: EMAIL });
    expectNoPii(up.allRaw());
  });

  it('response_format.json_schema: description and schema text; the schema name passes', async () => {
    await create({
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', description: TEXT, schema: { type: 'object', properties: { a: { type: 'string', description: TEXT, enum: [SSN] } } } },
      },
    });
    expectNoPii(up.allRaw());
    const js = up.received[0]!.body.response_format.json_schema;
    expect(js.name).toBe('answer');
    expect(js.description).toMatch(PH('CARD'));
    expect(js.schema.properties.a.enum[0]).toMatch(/^\[SSN_[0-9A-Z]{8}\]$/);
  });

  it('web_search_options.user_location, messages[].audio.transcript, reasoning_content, file names, metadata keys', async () => {
    await create({
      web_search_options: {
        user_location: { type: 'approximate', approximate: { city: `c/o ${EMAIL}`, region: `card ${CARD}`, country: 'US', timezone: 'America/New_York' } },
      },
      metadata: { [EMAIL]: 'vip', [`ssn ${SSN}`]: `card ${CARD}`, plan: 'gold' },
      messages: [
        { role: 'user', content: [{ type: 'file', file: { filename: `${EMAIL} ssn ${SSN}.pdf`, file_data: 'data:application/pdf;base64,JVBERi0=' } }] },
        { role: 'assistant', content: 'ok', audio: { id: 'audio_1', transcript: TEXT }, reasoning_content: `thinking about ${TEXT}` },
        { role: 'user', content: 'thanks' },
      ],
    });
    expectNoPii(up.allRaw());
    const b = up.received[0]!.body;
    expect(b.web_search_options.user_location.type).toBe('approximate');
    expect(b.web_search_options.user_location.approximate.city).toMatch(PH('EMAIL'));
    expect(b.web_search_options.user_location.approximate.region).toMatch(PH('CARD'));
    // ISO country codes and IANA time zones are codes, not free text
    expect(b.web_search_options.user_location.approximate.country).toBe('US');
    expect(b.web_search_options.user_location.approximate.timezone).toBe('America/New_York');
    const keys = Object.keys(b.metadata);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toMatch(/^\[EMAIL_[0-9A-Z]{8}\]$/);
    expect(keys[1]).toMatch(/^ssn \[SSN_[0-9A-Z]{8}\]$/);
    expect(b.metadata[keys[1]!]).toMatch(/^card \[CARD_[0-9A-Z]{8}\]$/);
    expect(b.metadata.plan).toBe('gold');
    expect(b.messages[0].content[0].file.filename).toMatch(PH('EMAIL'));
    expect(b.messages[0].content[0].file.file_data).toBe('data:application/pdf;base64,JVBERi0=');
    expect(b.messages[1].audio).toEqual({ id: 'audio_1', transcript: expect.stringMatching(PH('SSN')) });
    expect(b.messages[1].reasoning_content).toMatch(PH('CARD'));
  });

  it('user_location: a country or time zone that is not a code is free text and masked', async () => {
    await create({ web_search_options: { user_location: { type: 'approximate', approximate: { country: EMAIL, timezone: `ssn ${SSN}` } } } });
    expectNoPii(up.allRaw());
  });

  it('metadata keys that collide once masked are a 400, nothing sent upstream', async () => {
    // the second key is already the first one's placeholder
    await create({ metadata: { k: EMAIL } });
    const ph = up.received[0]!.body.metadata.k as string;
    up.received.length = 0;
    await expect(create({ metadata: { [EMAIL]: 'a', [ph]: 'b' } })).rejects.toMatchObject({ status: 400, param: 'metadata' });
    expect(up.received).toHaveLength(0);
  });
});

describe('response fields are restored', () => {
  it('reasoning_content and audio.transcript, plain and streamed', async () => {
    up.handler = (req) => {
      const phs = allPh(JSON.stringify(req.body.messages)).join(' ');
      if (req.body.stream) {
        const ev = chatChunks([[]]);
        const base = { ...(ev[0] as object) } as Record<string, unknown>;
        const mid = (delta: unknown) => ({ ...base, choices: [{ index: 0, delta, finish_reason: null }] });
        return {
          kind: 'sse',
          events: [ev[0], ...[...phs].map((ch) => mid({ reasoning_content: ch })), mid({ audio: { transcript: phs } }), ev[1]],
          maxWrite: 3,
        };
      }
      return {
        kind: 'json',
        body: chatCompletion([''], {
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok', reasoning_content: `r ${phs}`, audio: { id: 'a', data: '', expires_at: 1, transcript: `t ${phs}` } }, finish_reason: 'stop' }],
        }),
      };
    };
    const messages = [{ role: 'user', content: `${EMAIL} ${SSN}` }];
    const res = (await create({ messages })) as any;
    expect(res.choices[0].message.reasoning_content).toBe(`r ${EMAIL} ${SSN}`);
    expect(res.choices[0].message.audio.transcript).toBe(`t ${EMAIL} ${SSN}`);
    const stream = (await client.chat.completions.create({ model: 'gpt-fake', stream: true, messages } as never)) as unknown as AsyncIterable<any>;
    let reasoning = '';
    let transcript = '';
    for await (const c of stream) {
      reasoning += c.choices[0]?.delta?.reasoning_content ?? '';
      transcript += c.choices[0]?.delta?.audio?.transcript ?? '';
    }
    expect(reasoning).toBe(`${EMAIL} ${SSN}`);
    expect(transcript).toBe(`${EMAIL} ${SSN}`);
  });
});

describe('tool definitions (property)', () => {
  const PIIS = [EMAIL, SSN, CARD, 'ada.lovelace@example.org', '078-05-1120', '5500 0000 0000 0004'];
  const word = fc.constantFrom('the', 'customer', 'id', 'Use', 'value', 'of', 'x', '');
  const leaf = fc.tuple(word, fc.constantFrom(...PIIS), word).map(([a, p, b]) => `${a} ${p} ${b}`.trim());
  const key = fc.stringMatching(/^[a-z_]{1,8}$/);
  const schema = fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.record({ type: fc.constant('string'), description: leaf, enum: fc.array(leaf, { maxLength: 3 }), default: leaf }, { requiredKeys: ['type'] }),
      fc.record({ type: fc.constant('integer'), title: leaf, examples: fc.array(fc.oneof(leaf, fc.integer()), { maxLength: 3 }) }, { requiredKeys: ['type'] }),
      fc.record({ type: fc.constant('object'), description: leaf, properties: fc.dictionary(key, tie('node'), { maxKeys: 4 }) }, { requiredKeys: ['type'] }),
      fc.record({ type: fc.constant('array'), items: tie('node'), const: fc.array(leaf, { maxLength: 2 }) }, { requiredKeys: ['type'] }),
      fc.record({ anyOf: fc.array(tie('node'), { minLength: 1, maxLength: 3 }), description: leaf }),
    ),
  })).node;

  it('random JSON-schema-ish tools with PII in string leaves: no PII reaches the upstream', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ name: key, description: leaf, parameters: schema }), { minLength: 1, maxLength: 3 }), async (fns) => {
        up.received.length = 0;
        await create({ tools: fns.map((f) => ({ type: 'function', function: f })) });
        const raw = up.allRaw();
        for (const v of PIIS) {
          expect(raw).not.toContain(v);
          expect(raw).not.toContain(v.replace(/[ -]/g, ''));
        }
        // structure is untouched: same tool names, same schema keys and types
        const strip = (v: unknown): unknown =>
          Array.isArray(v) ? v.map(strip) : typeof v === 'string' ? 's' : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, strip(x)])) : v;
        expect(strip(up.received[0]!.body.tools.map((t: any) => t.function))).toEqual(strip(fns));
        expect(up.received[0]!.body.tools.map((t: any) => t.function.name)).toEqual(fns.map((f) => f.name));
      }),
      { numRuns: 40 },
    );
  });
});
