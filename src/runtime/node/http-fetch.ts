/**
 * A `fetch` for the upstream client built on node:http(s) with keep-alive agents.
 *
 * Why not the built-in fetch: measured in one process against an instant loopback upstream
 * (`npm run bench`, bench/RESULTS.md), the `openai` client made 2.1k calls/s over Node 20's
 * built-in fetch (undici) and 4.4k/s over node:http with a keep-alive agent.
 * The `openai` client stays — its request building, auth, timeouts and error types — only its
 * transport changes. Supports what the client uses: method, headers, string/bytes bodies,
 * AbortSignal (rejects with an AbortError), streamed response bodies (cancel closes the socket).
 * A request whose connection is reset (ECONNRESET / EPIPE / socket hang up) before any response
 * byte arrived is sent once more: a stale keep-alive socket must not become a 502.
 */
import http from 'node:http';
import https from 'node:https';
import { abortError } from '../../core/errors.js';

export interface NodeFetchOptions {
  readonly maxSockets?: number;
}

export function createNodeFetch(opts: NodeFetchOptions = {}): typeof fetch {
  const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? 256, scheduling: 'lifo' as const };
  const agents = { 'http:': new http.Agent(agentOpts), 'https:': new https.Agent(agentOpts) };

  return async function nodeFetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${url.protocol}`);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    let body: string | Uint8Array | undefined;
    if (typeof init.body === 'string') body = init.body;
    else if (init.body instanceof Uint8Array) body = init.body;
    else if (init.body instanceof ArrayBuffer) body = new Uint8Array(init.body);
    else if (init.body != null) body = new Uint8Array(await new Response(init.body).arrayBuffer());
    if (body !== undefined) headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) throw abortError();

    try {
      return await attempt(url, init, headers, body, signal);
    } catch (e) {
      // A kept-alive socket the upstream (or a proxy) closed while we were busy: the request
      // died before any byte of a response came back. Retried once, on a fresh attempt.
      if (!signal?.aborted && isConnectionReset(e)) return attempt(url, init, headers, body, signal);
      throw e;
    }
  } as typeof fetch;

  function attempt(
    url: URL,
    init: RequestInit,
    headers: Record<string, string>,
    body: string | Uint8Array | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.request(url, { method: init.method ?? 'GET', headers, agent: agents[url.protocol as 'http:' | 'https:'] }, (res) => {
        const out = new Headers();
        const raw = res.rawHeaders;
        for (let i = 0; i < raw.length; i += 2) out.append(raw[i]!, raw[i + 1]!);
        const status = res.statusCode ?? 502;
        const noBody = status === 204 || status === 304 || init.method === 'HEAD';
        if (noBody) res.resume();
        const stream = noBody ? null : toWebStream(res);
        resolve(new Response(stream, { status, statusText: res.statusMessage ?? '', headers: out }));
      });
      const onAbort = () => {
        req.destroy(abortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal?.removeEventListener('abort', onAbort));
      // errors after the response started are the body stream's (see toWebStream)
      req.on('error', (e) => reject(signal?.aborted ? abortError() : e));
      req.end(body);
    });
  }
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/** A connection reset before any response byte (Node reports `socket hang up` as ECONNRESET). */
function isConnectionReset(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && RESET_CODES.has(code)) || (e instanceof Error && e.message === 'socket hang up');
}

/**
 * The response body as a web stream with backpressure (pause/resume) and cancellation
 * (destroys the socket, so the upstream sees the caller leave). A connection that closes
 * before the body is complete errors the stream instead of ending it quietly.
 */
function toWebStream(res: http.IncomingMessage): ReadableStream<Uint8Array> {
  // `done` guards every controller call: after cancel(), close() or error() the controller
  // throws, and a throw inside these event handlers would crash the process.
  let done = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      res.on('data', (chunk: Buffer) => {
        if (done) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) res.pause();
      });
      res.on('end', () => {
        if (done) return;
        done = true;
        controller.close();
      });
      res.on('error', (e) => {
        if (done) return;
        done = true;
        controller.error(e);
      });
      res.on('close', () => {
        if (done) return;
        done = true;
        controller.error(new Error('upstream connection closed before the response was complete'));
      });
    },
    pull() {
      if (!done) res.resume();
    },
    cancel() {
      done = true;
      res.destroy();
    },
  });
}

