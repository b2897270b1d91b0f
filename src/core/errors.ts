/**
 * One error type for the whole gateway, rendered in the OpenAI error shape
 * `{"error":{"message","type","param","code"}}`, and one table (code → status, type, retry
 * advice) with a factory per failure. Every error src/ sends is built here; messages must never
 * contain PII.
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

/** What every Veil error code means on the wire: one row per code (README "Error codes"). */
interface ErrorSpec {
  status: number;
  type: OpenAIErrorType;
  /** false: `x-should-retry: false` (retrying cannot help); unset: the SDK's own rule (5xx/429 retried). */
  retryable?: false;
}

const bad = { status: 400, type: 'invalid_request_error', retryable: false } as const;
const unavailable = { status: 503, type: 'server_error' } as const;

export const ERROR_TABLE = {
  invalid_json: bad,
  veil_unsupported_input: bad,
  veil_pii_in_path: bad,
  veil_nesting_too_deep: bad,
  veil_too_deep: bad,
  invalid_api_key: { status: 401, type: 'authentication_error', retryable: false },
  missing_api_key: { status: 401, type: 'authentication_error', retryable: false },
  veil_tenant_disabled: { status: 403, type: 'permission_error', retryable: false },
  veil_admin_required: { status: 403, type: 'permission_error', retryable: false },
  not_found: { status: 404, type: 'not_found_error', retryable: false },
  unknown_url: { status: 404, type: 'invalid_request_error', retryable: false },
  request_too_large: { status: 413, type: 'invalid_request_error', retryable: false },
  veil_misconfigured: { status: 500, type: 'server_error', retryable: false },
  veil_auth_not_configured: { status: 500, type: 'server_error', retryable: false },
  veil_internal_error: { status: 500, type: 'server_error' },
  upstream_unreachable: { status: 502, type: 'upstream_error' },
  upstream_bad_response: { status: 502, type: 'upstream_error' },
  upstream_timeout: { status: 504, type: 'upstream_error' },
  veil_detection_unavailable: unavailable,
  veil_detection_timeout: unavailable,
  veil_detection_busy: unavailable,
  veil_vault_unavailable: unavailable,
  veil_auth_unavailable: unavailable,
  veil_policy_unavailable: unavailable,
  veil_vault_integrity: { status: 503, type: 'server_error', retryable: false },
  veil_audit_unavailable: unavailable,
  veil_bad_collection: bad,
  veil_pii_in_id: bad,
  veil_vector_store_unavailable: unavailable,
  veil_pgvector_missing: { status: 503, type: 'server_error', retryable: false },
  veil_reveal_rate_limited: { status: 429, type: 'rate_limit_error', retryable: false },
  // in-band only: sent as `data: {"error":…}` after a 200 (the status is never on the wire)
  upstream_stream_error: { status: 502, type: 'upstream_error' },
  upstream_stream_truncated: { status: 502, type: 'upstream_error' },
  upstream_event_too_large: { status: 502, type: 'upstream_error' },
} as const satisfies Record<string, ErrorSpec>;

export type VeilErrorCode = keyof typeof ERROR_TABLE;

/** The one way a Veil error is made: status, type and retry advice come from {@link ERROR_TABLE}. */
export function veilError(
  code: VeilErrorCode,
  message: string,
  extra: { param?: string | null; cause?: unknown; headers?: Readonly<Record<string, string>> } = {},
): VeilError {
  const spec: ErrorSpec = ERROR_TABLE[code];
  return new VeilError(message, { status: spec.status, type: spec.type, code, retryable: spec.retryable, ...extra });
}

/** A malformed request with no code of its own (OpenAI's `code: null`): 400, never retried. */
export const badRequest = (message: string, param: string | null = null) =>
  new VeilError(message, { status: 400, type: 'invalid_request_error', param, code: null, retryable: false });

export const invalidJson = () =>
  veilError('invalid_json', 'We could not parse the JSON body of your request. Make sure it is valid JSON.');

/** Input Veil cannot inspect (token arrays): refused rather than forwarded unmasked. */
export const unsupportedInput = (message: string, param: string) => veilError('veil_unsupported_input', message, { param });

/** A tool schema or JSON arguments nested past the walkers' bound. */
export const nestingTooDeep = (param: string, max: number) =>
  veilError('veil_nesting_too_deep', `'${param}' is nested more than ${max} levels deep.`, { param });

export const unauthorized = (message = 'Invalid or missing API key.') => veilError('invalid_api_key', message);

/** Open mode and no upstream key from the caller; `message` names the header the caller's SDK uses and the setting. */
export const missingUpstreamKey = (
  message = 'Missing API key: send your upstream API key as "Authorization: Bearer …", or configure VEIL_UPSTREAM_API_KEY on the gateway.',
) => veilError('missing_api_key', message);

/** The key is valid but its tenant has been disabled (`veil tenants disable`). */
export const tenantDisabled = () =>
  veilError('veil_tenant_disabled', 'The tenant of this Veil API key is disabled; ask the gateway operator to enable it.');

export const adminRequired = (what: string) => veilError('veil_admin_required', `${what} needs an admin-role Veil API key.`);

export const notFound = (message: string) => veilError('not_found', message);

export const unknownUrl = (method: string, path: string) => veilError('unknown_url', `Unknown endpoint ${method} ${path}.`);

export const payloadTooLarge = (limit: number) =>
  veilError('request_too_large', `Request body is larger than the ${limit} byte limit.`);

export const tooDeep = (max: number) => veilError('veil_too_deep', `The JSON body nests deeper than the ${max}-level limit.`);

/** Detection failed: fail closed, nothing is sent upstream. */
export const detectionUnavailable = (cause?: unknown) =>
  veilError('veil_detection_unavailable', 'PII detection is unavailable; the request was not sent upstream.', { cause });

/** Detection did not finish within the request's deadline: fail closed, nothing is sent upstream. */
export const detectionTimeout = (ms: number) =>
  veilError('veil_detection_timeout', `PII detection did not finish within ${ms} ms; the request was not sent upstream.`);

/** The detection queue is full: fail closed at once (the SDK retries 503 with backoff). */
export const detectionBusy = () =>
  veilError('veil_detection_busy', 'PII detection is at capacity; the request was not sent upstream. Retry shortly.');

/** The vault (database or key service) failed: fail closed, nothing is sent upstream. */
export const vaultUnavailable = (cause?: unknown) =>
  veilError('veil_vault_unavailable', 'The Veil vault is unavailable; the request was not sent upstream.', { cause });

/** A stored value failed authentication: tampering or corruption. No value is returned. */
export const vaultIntegrity = () =>
  veilError(
    'veil_vault_integrity',
    'The Veil vault failed an integrity check: a stored value could not be authenticated (it was altered or corrupted); nothing was returned.',
  );

/** The audit trail could not be written: fail closed, nothing was decrypted or revealed. */
export const auditUnavailable = (cause?: unknown) =>
  veilError('veil_audit_unavailable', 'The Veil audit trail is unavailable; nothing was decrypted and the request was not sent upstream.', {
    cause,
  });

/** Too many values revealed by one API key in the configured window. */
export const revealRateLimited = (retryAfterS: number) =>
  veilError('veil_reveal_rate_limited', `Too many tokens revealed with this API key; retry in ${retryAfterS} s.`, {
    headers: { 'retry-after': String(retryAfterS) },
  });

/** The API-key store (database) failed during authentication: fail closed, nobody is let in. */
export const authUnavailable = (cause?: unknown) =>
  veilError('veil_auth_unavailable', 'Veil could not check the API key (its key store is unavailable); the request was not sent upstream.', {
    cause,
  });

/** The tenant's policy could not be read (database, or a stored document that no longer validates). */
export const policyUnavailable = (cause?: unknown) =>
  veilError('veil_policy_unavailable', "The tenant's Veil policy could not be read; the request was not sent upstream.", { cause });

/**
 * No way to authenticate callers is configured (Workers build with no `VEIL_API_KEY_HASHES` and
 * no `VEIL_OPEN_MODE=true`): fail closed, every request is refused, nothing is sent upstream.
 */
export const authNotConfigured = () =>
  veilError(
    'veil_auth_not_configured',
    'This Veil gateway has no API keys configured, so it refuses every request. Set VEIL_API_KEY_HASHES (or VEIL_OPEN_MODE=true for local development only).',
  );

/** The gateway's configuration cannot serve requests; `message` names the setting, never its value. */
export const misconfigured = (message: string) => veilError('veil_misconfigured', message);

/** A URL path parameter holds PII: not forwarded, not logged (see README "URL paths"). */
export const piiInPath = (types: readonly string[]) =>
  veilError(
    'veil_pii_in_path',
    `The URL path contains personal data (${types.join(', ')}); Veil does not forward it. Send personal data in the request body, where it is masked.`,
  );

export const upstreamTimeout = (cause?: unknown, message = 'The upstream API did not answer in time.') =>
  veilError('upstream_timeout', message, { cause });
export const upstreamUnreachable = (cause?: unknown) => veilError('upstream_unreachable', 'The upstream API could not be reached.', { cause });
export const upstreamBadResponse = () => veilError('upstream_bad_response', 'The upstream API sent a response that is not JSON.');

/** In-band stream failures (after the 200): rendered as an SSE `data: {"error":…}` event. */
export const upstreamStreamError = () =>
  veilError('upstream_stream_error', 'The connection to the upstream API failed during the stream.');
export const upstreamStreamTruncated = () =>
  veilError('upstream_stream_truncated', 'The upstream stream ended before it was complete.');
export const upstreamEventTooLarge = (limit: number) =>
  veilError('upstream_event_too_large', `The upstream API sent an event larger than ${limit} bytes; the stream was ended.`);

/**
 * An error the upstream API answered: its status, type, param and code as it sent them (the
 * upstream's codes are not Veil's and not in the table), with its rate-limit headers.
 */
export const upstreamApiError = (
  status: number,
  body: { message: string; type: string; param: string | null; code: string | null },
  headers: Readonly<Record<string, string>>,
  cause: unknown,
) => new VeilError(body.message, { status, type: body.type, param: body.param, code: body.code, cause, headers });

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

/**
 * Why an aborted operation stopped: the signal's reason when it is an Error (a deadline's
 * VeilError, say), otherwise an `AbortError` (what fetch and the SDKs recognize as "cancelled").
 */
export function abortError(signal?: AbortSignal): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const e = new Error('The operation was aborted.');
  e.name = 'AbortError';
  return e;
}

export function isVeilError(e: unknown): e is VeilError {
  return e instanceof VeilError;
}

/** The upstream embeddings API answered, but not with one usable vector per input (RAG collections). */
export const embeddingUnusable = (why: string) =>
  veilError('upstream_bad_response', `The upstream embeddings API returned an unusable answer (${why}); nothing was stored.`);

/** A collection name outside `[A-Za-z0-9_.-]{1,64}`. */
export const badCollection = () => veilError('veil_bad_collection', 'A collection name is 1-64 letters, digits, "_", "-" or ".".', { param: 'name' });

/** A document id that holds an identifier: ids are stored as given, so it is refused. */
export const piiInId = () =>
  veilError('veil_pii_in_id', 'A document id holds personal data (an email, phone, card or other identifier); use an opaque id.', { param: 'documents.id' });

/** Collections on a PostgreSQL without the pgvector extension. */
export const pgvectorMissing = (cause?: unknown) =>
  veilError(
    'veil_pgvector_missing',
    'Collections need the pgvector extension ("vector"), and this PostgreSQL does not have it. Install pgvector (every managed PostgreSQL offers it: CREATE EXTENSION vector) or use the embedded PGlite database.',
    { cause },
  );

export const vectorStoreUnavailable = (cause?: unknown) =>
  veilError('veil_vector_store_unavailable', 'The Veil vector store is unavailable; nothing was stored or searched.', { cause });

export const internalError = (cause?: unknown) => veilError('veil_internal_error', 'Internal error in the Veil gateway.', { cause });
