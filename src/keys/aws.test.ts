/**
 * The AWS KMS provider through the real @aws-sdk/client-kms, over real HTTP, against
 * test/fakes/kms-server.ts: a loopback stand-in for the network service that speaks KMS's
 * JSON 1.1 wire protocol and really encrypts (it does not verify SigV4 signatures).
 */
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.js';
import { silentLogger } from '../core/types.js';
import { createAwsKmsProvider, mapKmsError, type AwsKmsProviderOptions } from './aws.js';
import { toBase64, toHex } from './crypto.js';
import { KeyProviderError, type MasterKeyProvider } from './provider.js';
import { createMasterKeyProvider } from './master-key.node.js';
import { startFakeKms, type FakeKms } from '../../test/fakes/kms-server.js';

const credentials = { accessKeyId: 'AKIDVEILTEST', secretAccessKey: 'veil-test-secret' };

let kms: FakeKms;
let keyA: string;
let keyB: string;

beforeAll(async () => {
  kms = await startFakeKms();
  keyA = kms.createKey();
  keyB = kms.createKey();
});
afterAll(async () => {
  await kms.close();
});
afterEach(() => {
  kms.setDelay(0);
  kms.enableKey(keyA);
});

function provider(keyId: string, extra: Partial<AwsKmsProviderOptions> = {}): MasterKeyProvider {
  return createAwsKmsProvider({ keyId, region: 'us-east-1', endpoint: kms.url, credentials, ...extra });
}

async function failure(p: Promise<unknown>): Promise<KeyProviderError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KeyProviderError);
  return e as KeyProviderError;
}

const snapshot = () => ({ ...kms.calls });
const delta = (before: Record<string, number>, op: string) => (kms.calls[op] ?? 0) - (before[op] ?? 0);

describe('AWS KMS provider (real SDK, loopback KMS stand-in)', () => {
  it('GenerateDataKey / Decrypt round trip with EncryptionContext {veil_tenant}', async () => {
    const p = provider(keyA);
    expect(p.kind).toBe('aws');
    expect(p.keyId).toBe(keyA);
    const before = kms.requests.length;
    const { plaintext, wrapped } = await p.generateKek('tenant-1');
    expect(plaintext.length).toBe(32);
    expect(wrapped.length).toBeGreaterThan(32 + 16);
    expect(toHex(await p.unwrapKek('tenant-1', wrapped))).toBe(toHex(plaintext));

    const sent = kms.requests.slice(before);
    expect(sent.map((r) => r.op)).toEqual(['GenerateDataKey', 'Decrypt']);
    expect(sent.every((r) => r.authorization)).toBe(true);
    expect(sent[0]!.body).toEqual({ KeyId: keyA, KeySpec: 'AES_256', EncryptionContext: { veil_tenant: 'tenant-1' } });
    expect(sent[1]!.body).toEqual({
      CiphertextBlob: toBase64(wrapped),
      KeyId: keyA,
      EncryptionContext: { veil_tenant: 'tenant-1' },
    });
  });

  it('accepts the key ARN as key id', async () => {
    const p = provider(kms.arnOf(keyA));
    const { plaintext, wrapped } = await p.generateKek('t');
    expect(toHex(await provider(keyA).unwrapKek('t', wrapped))).toBe(toHex(plaintext));
  });

  it('binds the KEK to the tenant: another tenant id gives invalid_ciphertext', async () => {
    const p = provider(keyA);
    const { wrapped } = await p.generateKek('tenant-1');
    const e = await failure(p.unwrapKek('tenant-2', wrapped));
    expect(e.code).toBe('invalid_ciphertext');
    expect(e.message).toMatch(/corrupt or was bound to another tenant/);
  });

  it('a tampered blob gives invalid_ciphertext', async () => {
    const p = provider(keyA);
    const { wrapped } = await p.generateKek('t');
    const bad = wrapped.slice();
    bad[bad.length - 1]! ^= 1;
    expect((await failure(p.unwrapKek('t', bad))).code).toBe('invalid_ciphertext');
    expect((await failure(p.unwrapKek('t', Uint8Array.of(1, 2, 3)))).code).toBe('invalid_ciphertext');
  });

  it('a blob of another KMS key is refused (IncorrectKeyException → invalid_ciphertext)', async () => {
    const { wrapped } = await provider(keyB).generateKek('t');
    const e = await failure(provider(keyA).unwrapKek('t', wrapped));
    expect(e.code).toBe('invalid_ciphertext');
    expect(e.cause).toMatchObject({ name: 'IncorrectKeyException' });
  });

  it('ReEncrypt: rewrap under the same key, and master rotation from key A to key B', async () => {
    const a = provider(keyA);
    const { plaintext, wrapped } = await a.generateKek('t');
    const same = await a.rewrapKek('t', wrapped);
    expect(toHex(same)).not.toBe(toHex(wrapped));
    expect(toHex(await a.unwrapKek('t', same))).toBe(toHex(plaintext));

    const b = provider(keyB);
    const before = kms.requests.length;
    const moved = await b.rewrapKek('t', wrapped);
    expect(kms.requests[before]!.body).toEqual({
      CiphertextBlob: toBase64(wrapped),
      SourceEncryptionContext: { veil_tenant: 't' },
      DestinationKeyId: keyB,
      DestinationEncryptionContext: { veil_tenant: 't' },
    });
    expect(toHex(await b.unwrapKek('t', moved))).toBe(toHex(plaintext));
    expect((await failure(a.unwrapKek('t', moved))).code).toBe('invalid_ciphertext');
    // The tenant binding survives ReEncrypt.
    expect((await failure(b.rewrapKek('other', wrapped))).code).toBe('invalid_ciphertext');
  });

  it('unknown key → not_found', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const e = await failure(provider(missing).generateKek('t'));
    expect(e.code).toBe('not_found');
    expect(e.message).toBe(`KMS key ${missing} was not found (GenerateDataKey); check VEIL_KMS_KEY_ID and the region.`);
    expect((await failure(provider(missing).check())).code).toBe('not_found');
  });

  it('disabled key → disabled, for generate, unwrap, rewrap and check', async () => {
    const p = provider(keyA);
    const { wrapped } = await p.generateKek('t');
    kms.disableKey(keyA);
    const e = await failure(p.generateKek('t'));
    expect(e.code).toBe('disabled');
    expect(e.message).toBe(`KMS key ${keyA} is disabled (GenerateDataKey); enable it in KMS to read or write the vault.`);
    expect((await failure(p.unwrapKek('t', wrapped))).code).toBe('disabled');
    expect((await failure(p.rewrapKek('t', wrapped))).code).toBe('disabled');
    expect((await failure(p.check())).code).toBe('disabled');
    kms.enableKey(keyA);
    await p.check();
  });

  it('access denied → access_denied (not retried)', async () => {
    const before = snapshot();
    kms.failNext(1, 'AccessDeniedException');
    const e = await failure(provider(keyA).generateKek('t'));
    expect(e.code).toBe('access_denied');
    expect(e.transient).toBe(false);
    expect(delta(before, 'GenerateDataKey')).toBe(1);
  });

  it('throttling is retried up to maxAttempts, then → throttled', async () => {
    const p = provider(keyA, { maxAttempts: 3 });
    let before = snapshot();
    kms.throttleNext(2);
    const ok = await p.generateKek('t');
    expect(ok.plaintext.length).toBe(32);
    expect(delta(before, 'GenerateDataKey')).toBe(3);

    before = snapshot();
    kms.throttleNext(3);
    const e = await failure(p.generateKek('t'));
    expect(e.code).toBe('throttled');
    expect(e.transient).toBe(true);
    expect(delta(before, 'GenerateDataKey')).toBe(3);
  });

  it('a KMS internal error is retried then → unavailable', async () => {
    const before = snapshot();
    kms.failNext(2, 'KMSInternalException', 500);
    const e = await failure(provider(keyA, { maxAttempts: 2 }).generateKek('t'));
    expect(e.code).toBe('unavailable');
    expect(delta(before, 'GenerateDataKey')).toBe(2);
  });

  it('a slow KMS → timeout after maxAttempts × timeoutMs, not after the server answers', async () => {
    const p = provider(keyA, { timeoutMs: 250, maxAttempts: 2 });
    const { wrapped } = await p.generateKek('t');
    kms.setDelay(3_000);
    const before = snapshot();
    const t0 = performance.now();
    const e = await failure(p.unwrapKek('t', wrapped));
    const ms = performance.now() - t0;
    expect(e.code).toBe('timeout');
    expect(e.transient).toBe(true);
    expect(delta(before, 'Decrypt')).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(500);
    expect(ms).toBeLessThan(2_500);
  });

  it('an unreachable endpoint → unavailable', async () => {
    // A port that was just free: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const p = createAwsKmsProvider({
      keyId: keyA,
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials,
      maxAttempts: 1,
    });
    const e = await failure(p.generateKek('t'));
    expect(e.code).toBe('unavailable');
    expect(e.message).toBe('KMS could not be reached (GenerateDataKey, ECONNREFUSED).');
  });

  it('check() does a GenerateDataKey + Decrypt round trip', async () => {
    const before = snapshot();
    await provider(keyA).check();
    expect(delta(before, 'GenerateDataKey')).toBe(1);
    expect(delta(before, 'Decrypt')).toBe(1);
  });

  it('error messages never contain key material', async () => {
    const p = provider(keyA);
    const { plaintext, wrapped } = await p.generateKek('t');
    const e = await failure(p.unwrapKek('u', wrapped));
    const text = `${e.message} ${e.stack}`;
    expect(text).not.toContain(toBase64(plaintext));
    expect(text).not.toContain(toBase64(wrapped));
    expect(text).not.toContain(credentials.secretAccessKey);
  });

  it('createMasterKeyProvider builds the aws provider from config (credentials from the default chain)', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
    try {
      const cfg = loadConfig({ VEIL_KEY_PROVIDER: 'aws', VEIL_KMS_KEY_ID: keyA, VEIL_KMS_ENDPOINT: kms.url });
      const p = await createMasterKeyProvider(cfg, silentLogger, { AWS_REGION: 'eu-west-1' });
      expect(p.kind).toBe('aws');
      expect(p.keyId).toBe(keyA);
      await p.check();
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });
});

describe('the KMS stand-in speaks the wire protocol', () => {
  it('requires the Authorization header and answers errors as JSON 1.1 with __type', async () => {
    const res = await fetch(kms.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.DescribeKey' },
      body: JSON.stringify({ KeyId: keyA }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    expect(await res.json()).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
  });

  it('DescribeKey and CreateKey answer KeyMetadata', async () => {
    const post = async (op: string, body: unknown) => {
      const res = await fetch(kms.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': `TrentService.${op}`,
          authorization: 'AWS4-HMAC-SHA256 Credential=test (not verified by the stand-in)',
        },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { KeyMetadata: Record<string, unknown> } };
    };
    const created = await post('CreateKey', {});
    expect(created.status).toBe(200);
    const id = created.body.KeyMetadata.KeyId as string;
    const d = await post('DescribeKey', { KeyId: id });
    expect(d.body.KeyMetadata).toMatchObject({ KeyId: id, Enabled: true, KeyState: 'Enabled', KeyUsage: 'ENCRYPT_DECRYPT' });
    kms.disableKey(id);
    expect((await post('DescribeKey', { KeyId: id })).body.KeyMetadata).toMatchObject({ Enabled: false, KeyState: 'Disabled' });
    expect((await post('DescribeKey', { KeyId: 'nope' })).body).toMatchObject({ __type: 'NotFoundException' });
  });
});

describe('mapKmsError', () => {
  const cases: Array<[unknown, string]> = [
    [{ name: 'NotFoundException' }, 'not_found'],
    [{ name: 'DisabledException' }, 'disabled'],
    [{ name: 'KMSInvalidStateException' }, 'disabled'],
    [{ name: 'InvalidCiphertextException' }, 'invalid_ciphertext'],
    [{ name: 'IncorrectKeyException' }, 'invalid_ciphertext'],
    [{ name: 'AccessDeniedException' }, 'access_denied'],
    [{ name: 'UnrecognizedClientException' }, 'access_denied'],
    [{ name: 'ThrottlingException' }, 'throttled'],
    [{ name: 'LimitExceededException' }, 'throttled'],
    [{ name: 'TimeoutError' }, 'timeout'],
    [{ name: 'AbortError' }, 'timeout'],
    [{ name: 'Error', code: 'ETIMEDOUT' }, 'timeout'],
    [{ name: 'Error', code: 'ECONNRESET' }, 'unavailable'],
    [{ name: 'Error', code: 'ENOTFOUND' }, 'unavailable'],
    [{ name: 'KMSInternalException' }, 'unavailable'],
    [{ name: 'SomethingNew', $metadata: { httpStatusCode: 429 } }, 'throttled'],
    [{ name: 'SomethingNew' }, 'unavailable'],
    [undefined, 'unavailable'],
  ];
  it.each(cases)('%o → %s', (err, code) => {
    const e = mapKmsError(err, 'k', 'Decrypt');
    expect(e).toBeInstanceOf(KeyProviderError);
    expect(e.code).toBe(code);
  });
});
