import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeFetch } from './http-fetch.js';

/** A loopback HTTP server with one behaviour per path. */
let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      if (req.url === '/echo') {
        res.writeHead(201, { 'content-type': 'application/json', 'x-ratelimit-remaining': '7' });
        res.end(JSON.stringify({ method: req.method, body, len: req.headers['content-length'], auth: req.headers.authorization }));
      } else if (req.url === '/slow-end') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        setTimeout(() => res.end('data: [DONE]\n\n'), 50);
      } else if (req.url === '/cut') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
        res.write('partial');
        setTimeout(() => res.socket?.destroy(), 20);
      } else if (req.url === '/hang') {
        // never answers
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('createNodeFetch', () => {
  const f = createNodeFetch();

  it('sends method, headers and a string body with its length; returns status, headers and body', async () => {
    const res = await f(`${base}/echo`, { method: 'POST', body: 'héllo', headers: { authorization: 'Bearer k' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-ratelimit-remaining')).toBe('7');
    expect(await res.json()).toEqual({ method: 'POST', body: 'héllo', len: '6', auth: 'Bearer k' });
  });

  it('an aborted signal rejects with an AbortError', async () => {
    const c = new AbortController();
    const p = f(`${base}/hang`, { signal: c.signal });
    setTimeout(() => c.abort(), 20);
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('cancelling a body before the server ends it does not throw later (regression: crashed the process)', async () => {
    const errors: unknown[] = [];
    const onErr = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onErr);
    try {
      const res = await f(`${base}/slow-end`);
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toBe('data: 1\n\n');
      await reader.cancel();
      await new Promise((r) => setTimeout(r, 120)); // the server's end arrives after the cancel
      expect(errors).toEqual([]);
    } finally {
      process.off('uncaughtException', onErr);
    }
  });

  it('a connection cut mid-body errors the stream instead of ending it quietly', async () => {
    const res = await f(`${base}/cut`);
    await expect(res.text()).rejects.toThrow();
  });
});

describe('createNodeFetch: a reset connection is retried once (issue 7)', () => {
  /** Destroys the first `resets` connections as soon as a request arrives, then answers. */
  async function resetting(resets: number) {
    let seen = 0;
    const s = createServer((req, res) => {
      seen++;
      req.resume();
      if (seen <= resets) {
        req.socket.destroy();
        return;
      }
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    return {
      url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/x`,
      seen: () => seen,
      close: () => {
        s.closeAllConnections();
        s.close();
      },
    };
  }

  it('a connection destroyed before any response byte: sent again, the caller gets the answer', async () => {
    const srv = await resetting(1);
    try {
      const r = await createNodeFetch()(srv.url, { method: 'POST', body: '{"a":1}' });
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('ok');
      expect(srv.seen()).toBe(2);
    } finally {
      srv.close();
    }
  });

  it('only once: a second reset is reported to the caller', async () => {
    const srv = await resetting(5);
    try {
      const err = await createNodeFetch()(srv.url, { method: 'POST', body: 'x' }).catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err.code ?? err.message).toMatch(/ECONNRESET|socket hang up/);
      expect(srv.seen()).toBe(2);
    } finally {
      srv.close();
    }
  });
});
