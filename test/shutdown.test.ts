/**
 * Graceful shutdown of the real Node entry (`src/node/main.ts`): on SIGTERM it stops accepting,
 * lets an in-flight stream finish, and exits 0. The upstream is the loopback fake (network stand-in).
 */
import OpenAI from 'openai';
import { afterAll, expect, it } from 'vitest';
import { freePort, startProcess } from '../bench/lib.js';
import { chatChunks, lastUserText, smallPieces, startFakeUpstream, type FakeUpstream } from './fakes/upstream.js';

let up: FakeUpstream | undefined;
afterAll(async () => up?.close());

it('SIGTERM lets an in-flight stream finish, then exits 0', async () => {
  up = await startFakeUpstream((req) => ({ kind: 'sse', events: chatChunks([smallPieces(`You said: ${lastUserText(req.body)}`)]), delayMs: 15 }));
  const port = await freePort();
  const gw = await startProcess(
    new URL('../src/node/main.ts', import.meta.url).pathname,
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
