/** Body limits and JSON parsing (body.ts): 413 from Content-Length or while streaming, 400s. */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/types.js';
import type { Env } from '../context.js';
import { readJson } from './body.js';
import { onError } from './errors.js';

function app(max: number) {
  const a = new Hono<Env>();
  a.onError(onError(silentLogger));
  a.post('/p', async (c) => c.json({ got: await readJson(c, { maxBodyBytes: max, maxJsonDepth: 3 }) }));
  return a;
}

const chunked = (s: string) =>
  new ReadableStream<Uint8Array>({
    start(ctl) {
      for (const ch of s) ctl.enqueue(new TextEncoder().encode(ch));
      ctl.close();
    },
  });

describe('body middleware', () => {
  it('passes a JSON body within the limits', async () => {
    const res = await app(100).request('/p', { method: 'POST', body: '{"a":[1]}', headers: { 'content-type': 'application/json' } });
    expect(await res.json()).toEqual({ got: { a: [1] } });
  });

  it('413 request_too_large from Content-Length and from a chunked body, connection closed', async () => {
    const big = JSON.stringify({ a: 'x'.repeat(200) });
    const res = await app(100).request('/p', { method: 'POST', body: big, headers: { 'content-length': String(big.length) } });
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect((await res.json()).error.code).toBe('request_too_large');
    const streamed = await app(100).request('/p', { method: 'POST', body: chunked(big), duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await streamed.json()).error.code).toBe('request_too_large');
    // exactly at the limit passes, both ways
    const fits = JSON.stringify({ a: 'x'.repeat(100 - 8) });
    expect(fits.length).toBe(100);
    const json = { 'content-type': 'application/json' };
    expect((await app(100).request('/p', { method: 'POST', body: fits, headers: { ...json, 'content-length': '100' } })).status).toBe(200);
    expect((await app(100).request('/p', { method: 'POST', body: chunked(fits), headers: json, duplex: 'half' } as RequestInit)).status).toBe(200);
  });

  it('400s: not JSON content type, too deep, unparsable', async () => {
    const post = (body: string, type = 'application/json') => app(1000).request('/p', { method: 'POST', body, headers: { 'content-type': type } });
    expect((await post('{}', 'text/plain')).status).toBe(400);
    expect((await (await post('[[[[1]]]]')).json()).error.code).toBe('veil_too_deep');
    expect((await (await post('{nope')).json()).error.code).toBe('invalid_json');
  });
});
