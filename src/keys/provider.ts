/**
 * Master-key providers: the root of Veil's key hierarchy
 *   master key (AWS KMS or local) → per-tenant KEK → per-tenant DEK versions → field ciphertext.
 * A provider only creates, unwraps and re-wraps tenant KEKs; it never sees field data.
 */

export interface MasterKeyProvider {
  readonly kind: 'local' | 'aws';
  /** Identifies the master key (local: 'local:' + short sha256 fingerprint of the key; aws: the KMS key id/ARN). Stored with wrapped keys. */
  readonly keyId: string;
  /** Earlier master keys still accepted for unwrapping during a master-key rotation (never used to wrap). */
  readonly previousKeyIds?: readonly string[];
  /** New tenant KEK: plaintext (32 bytes) and wrapped blob. AWS: GenerateDataKey(AES_256) with EncryptionContext {veil_tenant: tenantId}. */
  generateKek(tenantId: string): Promise<{ plaintext: Uint8Array; wrapped: Uint8Array }>;
  /** AWS: Decrypt with the same EncryptionContext. Local: AES-256-GCM under the master key, AAD = 'veil:kek:v1:' + tenantId. */
  unwrapKek(tenantId: string, wrapped: Uint8Array): Promise<Uint8Array>;
  /** Re-wrap under the current master key (AWS ReEncrypt; local: unwrap under any accepted key, wrap under the current one) — master-key rotation (src/jobs/master.ts). */
  rewrapKek(tenantId: string, wrapped: Uint8Array): Promise<Uint8Array>;
  /** Cheap check at start-up that the key is usable (AWS DescribeKey or a round trip). */
  check(): Promise<void>;
}

export type KeyProviderErrorCode =
  | 'not_found'
  | 'disabled'
  | 'invalid_ciphertext'
  | 'access_denied'
  | 'throttled'
  | 'timeout'
  | 'unavailable'
  | 'wrong_key';

/** Codes worth retrying later (the key service is busy or unreachable, not misconfigured). */
const TRANSIENT: ReadonlySet<KeyProviderErrorCode> = new Set(['throttled', 'timeout', 'unavailable']);

/**
 * A master-key operation failed. The message is written for an operator and never contains
 * key material, plaintext or tenant data; `cause` may hold the underlying SDK error.
 */
export class KeyProviderError extends Error {
  readonly code: KeyProviderErrorCode;
  /** True for throttled / timeout / unavailable: the same call may succeed later. */
  readonly transient: boolean;

  constructor(code: KeyProviderErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyProviderError';
    this.code = code;
    this.transient = TRANSIENT.has(code);
  }
}

/** Tenant ids are opaque ids; reject what cannot be one before it reaches a key service. */
export function assertTenantId(tenantId: unknown): asserts tenantId is string {
  if (typeof tenantId !== 'string' || tenantId.length === 0 || tenantId.length > 256) {
    throw new TypeError('tenantId must be a non-empty string of at most 256 characters.');
  }
}

/**
 * The start-up round trip both providers use as `check()`: a new KEK for a probe tenant must
 * unwrap to the same bytes; otherwise `failure()` is thrown. Both copies are zeroed.
 */
export async function roundTripCheck(
  provider: Pick<MasterKeyProvider, 'generateKek' | 'unwrapKek'>,
  failure: () => KeyProviderError,
): Promise<void> {
  const probe = '__veil_check__';
  const { plaintext, wrapped } = await provider.generateKek(probe);
  const back = await provider.unwrapKek(probe, wrapped);
  const ok = back.length === plaintext.length && back.every((b, i) => b === plaintext[i]);
  plaintext.fill(0);
  back.fill(0);
  if (!ok) throw failure();
}
