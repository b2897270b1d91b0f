/**
 * What the HTTP layer's middleware and routes share: the Hono environment (request id, caller,
 * forwarded bearer), the OpenAI-shaped error response, and helpers that keep PII out of error
 * messages and logs (`safePath`, `causeName`). Pure (runs on Workers).
 */
import type { Context } from 'hono';
import { isVeilError, type VeilError } from '../core/errors.js';
import type { Principal, RequestContext } from '../core/types.js';

export type Env = {
  Variables: {
    requestId: string;
    principal: Principal;
    /** The caller's bearer token, only in open mode (forwarded upstream when no upstream key is set). */
    forwardBearer: string | null;
  };
};

/** A VeilError as the response the OpenAI SDKs expect (`x-should-retry: false` where retrying cannot help). */
export function errorResponse(c: Context, err: VeilError): Response {
  const headers: Record<string, string> = { ...err.headers, 'content-type': 'application/json' };
  if (err.retryable === false) headers['x-should-retry'] = 'false';
  // The rest of an oversized body is not read: close the connection so it cannot be reused mid-upload.
  if (err.status === 413) headers.connection = 'close';
  return c.newResponse(JSON.stringify(err.toBody()), err.status as 400, headers);
}

/** The token of `Authorization: Bearer …`, or null. */
export function bearerOf(c: Context): string | null {
  const h = c.req.header('authorization');
  if (!h) return c.req.header('x-api-key')?.trim() || null; // the header Anthropic's SDK sends
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1]!.trim() : null;
}

/**
 * A path safe to quote in an error: segments of letters, `_`, `-` and `.` (and `v1`) as they
 * are, every other segment as `:param` (it may hold PII, and the caller's logs keep errors).
 */
export function safePath(path: string): string {
  return path
    .slice(0, 512)
    .split('/')
    .map((seg) => (seg === '' || /^(?:v\d{1,2}|[A-Za-z_.-]{1,64})$/.test(seg) ? seg : ':param'))
    .join('/');
}

/** Error class names only: messages of foreign errors may quote input. */
export function causeName(e: unknown): string {
  if (isVeilError(e)) return `VeilError(${e.code ?? e.status})`;
  if (e instanceof Error) return e.name;
  return typeof e;
}

/** Links the caller's connection to an upstream call: when the caller leaves, it is cancelled. */
export function upstreamAbort(c: Context<Env>): AbortController {
  const controller = new AbortController();
  const signal = c.req.raw.signal;
  if (signal.aborted) controller.abort();
  else signal.addEventListener('abort', () => controller.abort(), { once: true });
  return controller;
}

/** The request as the sanitizer, vault and audit see it. */
export function requestContext(c: Context<Env>, signal: AbortSignal): RequestContext {
  const purpose = c.req.header('x-veil-purpose');
  return {
    principal: c.get('principal'),
    requestId: c.get('requestId'),
    signal,
    ...(purpose ? { purpose: purpose.slice(0, 200) } : {}),
  };
}
