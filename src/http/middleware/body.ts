/**
 * Request bodies, one way for every route (the /v1 proxy, reveal, erase, the surfaces, and
 * src/rag): at most `maxBodyBytes` (refused at once from
 * Content-Length, else while reading a chunked body, which is never buffered past the limit →
 * 413 `request_too_large`; a malformed Content-Length → 400; the size comes first), JSON only (400), nested at most
 * `maxJsonDepth` levels (400 `veil_too_deep`, checked on the text before anything recursive
 * sees it), then parsed (400 `invalid_json`) and, where a route has a zod schema, validated
 * ({@link parseWith}: 400 naming the first bad parameter, never the value).
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import { badRequest, invalidJson, payloadTooLarge, tooDeep } from '../../core/errors.js';
import { jsonDeeperThan } from '../../core/json-depth.js';
import { concatAll } from '../../keys/crypto.js';

export interface BodyLimits {
  readonly maxBodyBytes: number;
  readonly maxJsonDepth: number;
}

/** The body, parsed, after the checks above. */
export async function readJson(c: Context, limits: BodyLimits): Promise<unknown> {
  const text = await readBody(c.req.raw, c.req.header('content-length'), limits.maxBodyBytes);
  const type = c.req.header('content-type') ?? '';
  if (type && !/^application\/json\b/i.test(type)) {
    throw badRequest('The request body must be JSON (Content-Type: application/json).');
  }
  if (jsonDeeperThan(text, limits.maxJsonDepth)) throw tooDeep(limits.maxJsonDepth);
  try {
    return JSON.parse(text);
  } catch {
    throw invalidJson();
  }
}

/** `raw` validated by `schema`: 400 `Invalid <what> request: <param>: <zod's message>` on the first issue. */
export function parseWith<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const param = issue.path.map(String).join('.') || null;
  throw badRequest(`Invalid ${what} request: ${param ?? 'body'}: ${issue.message}`, param);
}

/**
 * The body as text, refusing more than `max` bytes: at once from Content-Length, else while
 * reading a chunked body (never buffered past the limit).
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
