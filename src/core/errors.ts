/**
 * One error type for the whole gateway, rendered in the OpenAI error shape
 * `{"error":{"message","type","param","code"}}`. Messages must never contain PII.
 */

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'upstream_error';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface VeilErrorInit {
  status: number;
  type: OpenAIErrorType | string;
  code?: string | null;
  param?: string | null;
  /** When false the gateway sends `x-should-retry: false` so the SDK does not retry. */
  retryable?: boolean;
  cause?: unknown;
  /** Response headers that go with the error (the upstream's Retry-After, rate-limit headers…). */
  headers?: Readonly<Record<string, string>>;
}

export class VeilError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  readonly retryable: boolean | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(message: string, init: VeilErrorInit) {
    super(message, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'VeilError';
    this.status = init.status;
    this.type = init.type;
    this.code = init.code ?? null;
    this.param = init.param ?? null;
    this.retryable = init.retryable;
    this.headers = init.headers ?? {};
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new VeilError(message, { status: 400, type: 'invalid_request_error', param, code, retryable: false });

export const unauthorized = (message = 'Invalid or missing API key.') =>
  new VeilError(message, { status: 401, type: 'authentication_error', code: 'invalid_api_key', retryable: false });

export const forbidden = (message: string, code: string | null = 'forbidden') =>
  new VeilError(message, { status: 403, type: 'permission_error', code, retryable: false });

export const notFound = (message: string) =>
  new VeilError(message, { status: 404, type: 'not_found_error', code: 'not_found', retryable: false });

export const payloadTooLarge = (limit: number) =>
  new VeilError(`Request body is larger than the ${limit} byte limit.`, {
    status: 413,
    type: 'invalid_request_error',
    code: 'request_too_large',
    retryable: false,
  });

export const tooDeep = (max: number) =>
  new VeilError(`The JSON body nests deeper than the ${max}-level limit.`, {
    status: 400,
    type: 'invalid_request_error',
    code: 'veil_too_deep',
    retryable: false,
  });

/** Detection failed: fail closed, nothing is sent upstream. */
export const detectionUnavailable = (cause?: unknown) =>
  new VeilError('PII detection is unavailable; the request was not sent upstream.', {
    status: 503,
    type: 'server_error',
    code: 'veil_detection_unavailable',
    cause,
  });

/** Detection did not finish within the request's deadline: fail closed, nothing is sent upstream. */
export const detectionTimeout = (ms: number) =>
  new VeilError(`PII detection did not finish within ${ms} ms; the request was not sent upstream.`, {
    status: 503,
    type: 'server_error',
    code: 'veil_detection_timeout',
  });

/** The detection queue is full: fail closed at once (the SDK retries 503 with backoff). */
export const detectionBusy = () =>
  new VeilError('PII detection is at capacity; the request was not sent upstream. Retry shortly.', {
    status: 503,
    type: 'server_error',
    code: 'veil_detection_busy',
  });

/** The vault (database or key service) failed: fail closed, nothing is sent upstream. */
export const vaultUnavailable = (cause?: unknown, code = 'veil_vault_unavailable') =>
  new VeilError('The Veil vault is unavailable; the request was not sent upstream.', {
    status: 503,
    type: 'server_error',
    code,
    cause,
  });

/**
 * No way to authenticate callers is configured (Workers build with no `VEIL_API_KEY_HASHES` and
 * no `VEIL_OPEN_MODE=true`): fail closed, every request is refused, nothing is sent upstream.
 */
export const authNotConfigured = () =>
  new VeilError(
    'This Veil gateway has no API keys configured, so it refuses every request. Set VEIL_API_KEY_HASHES (or VEIL_OPEN_MODE=true for local development only).',
    { status: 500, type: 'server_error', code: 'veil_auth_not_configured', retryable: false },
  );

/** A URL path parameter holds PII: not forwarded, not logged (see README "URL paths"). */
export const piiInPath = (types: readonly string[]) =>
  new VeilError(
    `The URL path contains personal data (${types.join(', ')}); Veil does not forward it. Send personal data in the request body, where it is masked.`,
    { status: 400, type: 'invalid_request_error', code: 'veil_pii_in_path', retryable: false },
  );

/**
 * Why `/readyz` answers 503: a short machine-readable `reason` (sent as the response's
 * `reason` field; no secrets, no values) and an operator message (logged, not sent).
 */
export class NotReadyError extends Error {
  constructor(
    readonly reason: 'database_unreachable' | 'upstream_api_key_missing' | (string & {}),
    message: string,
  ) {
    super(message);
    this.name = 'NotReadyError';
  }
}

/** The audit trail could not be written: fail closed, nothing was decrypted or revealed. */
export const auditUnavailable = (cause?: unknown) =>
  new VeilError('The Veil audit trail is unavailable; nothing was decrypted and the request was not sent upstream.', {
    status: 503,
    type: 'server_error',
    code: 'veil_audit_unavailable',
    cause,
  });

/** Too many values revealed by one API key in the configured window. */
export const revealRateLimited = (retryAfterS: number) =>
  new VeilError(`Too many tokens revealed with this API key; retry in ${retryAfterS} s.`, {
    status: 429,
    type: 'rate_limit_error',
    code: 'veil_reveal_rate_limited',
    retryable: false,
  });

export function isVeilError(e: unknown): e is VeilError {
  return e instanceof VeilError;
}

export function internalError(cause?: unknown): VeilError {
  return new VeilError('Internal error in the Veil gateway.', {
    status: 500,
    type: 'server_error',
    code: 'veil_internal_error',
    cause,
  });
}
