/**
 * Graceful shutdown of the real Node entry (`src/runtime/node/main.ts`): on SIGTERM it stops accepting,
 * lets an in-flight stream finish, and exits 0. The upstream is the loopback fake (network stand-in).
 */
import OpenAI from 'openai';
import { afterAll, expect, it } from 'vitest';
import { freePort, startProcess } from '../bench/lib.js';
import { chatChunks, defaultHandler, lastUserText, smallPieces, startFakeUpstream, type FakeUpstream } from './fakes/upstream.js';

let up: FakeUpstream | undefined;
afterAll(async () => up?.close());

it('SIGTERM lets an in-flight stream finish, then exits 0', async () => {
  up = await startFakeUpstream((req) => ({ kind: 'sse', events: chatChunks([smallPieces(`You said: ${lastUserText(req.body)}`)]), delayMs: 15 }));
  const port = await freePort();
  const gw = await startProcess(
    new URL('../src/runtime/node/main.ts', import.meta.url).pathname,
    { PORT: String(port), HOST: '127.0.0.1', VEIL_NER: 'off', VEIL_VAULT: 'memory', VEIL_UPSTREAM_URL: up.url, VEIL_UPSTREAM_API_KEY: 'sk-up', VEIL_LOG_LEVEL: 'error' },
    { url: `http://127.0.0.1:${port}/healthz` },
  );
  const exited = new Promise<number | null>((resolve) => gw.child.once('exit', (code) => resolve(code)));
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'sk', maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'mail ada@example.org please' }] });
  let text = '';
  let n = 0;
  for await (const c of stream) {
    text += c.choices[0]?.delta.content ?? '';
    if (++n === 3) gw.child.kill('SIGTERM'); // mid-stream
  }
  expect(text).toBe('You said: mail ada@example.org please');
  expect(await exited).toBe(0);
  // and it no longer accepts connections
  await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
});

it('SIGTERM with NER on while the workers are busy exits 0 without a native crash (was SIGABRT: Napi::Error)', async () => {
  up ??= await startFakeUpstream();
  up.handler = defaultHandler;
  const port = await freePort();
  const gw = await startProcess(
    new URL('../src/runtime/node/main.ts', import.meta.url).pathname,
    { PORT: String(port), HOST: '127.0.0.1', VEIL_NER: 'on', VEIL_NER_WORKERS: '2', VEIL_VAULT: 'memory', VEIL_UPSTREAM_URL: up.url, VEIL_UPSTREAM_API_KEY: 'sk-up', VEIL_LOG_LEVEL: 'error' },
    { url: `http://127.0.0.1:${port}/healthz` },
  );
  let stderr = '';
  gw.child.stderr!.on('data', (d) => (stderr += d.toString()));
  const exited = new Promise<[number | null, string | null]>((resolve) => gw.child.once('exit', (code, sig) => resolve([code, sig])));
  // ~190k characters of names keep both workers in the model for seconds
  const text = 'I spoke with Priya Raghunathan yesterday. '.repeat(1500);
  const ac = new AbortController();
  const reqs = Array.from({ length: 3 }, () =>
    fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      signal: ac.signal,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: text }] }),
    }).catch(() => null),
  );
  await new Promise((r) => setTimeout(r, 500));
  ac.abort(); // the callers leave: nothing holds the server open, the workers are mid-inference
  await Promise.all(reqs);
  gw.child.kill('SIGTERM');
  expect(await exited).toEqual([0, null]);
  expect(stderr).not.toMatch(/terminate called|Napi::Error/);
}, 60_000);
