/**
 * Request bodies of the /v1/veil RAG routes: read under the gateway's byte limit (413 without
 * buffering more), refused when nested past the depth limit (400 `veil_too_deep`), parsed
 * (400 `invalid_json`) and validated by a zod schema (400 naming the first bad parameter —
 * the path and zod's message only, never the value).
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import { badRequest, invalidJson, tooDeep } from '../core/errors.js';
import { readBody as readLimitedBody } from '../http/middleware/body.js';
import { jsonDeeperThan } from '../core/json-depth.js';

export interface BodyLimits {
  readonly maxBodyBytes: number;
  readonly maxJsonDepth: number;
}

async function readText(c: Context, max: number): Promise<string> {
  const type = c.req.header('content-type') ?? '';
  if (type && !/^application\/json\b/i.test(type)) throw badRequest('The request body must be JSON (Content-Type: application/json).');
  return readLimitedBody(c.req.raw, c.req.header('content-length'), max);
}

export async function readBody<S extends z.ZodType>(c: Context, schema: S, limits: BodyLimits, what: string): Promise<z.infer<S>> {
  const text = await readText(c, limits.maxBodyBytes);
  if (jsonDeeperThan(text, limits.maxJsonDepth)) throw tooDeep(limits.maxJsonDepth);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalidJson();
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const param = issue.path.map(String).join('.') || null;
    throw badRequest(`Invalid ${what} request: ${param ?? 'body'}: ${issue.message}`, param);
  }
  return parsed.data;
}
