/**
 * Request bodies: at most `maxBytes` (hono's body-limit: refused at once from Content-Length,
 * else while reading a chunked body, which is never buffered past the limit → 413
 * `request_too_large`), JSON only (400), nested at most `maxDepth` levels (400 `veil_too_deep`,
 * checked on the text before anything recursive sees it), then parsed (400 `invalid_json`).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { badRequest, invalidJson, payloadTooLarge, tooDeep } from '../../core/errors.js';
import { jsonDeeperThan } from '../../core/json-depth.js';
import { concatAll } from '../../keys/crypto.js';
import type { Env } from '../context.js';

export function limitBody(maxBytes: number): MiddlewareHandler<Env> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw payloadTooLarge(maxBytes);
    },
  });
}

/** The body, parsed, after the checks above (`limitBody` must run first). */
export async function readJson(c: Context<Env>, maxDepth: number): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (type && !/^application\/json\b/i.test(type)) {
    throw badRequest('The request body must be JSON (Content-Type: application/json).');
  }
  const text = await c.req.text();
  if (jsonDeeperThan(text, maxDepth)) throw tooDeep(maxDepth);
  try {
    return JSON.parse(text);
  } catch {
    throw invalidJson();
  }
}

/**
 * The body as text, refusing more than `max` bytes: at once from Content-Length, else while
 * reading a chunked body (never buffered past the limit). For routes that read the body
 * themselves (src/surfaces); the /v1 proxy uses {@link limitBody}.
 */
export async function readBody(req: Request, contentLength: string | undefined, max: number): Promise<string> {
  if (contentLength !== undefined) {
    const n = Number(contentLength);
    if (!Number.isFinite(n) || n < 0) throw badRequest('Invalid Content-Length.');
    if (n > max) throw payloadTooLarge(max);
    return req.text();
  }
  if (!req.body) return '';
  const reader = req.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw payloadTooLarge(max);
    }
    parts.push(value);
  }
  return new TextDecoder().decode(concatAll(parts));
}
