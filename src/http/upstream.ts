/**
 * The upstream LLM / embedding API, through the official `openai` client (so base URL, auth,
 * timeouts and error parsing behave as the SDK does). Responses are taken raw (`asResponse()`)
 * so every field, known or not, passes through untouched and streams are re-read byte by byte.
 */
import OpenAI from 'openai';
import type { Config } from '../core/config.js';
import { missingUpstreamKey, upstreamApiError, upstreamTimeout, upstreamUnreachable } from '../core/errors.js';

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
        throw missingUpstreamKey();
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
    return upstreamTimeout(e);
  }
  if (e instanceof OpenAI.APIConnectionError) {
    return upstreamUnreachable(e);
  }
  if (e instanceof OpenAI.APIError && typeof e.status === 'number') {
    const err = (e.error ?? {}) as { message?: unknown; type?: unknown; param?: unknown; code?: unknown };
    const message = typeof err.message === 'string' ? err.message : `The upstream API answered ${e.status}.`;
    const body = {
      message,
      type: typeof err.type === 'string' ? err.type : 'upstream_error',
      param: typeof err.param === 'string' ? err.param : null,
      code: typeof err.code === 'string' || typeof err.code === 'number' ? String(err.code) : null,
    };
    // Retry-After and rate-limit headers matter most on errors (429, 503)
    return upstreamApiError(e.status, body, e.headers instanceof Headers ? passthroughHeaders(e.headers) : {}, e);
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

const CAUSE_CLASSES: readonly (readonly [RegExp, string])[] = [
  [/^ECONNREFUSED$/, 'refused'],
  [/^(ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL)$/, 'dns'],
  [/^(ECONNRESET|EPIPE|ECONNABORTED|UND_ERR_SOCKET|UND_ERR_CLOSED|ERR_STREAM_PREMATURE_CLOSE)$/, 'reset'],
  [/^(ETIMEDOUT|ESOCKETTIMEDOUT|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT)$/, 'timeout'],
  [/^(EHOSTUNREACH|ENETUNREACH|ENETDOWN|EHOSTDOWN)$/, 'unreachable'],
  [/^EPROTO$|CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME_MISMATCH|ERR_OSSL/, 'tls'],
];

/**
 * Why a connection to the upstream failed, for logs: `refused`, `dns`, `tls`, `reset`,
 * `timeout`, `unreachable` or `other`, with the system error code (`ECONNREFUSED`…) when there
 * is one. Read from the `code` along the error's cause chain; codes and classes hold no input.
 */
export function connectionFailure(e: unknown): { reason: string; errno: string | null } {
  let cur: unknown = e;
  for (let depth = 0; depth < 8 && cur !== null && typeof cur === 'object'; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9_]{2,64}$/.test(code)) {
      for (const [re, reason] of CAUSE_CLASSES) if (re.test(code)) return { reason, errno: code };
      return { reason: 'other', errno: code };
    }
    if (cur instanceof OpenAI.APIConnectionTimeoutError) return { reason: 'timeout', errno: null };
    cur = (cur as { cause?: unknown }).cause;
  }
  return { reason: 'other', errno: null };
}
