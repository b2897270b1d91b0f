import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { Env } from '../http/context.js';
import { misconfigured, missingUpstreamKey, upstreamBadResponse, upstreamTimeout, upstreamUnreachable, type VeilError } from '../core/errors.js';
import { anthropicErrorType, collectMessagesSlots, MessagesStream, restoreMessage } from './messages.js';
import { awaitAudit, STREAM_HEADERS, type SurfaceKit } from './routes.js';

/**
 * `POST /v1/messages` and `POST /v1/messages/count_tokens` (Anthropic Messages API) on the
 * gateway. The upstream is `VEIL_ANTHROPIC_UPSTREAM_URL` (default https://api.anthropic.com),
 * called with `fetch` (the `openai` client is not used: other auth header, other errors) with
 * `x-api-key` = `VEIL_ANTHROPIC_UPSTREAM_API_KEY`, else — open mode only — the caller's own key;
 * a Veil key is never forwarded. The caller's `anthropic-version` and `anthropic-beta` headers
 * pass through. Errors on these paths are Anthropic-shaped
 * (`{"type":"error","error":{"type","message"}}`, see {@link anthropicErrors}); upstream error
 * bodies pass as the upstream wrote them.
 */

export interface AnthropicUpstreamOptions {
  readonly baseURL: string;
  readonly apiKey?: string | undefined;
  readonly timeoutMs: number;
  readonly fetch?: typeof fetch;
}

export const DEFAULT_ANTHROPIC_UPSTREAM: AnthropicUpstreamOptions = { baseURL: 'https://api.anthropic.com', timeoutMs: 600_000 };

/** Response headers of the Anthropic upstream worth passing on. */
function passHeaders(from: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  from.forEach((value, key) => {
    const k = key.toLowerCase();
    if (k.startsWith('anthropic-ratelimit-') || k === 'retry-after' || k === 'request-id') out[k] = value;
  });
  return out;
}

/**
 * Middleware (registered before the `/v1/*` auth middleware, so it also sees auth failures):
 * an OpenAI-shaped error answer on an Anthropic path is rewritten in Anthropic's shape, same
 * status and headers. Bodies already in Anthropic's shape (the upstream's) pass unchanged.
 */
export const anthropicErrors: MiddlewareHandler = async (c, next) => {
  await next();
  const res = c.res;
  if (res.status < 400 || !(res.headers.get('content-type') ?? '').includes('application/json')) return;
  let body: unknown;
  try {
    body = await res.clone().json();
  } catch {
    return;
  }
  const err = (body as { error?: { message?: unknown } } | null)?.error;
  if (!err || (body as { type?: unknown }).type === 'error' || typeof err.message !== 'string') return;
  const headers = new Headers(res.headers);
  headers.delete('content-length');
  c.res = new Response(JSON.stringify({ type: 'error', error: { type: anthropicErrorType(res.status), message: err.message } }), { status: res.status, headers });
};

const upstreamFailure = (e: unknown, timedOut: boolean): VeilError => (timedOut ? upstreamTimeout(e) : upstreamUnreachable(e));

export function registerMessages(app: Hono<Env>, kit: SurfaceKit): void {
  const opts = kit.services.anthropic ?? DEFAULT_ANTHROPIC_UPSTREAM;
  const doFetch = opts.fetch ?? fetch;

  const handle = (path: '/v1/messages' | '/v1/messages/count_tokens') => async (c: Context<Env>) => {
    const callerKey = c.get('forwardBearer');
    const apiKey = opts.apiKey ?? callerKey;
    if (!apiKey) {
      // open mode with no key sent: the caller must send one; a Veil key is never forwarded
      const sentKey = c.req.header('x-api-key') !== undefined || c.req.header('authorization') !== undefined;
      throw sentKey
        ? misconfigured('This Veil gateway uses API keys but has no VEIL_ANTHROPIC_UPSTREAM_API_KEY configured.')
        : missingUpstreamKey('Missing API key: send your Anthropic API key as "x-api-key", or configure VEIL_ANTHROPIC_UPSTREAM_API_KEY on the gateway.');
    }
    const req = await kit.sanitize(c, collectMessagesSlots, 'messages');
    const { s, controller } = req;
    const streaming = path === '/v1/messages' && (s.body as { stream?: unknown }).stream === true;

    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-api-key': apiKey,
      'anthropic-version': c.req.header('anthropic-version') ?? '2023-06-01',
    };
    const beta = c.req.header('anthropic-beta');
    if (beta) headers['anthropic-beta'] = beta;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, opts.timeoutMs);
    let response: Response;
    try {
      response = await doFetch(`${opts.baseURL.replace(/\/+$/, '')}${path}`, { method: 'POST', headers, body: JSON.stringify(s.body), signal: controller.signal });
    } catch (e) {
      clearTimeout(timer);
      if (c.req.raw.signal.aborted) return new Response(null, { status: 499 });
      throw upstreamFailure(e, timedOut);
    }
    try {
      await awaitAudit(s.audited, response);
    } catch (e) {
      clearTimeout(timer);
      throw e;
    }
    const pass = passHeaders(response.headers);
    const type = response.headers.get('content-type') ?? '';
    if (streaming && response.ok && response.body && type.includes('text/event-stream')) {
      clearTimeout(timer); // the idle timeout governs from here
      const out = kit.restoredStream(response.body, new MessagesStream(s.restorer), req);
      return new Response(out, { status: 200, headers: { ...pass, ...STREAM_HEADERS } });
    }
    let text: string;
    try {
      text = await response.text();
    } catch (e) {
      if (c.req.raw.signal.aborted) return new Response(null, { status: 499 });
      throw upstreamFailure(e, timedOut);
    } finally {
      clearTimeout(timer);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw upstreamBadResponse();
    }
    // errors pass as the upstream wrote them (they quote placeholders at most)
    if (response.ok) restoreMessage(json, s.restorer);
    return c.newResponse(JSON.stringify(json), response.status as 200, { ...pass, 'content-type': 'application/json' });
  };

  app.post('/v1/messages', handle('/v1/messages'));
  app.post('/v1/messages/count_tokens', handle('/v1/messages/count_tokens'));
}
