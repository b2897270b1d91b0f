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
