/**
 * AWS KMS master-key provider. Tenant KEKs are KMS data keys (GenerateDataKey AES_256) bound
 * to the tenant with EncryptionContext {veil_tenant: tenantId}; KMS keeps the master key.
 *
 * Every call has a per-attempt request timeout (default 5 s) and a small, deliberate retry
 * budget (default 3 attempts in all) so that a slow KMS makes requests fail closed quickly
 * instead of piling up. SDK errors are mapped to KeyProviderError codes with operator-facing
 * messages that contain no key material.
 */
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import { assertTenantId, KeyProviderError, roundTripCheck, type KeyProviderErrorCode, type MasterKeyProvider } from './provider.js';

export interface AwsKmsProviderOptions {
  /** KMS key id, key ARN, alias name (alias/…) or alias ARN of a symmetric ENCRYPT_DECRYPT key. */
  keyId: string;
  /** Default: the SDK's own resolution (AWS_REGION …), else 'us-east-1'. */
  region?: string;
  /** Custom endpoint (VPC endpoint, LocalStack, a test server). */
  endpoint?: string;
  /** Explicit credentials; default: the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Per-attempt request timeout in ms. Default 5000. */
  timeoutMs?: number;
  /** Attempts in all, first try included (1 = no retry). Default 3. */
  maxAttempts?: number;
  /**
   * Earlier KMS keys (VEIL_KMS_KEY_ID_PREVIOUS), still accepted by unwrapKek during a
   * master-key rotation: a KEK that `keyId` cannot decrypt (IncorrectKeyException) is tried
   * under each of them. Never used to wrap.
   */
  previousKeyIds?: readonly string[];
}

export const DEFAULT_KMS_TIMEOUT_MS = 5_000;
export const DEFAULT_KMS_MAX_ATTEMPTS = 3;

/** EncryptionContext key that binds a wrapped KEK to its tenant. */
export const TENANT_CONTEXT_KEY = 'veil_tenant';

type Op = 'GenerateDataKey' | 'Decrypt' | 'ReEncrypt' | 'Encrypt' | 'DescribeKey';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

/** Maps an error thrown by @aws-sdk/client-kms to a KeyProviderError. Exported for tests. */
export function mapKmsError(err: unknown, keyId: string, op: Op): KeyProviderError {
  if (err instanceof KeyProviderError) return err;
  const e = (err ?? {}) as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number } };
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const status = e.$metadata?.httpStatusCode;
  const mk = (c: KeyProviderErrorCode, msg: string) => new KeyProviderError(c, msg, { cause: err });
  const k = `KMS key ${keyId}`;

  switch (name) {
    case 'NotFoundException':
      return mk('not_found', `${k} was not found (${op}); check VEIL_KMS_KEY_ID and the region.`);
    case 'DisabledException':
      return mk('disabled', `${k} is disabled (${op}); enable it in KMS to read or write the vault.`);
    case 'KMSInvalidStateException':
      return mk('disabled', `${k} is not in a usable state (${op}), e.g. pending deletion or import.`);
    case 'InvalidKeyUsageException':
      return mk('disabled', `${k} cannot be used for ${op}; it must be a symmetric ENCRYPT_DECRYPT key.`);
    case 'InvalidCiphertextException':
      return mk(
        'invalid_ciphertext',
        `KMS rejected the wrapped tenant key (${op}): it is corrupt or was bound to another tenant.`,
      );
    case 'IncorrectKeyException':
      return mk(
        'invalid_ciphertext',
        `The wrapped tenant key was not encrypted under ${k} (${op}); the master key was changed or the data is foreign.`,
      );
    case 'AccessDeniedException':
    case 'UnrecognizedClientException':
    case 'InvalidSignatureException':
    case 'MissingAuthenticationTokenException':
    case 'IncompleteSignature':
    case 'ExpiredTokenException':
    case 'InvalidClientTokenId':
    case 'CredentialsProviderError':
      return mk('access_denied', `Access to ${k} was denied (${op}, ${name}); check the AWS credentials and the key policy.`);
    case 'ThrottlingException':
    case 'LimitExceededException':
    case 'TooManyRequestsException':
    case 'RequestLimitExceeded':
      return mk('throttled', `KMS throttled ${op} on ${k}; retries were exhausted.`);
    case 'TimeoutError':
    case 'AbortError':
    case 'RequestTimeout':
    case 'RequestTimeoutException':
      return mk('timeout', `KMS did not answer ${op} on ${k} in time.`);
    case 'DependencyTimeoutException':
      return mk('timeout', `KMS timed out internally on ${op} (${k}).`);
    case 'KMSInternalException':
    case 'KeyUnavailableException':
    case 'CustomKeyStoreInvalidStateException':
    case 'InternalFailure':
    case 'ServiceUnavailable':
      return mk('unavailable', `KMS is unavailable (${op}, ${name}).`);
  }
  if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT') {
    return mk('timeout', `KMS did not answer ${op} on ${k} in time.`);
  }
  if (NETWORK_CODES.has(code)) {
    return mk('unavailable', `KMS could not be reached (${op}, ${code}).`);
  }
  if (status === 429) return mk('throttled', `KMS throttled ${op} on ${k}; retries were exhausted.`);
  if (status === 401 || status === 403) return mk('access_denied', `Access to ${k} was denied (${op}).`);
  return mk('unavailable', `KMS call ${op} failed (${name || code || 'unknown error'}).`);
}

export function createAwsKmsProvider(opts: AwsKmsProviderOptions): MasterKeyProvider {
  if (typeof opts.keyId !== 'string' || opts.keyId.trim() === '') {
    throw new KeyProviderError('not_found', 'A KMS key id (VEIL_KMS_KEY_ID) is required for the aws key provider.');
  }
  const keyId = opts.keyId.trim();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_KMS_TIMEOUT_MS;
  const maxAttempts = opts.maxAttempts ?? DEFAULT_KMS_MAX_ATTEMPTS;

  const config: KMSClientConfig = {
    maxAttempts,
    retryMode: 'standard',
    requestHandler: {
      requestTimeout: timeoutMs,
      connectionTimeout: Math.min(timeoutMs, 3_000),
      throwOnRequestTimeout: true,
    },
  };
  if (opts.region !== undefined) config.region = opts.region;
  if (opts.endpoint !== undefined) config.endpoint = opts.endpoint;
  if (opts.credentials !== undefined) config.credentials = opts.credentials;
  const client = new KMSClient(config);

  // Backstop over all attempts and back-off: a hung connection can never hold a request.
  const overallMs = timeoutMs * maxAttempts + 5_000;

  async function call<T>(op: Op, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await fn(AbortSignal.timeout(overallMs));
    } catch (err) {
      throw mapKmsError(err, keyId, op);
    }
  }

  const context = (tenantId: string) => ({ [TENANT_CONTEXT_KEY]: tenantId });

  function requireBlob(b: Uint8Array | undefined, what: string, op: Op): Uint8Array {
    if (!(b instanceof Uint8Array) || b.length === 0) {
      throw new KeyProviderError('unavailable', `KMS answered ${op} without ${what}.`);
    }
    return b;
  }

  function requireKek(b: Uint8Array | undefined, op: Op): Uint8Array {
    const p = requireBlob(b, 'a plaintext key', op);
    if (p.length !== 32) {
      throw new KeyProviderError('invalid_ciphertext', `KMS returned a ${p.length}-byte key for ${op}; a tenant key is 32 bytes.`);
    }
    return p;
  }

  async function generateKek(tenantId: string): Promise<{ plaintext: Uint8Array; wrapped: Uint8Array }> {
    assertTenantId(tenantId);
    const out = await call('GenerateDataKey', (abortSignal) =>
      client.send(
        new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context(tenantId) }),
        { abortSignal },
      ),
    );
    return {
      plaintext: requireKek(out.Plaintext, 'GenerateDataKey'),
      wrapped: requireBlob(out.CiphertextBlob, 'a ciphertext blob', 'GenerateDataKey'),
    };
  }

  const previousIds = (opts.previousKeyIds ?? []).map((k) => k.trim()).filter((k) => k !== '' && k !== keyId);

  async function decryptUnder(kmsKeyId: string, tenantId: string, wrapped: Uint8Array): Promise<Uint8Array> {
    const out = await call('Decrypt', (abortSignal) =>
      client.send(
        new DecryptCommand({ CiphertextBlob: wrapped, KeyId: kmsKeyId, EncryptionContext: context(tenantId) }),
        { abortSignal },
      ),
    );
    return requireKek(out.Plaintext, 'Decrypt');
  }

  async function unwrapKek(tenantId: string, wrapped: Uint8Array): Promise<Uint8Array> {
    assertTenantId(tenantId);
    if (!(wrapped instanceof Uint8Array) || wrapped.length === 0) {
      throw new KeyProviderError('invalid_ciphertext', 'The wrapped tenant key is empty or not bytes.');
    }
    try {
      return await decryptUnder(keyId, tenantId, wrapped);
    } catch (first) {
      // During a master-key rotation a KEK may still be wrapped by a previous KMS key.
      if (!(first instanceof KeyProviderError && first.code === 'invalid_ciphertext')) throw first;
      for (const prev of previousIds) {
        try {
          return await decryptUnder(prev, tenantId, wrapped);
        } catch (e) {
          if (!(e instanceof KeyProviderError && e.code === 'invalid_ciphertext')) throw e;
        }
      }
      throw first;
    }
  }

  async function rewrapKek(tenantId: string, wrapped: Uint8Array): Promise<Uint8Array> {
    assertTenantId(tenantId);
    if (!(wrapped instanceof Uint8Array) || wrapped.length === 0) {
      throw new KeyProviderError('invalid_ciphertext', 'The wrapped tenant key is empty or not bytes.');
    }
    // No SourceKeyId: KMS reads it from the blob, so KEKs wrapped by a previous master key
    // are re-wrapped under the current one (master-key rotation).
    const out = await call('ReEncrypt', (abortSignal) =>
      client.send(
        new ReEncryptCommand({
          CiphertextBlob: wrapped,
          SourceEncryptionContext: context(tenantId),
          DestinationKeyId: keyId,
          DestinationEncryptionContext: context(tenantId),
        }),
        { abortSignal },
      ),
    );
    return requireBlob(out.CiphertextBlob, 'a ciphertext blob', 'ReEncrypt');
  }

  return {
    kind: 'aws',
    keyId,
    previousKeyIds: previousIds,
    generateKek,
    unwrapKek,
    rewrapKek,
    /**
     * A GenerateDataKey + Decrypt round trip: proves the key exists, is enabled and that the
     * credentials may use it for exactly what the vault needs (DescribeKey permission is not
     * required by a minimal key policy, so it is not used).
     */
    check: () =>
      roundTripCheck({ generateKek, unwrapKek }, () => new KeyProviderError('unavailable', `KMS key ${keyId} failed its start-up round trip.`)),
  };
}
