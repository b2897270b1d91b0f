import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll } from 'vitest';
import { createApp, type Services } from '../../src/http/app.js';
import { createUpstream } from '../../src/http/upstream.js';
import { openAuthenticator } from '../../src/tenants/auth.js';
import { silentLogger } from '../../src/core/types.js';
import { createPatternDetector } from '../../src/detect/patterns/index.js';
import type { Detector } from '../../src/detect/types.js';
import { startFakeUpstream, type FakeUpstream } from '../fakes/upstream.js';
import { DEFAULT_POLICY } from '../../src/policy/index.js';
import { createNodeFetch } from '../../src/runtime/node/http-fetch.js';
import { createMemoryVault } from '../../src/vault/memory.js';

export interface Gateway {
  readonly url: string;
  readonly services: Services;
  client(opts?: { apiKey?: string; maxRetries?: number; timeout?: number }): OpenAI;
  close(): Promise<void>;
}

/** Serves `createApp(services)` over real HTTP on an ephemeral loopback port. */
export async function startGateway(upstreamUrl: string, overrides: Partial<Services> = {}, upstreamOpts: { apiKey?: string; timeoutMs?: number } = {}): Promise<Gateway> {
  const services: Services = {
    detector: createPatternDetector(),
    vault: createMemoryVault(),
    auth: openAuthenticator,
    upstream: createUpstream({
      baseURL: upstreamUrl,
      apiKey: 'apiKey' in upstreamOpts ? upstreamOpts.apiKey : 'sk-upstream-test',
      timeoutMs: upstreamOpts.timeoutMs ?? 10_000,
      maxRetries: 0,
      // the production transport (src/runtime/node/services.ts); VEIL_TEST_BUILTIN_FETCH=1 tests the built-in fetch
      ...(process.env.VEIL_TEST_BUILTIN_FETCH ? {} : { fetch: createNodeFetch() }),
    }),
    policyFor: () => DEFAULT_POLICY,
    logger: silentLogger,
    limits: { maxBodyBytes: 256 * 1024, streamIdleTimeoutMs: 2_000 },
    ...overrides,
  };
  const app = createApp(services);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return {
    url,
    services,
    client: (o = {}) => new OpenAI({ baseURL: url, apiKey: o.apiKey ?? 'sk-caller', maxRetries: o.maxRetries ?? 0, timeout: o.timeout ?? 10_000 }),
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/**
 * POSTs a JSON-typed body of `bytes` bytes to `url`, with a Content-Length or chunked (a stream,
 * no Content-Length), and answers the status and the parsed error body.
 */
export async function postOversized(url: string, bytes: number, chunked: boolean, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const piece = new TextEncoder().encode('x'.repeat(64 * 1024));
  let sent = 0;
  const body = chunked
    ? new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent < bytes) {
            controller.enqueue(piece);
            sent += piece.byteLength;
          } else controller.close();
        },
      })
    : 'x'.repeat(bytes);
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, duplex: 'half' } as RequestInit);
  return { status: res.status, body: await res.json() };
}

/**
 * The loopback stand-in upstream and an in-process gateway using `detector`, for the enclosing
 * describe block: the detector is readied first, and all three are closed after the block.
 */
export function useDetectorGateway(detector: Detector): { readonly up: FakeUpstream; readonly gw: Gateway } {
  const f = {} as { up: FakeUpstream; gw: Gateway };
  beforeAll(async () => {
    await detector.ready?.();
    f.up = await startFakeUpstream();
    f.gw = await startGateway(f.up.url, { detector });
  }, 60_000);
  afterAll(async () => {
    await f.gw?.close();
    await f.up?.close();
    await detector.close?.();
  });
  return f;
}
