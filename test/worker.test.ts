/**
 * The Workers entry driven with plain Web API Request/Response objects (as workerd calls it),
 * against the loopback fake upstream (test/fakes/upstream.ts, the network stand-in).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import worker from '../src/worker.js';
import { type FakeUpstream, lastUserText, startFakeUpstream } from './fakes/upstream.js';

let up: FakeUpstream;
beforeAll(async () => {
  up = await startFakeUpstream();
});
afterAll(() => up.close());

it('serves a sanitized, restored chat round trip through the Workers fetch handler', async () => {
  const env = { VEIL_UPSTREAM_URL: up.url, VEIL_UPSTREAM_API_KEY: 'sk-edge' };
  const req = new Request('https://veil.example/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'mail ada@example.org now' }] }),
  });
  const res = await worker.fetch(req, env, {});
  expect(res.status).toBe(200);
  const body = await res.json();
  expect(body.choices[0].message.content).toBe('You said: mail ada@example.org now');
  expect(lastUserText(up.received[0]!.body)).toMatch(/^mail \[EMAIL_[0-9A-Z]{8}\] now$/);
  expect(up.received[0]!.headers.authorization).toBe('Bearer sk-edge');
});
