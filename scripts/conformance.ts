/**
 * Conformance and leak suite, runnable against any running Veil:
 *
 *   npm run conformance                                  # starts its own Veil (patterns, memory vault)
 *   npm run conformance -- --base-url http://127.0.0.1:8787 --upstream-port 9911
 *     (that Veil started with VEIL_UPSTREAM_URL=http://127.0.0.1:9911/v1 and
 *      VEIL_ANTHROPIC_UPSTREAM_URL=http://127.0.0.1:9911, in open mode or with --api-key vk_…)
 *
 * A recording upstream (test/fakes/surfaces-upstream.ts, loopback) answers every surface; the
 * judges are the official clients: `openai` (chat, completions, embeddings, responses), the
 * Anthropic SDK (messages) and the Vercel AI SDK's default provider. Each case checks exact
 * restoration (streams arrive in 1–3 character pieces, tool calls included), and at the end no
 * PII value may appear in anything the upstream received. Exit code 0 only if every case passes.
 */
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { serve } from '@hono/node-server';
import { generateText, streamText } from 'ai';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { createApp } from '../src/http/app.js';
import { createUpstream } from '../src/http/upstream.js';
import { openAuthenticator } from '../src/tenants/auth.js';
import { silentLogger } from '../src/core/types.js';
import { createPatternDetector } from '../src/detect/patterns/index.js';
import { DEFAULT_POLICY } from '../src/policy/index.js';
import { createMemoryVault } from '../src/vault/memory.js';
import { surfacesHandler } from '../test/fakes/surfaces-upstream.js';
import { startFakeUpstream } from '../test/fakes/upstream.js';

const { values: args } = parseArgs({
  options: { 'base-url': { type: 'string' }, 'upstream-port': { type: 'string' }, 'api-key': { type: 'string' } },
});

const EMAIL = 'jane.doe@example.com';
const SSN = '219-09-9999';
const PHONE = '+1 415 555 0132';
const PII = [EMAIL, SSN, PHONE];
const TEXT = `Mail "${EMAIL}" about SSN ${SSN}, or call ${PHONE}.`;
const WANT = `You said: ${TEXT}`;

function eq(got: unknown, want: unknown, what: string): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

async function main(): Promise<number> {
  const upstream = await startFakeUpstream(surfacesHandler, Number(args['upstream-port'] ?? 0));
  let base = args['base-url']?.replace(/\/+$/, '').replace(/\/v1$/, '');
  let close = async () => {};
  if (!base) {
    const app = createApp({
      detector: createPatternDetector(),
      vault: createMemoryVault(),
      auth: openAuthenticator,
      upstream: createUpstream({ baseURL: upstream.url, apiKey: 'sk-upstream', timeoutMs: 30_000, maxRetries: 0 }),
      anthropic: { baseURL: upstream.url.replace(/\/v1$/, ''), apiKey: 'sk-ant-upstream', timeoutMs: 30_000 },
      policyFor: () => DEFAULT_POLICY,
      logger: silentLogger,
      limits: { maxBodyBytes: 1024 * 1024, streamIdleTimeoutMs: 10_000 },
    });
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise<void>((r) => server.close(() => r()));
  } else {
    console.log(`recording upstream: ${upstream.url} (Veil must use VEIL_UPSTREAM_URL=${upstream.url}, VEIL_ANTHROPIC_UPSTREAM_URL=${upstream.url.replace(/\/v1$/, '')})`);
  }
  const key = args['api-key'] ?? 'sk-caller';
  const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0, timeout: 30_000 });
  const anthropic = new Anthropic({ baseURL: base, apiKey: key, maxRetries: 0, timeout: 30_000 });
  const vercel = createOpenAI({ baseURL: `${base}/v1`, apiKey: key });
  const fn = { type: 'function' as const, function: { name: 'lookup', description: `e.g. ${EMAIL}`, parameters: { type: 'object', properties: {} } } };
  const wantArgs = { email: EMAIL, note: WANT };

  const cases: [string, () => Promise<void>][] = [
    ['chat plain', async () => eq((await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: TEXT }] })).choices[0]!.message.content, WANT, 'content')],
    ['chat streamed', async () => {
      let s = '';
      for await (const c of await openai.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: TEXT }] })) s += c.choices[0]?.delta.content ?? '';
      eq(s, WANT, 'content');
    }],
    ['chat tool call plain', async () => {
      const r = await openai.chat.completions.create({ model: 'm', tools: [fn], messages: [{ role: 'user', content: TEXT }] });
      eq(JSON.parse((r.choices[0]!.message.tool_calls![0] as any).function.arguments), wantArgs, 'arguments');
    }],
    ['chat tool call streamed', async () => {
      let a = '';
      for await (const c of await openai.chat.completions.create({ model: 'm', stream: true, tools: [fn], messages: [{ role: 'user', content: TEXT }] })) a += c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
      eq(JSON.parse(a), wantArgs, 'arguments');
    }],
    ['completions plain', async () => eq((await openai.completions.create({ model: 'm', prompt: TEXT })).choices[0]!.text, `Echo: ${TEXT}`, 'text')],
    ['completions streamed', async () => {
      let s = '';
      for await (const c of await openai.completions.create({ model: 'm', prompt: TEXT, stream: true })) s += c.choices[0]?.text ?? '';
      eq(s, `Echo: ${TEXT}`, 'text');
    }],
    ['embeddings', async () => eq((await openai.embeddings.create({ model: 'm', input: TEXT, encoding_format: 'float' })).data.length, 1, 'embeddings')],
    ['responses plain', async () => eq((await openai.responses.create({ model: 'm', instructions: `cc ${EMAIL}`, input: TEXT })).output_text, WANT, 'output_text')],
    ['responses streamed', async () => {
      let s = '';
      for await (const e of await openai.responses.create({ model: 'm', input: TEXT, stream: true })) if (e.type === 'response.output_text.delta') s += e.delta;
      eq(s, WANT, 'deltas');
    }],
    ['responses function tool streamed', async () => {
      const stream = openai.responses.stream({ model: 'm', input: TEXT, tools: [{ type: 'function', name: 'lookup', description: `e.g. ${EMAIL}`, strict: false, parameters: { type: 'object', properties: {} } }] });
      const final = await stream.finalResponse();
      eq(JSON.parse((final.output[0] as any).arguments), wantArgs, 'arguments');
    }],
    ['messages plain', async () => eq((await anthropic.messages.create({ model: 'c', max_tokens: 10, system: `cc ${EMAIL}`, messages: [{ role: 'user', content: TEXT }] })).content[0], { type: 'text', text: WANT }, 'content')],
    ['messages streamed with a tool', async () => {
      const final = await anthropic.messages
        .stream({ model: 'c', max_tokens: 10, tools: [{ name: 'lookup', description: `e.g. ${EMAIL}`, input_schema: { type: 'object', properties: {} } }], messages: [{ role: 'user', content: TEXT }] })
        .finalMessage();
      eq((final.content[0] as any).text, WANT, 'text');
      eq((final.content[1] as any).input, wantArgs, 'tool input');
    }],
    ['Vercel AI SDK generateText', async () => eq((await generateText({ model: vercel('m'), prompt: TEXT })).text, WANT, 'text')],
    ['Vercel AI SDK streamText', async () => {
      let s = '';
      for await (const t of streamText({ model: vercel('m'), prompt: TEXT }).textStream) s += t;
      eq(s, WANT, 'text');
    }],
  ];

  let failed = 0;
  for (const [name, run] of cases) {
    try {
      await run();
      console.log(`PASS  ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL  ${name}: ${(e as Error).message}`);
    }
  }
  const leaked = PII.filter((v) => upstream.allRaw().includes(v));
  if (upstream.received.length === 0) {
    failed++;
    console.log('FAIL  the recording upstream received nothing (is Veil pointed at it?)');
  } else if (leaked.length > 0) {
    failed++;
    console.log(`FAIL  leak: ${leaked.length} PII value(s) reached the upstream in clear`);
  } else {
    console.log(`PASS  no PII value in ${upstream.received.length} upstream requests`);
  }
  console.log(failed === 0 ? `conformance: all ${cases.length + 1} checks passed` : `conformance: ${failed} failed`);
  await close();
  await upstream.close();
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
