import OpenAI from 'openai';
import type { Config } from '../core/config.js';
import { VeilError } from '../core/errors.js';

/**
 * The upstream LLM / embedding API, through the official `openai` client (so base URL, auth,
 * timeouts and error parsing behave as the SDK does). Responses are taken raw (`asResponse()`)
 * so every field, known or not, passes through untouched and streams are re-read byte by byte.
 */
export interface UpstreamOptions {
  readonly baseURL: string;
  /** When set, every call uses it; otherwise the caller's bearer token is forwarded (open mode). */
  readonly apiKey?: string | undefined;
  readonly timeoutMs: number;
  /**
   * Retries by the gateway itself. Default 0 on purpose: the caller's own SDK already retries
   * 408/409/429/5xx (the status passes through), and retrying here too would multiply attempts
   * and hold a streaming client's connection open without output.
   */
  readonly maxRetries: number;
  /** Injected for tests and for runtimes with their own fetch. */
  readonly fetch?: typeof fetch;
}

export interface Upstream {
  /** A client for this request; `callerBearer` is used only when no upstream key is configured. */
  client(callerBearer: string | null): OpenAI;
  readonly forwardsCallerKey: boolean;
}

export function createUpstream(opts: UpstreamOptions): Upstream {
  const make = (apiKey: string) =>
    new OpenAI({
      apiKey,
      baseURL: opts.baseURL,
      timeout: opts.timeoutMs,
      maxRetries: opts.maxRetries,
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
  const fixed = opts.apiKey ? make(opts.apiKey) : null;
  return {
    forwardsCallerKey: fixed === null,
    client(callerBearer) {
      if (fixed) return fixed;
      if (!callerBearer) {
        throw new VeilError(
          'Missing API key: send your upstream API key as "Authorization: Bearer …", or configure VEIL_UPSTREAM_API_KEY on the gateway.',
          { status: 401, type: 'authentication_error', code: 'missing_api_key', retryable: false },
        );
      }
      return make(callerBearer);
    },
  };
}

/** The upstream as configured by the environment; runtimes pass their own `fetch` if they have a faster one. */
export function createUpstreamFromConfig(config: Config, fetchImpl?: typeof fetch): Upstream {
  return createUpstream({
    baseURL: config.VEIL_UPSTREAM_URL,
    apiKey: config.VEIL_UPSTREAM_API_KEY,
    timeoutMs: config.VEIL_UPSTREAM_TIMEOUT_MS,
    maxRetries: config.VEIL_UPSTREAM_MAX_RETRIES,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
}

/** Thrown when the caller went away; nothing is sent back. */
export class ClientAbortedError extends Error {
  constructor() {
    super('client aborted');
    this.name = 'ClientAbortedError';
  }
}

/** Upstream failures in the OpenAI error shape, with the upstream's status where it sent one. */
export function mapUpstreamError(e: unknown): Error {
  if (e instanceof OpenAI.APIUserAbortError) return new ClientAbortedError();
  if (e instanceof OpenAI.APIConnectionTimeoutError) {
    return new VeilError('The upstream API did not answer in time.', {
      status: 504,
      type: 'upstream_error',
      code: 'upstream_timeout',
      cause: e,
    });
  }
  if (e instanceof OpenAI.APIConnectionError) {
    return new VeilError('The upstream API could not be reached.', {
      status: 502,
      type: 'upstream_error',
      code: 'upstream_unreachable',
      cause: e,
    });
  }
  if (e instanceof OpenAI.APIError && typeof e.status === 'number') {
    const err = (e.error ?? {}) as { message?: unknown; type?: unknown; param?: unknown; code?: unknown };
    const message = typeof err.message === 'string' ? err.message : `The upstream API answered ${e.status}.`;
    return new VeilError(message, {
      status: e.status,
      type: typeof err.type === 'string' ? err.type : 'upstream_error',
      param: typeof err.param === 'string' ? err.param : null,
      code: typeof err.code === 'string' || typeof err.code === 'number' ? String(err.code) : null,
      cause: e,
    });
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** Headers of the upstream response worth passing to the caller. */
export function passthroughHeaders(from: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  from.forEach((value, key) => {
    const k = key.toLowerCase();
    if (k.startsWith('x-ratelimit-') || k === 'openai-processing-ms' || k === 'openai-model' || k === 'openai-version' || k === 'retry-after') {
      out[k] = value;
    }
  });
  const id = from.get('x-request-id');
  if (id) out['x-upstream-request-id'] = id;
  return out;
}
