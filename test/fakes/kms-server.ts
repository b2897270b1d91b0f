/**
 * A stand-in for AWS KMS on loopback, for tests: a node:http server that speaks KMS's wire
 * protocol (AWS JSON 1.1: POST /, `X-Amz-Target: TrentService.<Operation>`,
 * `Content-Type: application/x-amz-json-1.1`, base64 blobs, errors as
 * `{"__type":"NotFoundException","message":"…"}` with HTTP 400), so the real
 * @aws-sdk/client-kms is exercised end to end over real HTTP.
 *
 * It really encrypts: every key has a 32-byte secret held in memory; ciphertext blobs are
 *   'FKMS' | len(keyId) | keyId | IV (12) | AES-256-GCM ct||tag
 * with the EncryptionContext (canonical, sorted JSON) as AAD, so a wrong context or a
 * tampered blob fails with InvalidCiphertextException, and the blob names its key like real
 * KMS blobs do. It uses node:crypto on purpose, independent of src/keys/crypto.ts.
 *
 * It does NOT verify SigV4 signatures (that is AWS's job, and the SDK's signer is not under
 * test here); it only requires the Authorization header to be present, like KMS does before
 * checking it (MissingAuthenticationTokenException otherwise).
 *
 * Operations: CreateKey, DescribeKey, GenerateDataKey, Encrypt, Decrypt, ReEncrypt.
 * Test knobs: disable/enable a key, fail or throttle the next N calls, delay every response,
 * and count calls per operation.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const FAKE_ACCOUNT = '111122223333';
export const FAKE_REGION = 'us-east-1';

interface FakeKey {
  id: string;
  arn: string;
  secret: Buffer;
  enabled: boolean;
  created: number;
}

class KmsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface FakeKms {
  /** Endpoint URL for the SDK's `endpoint` option, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Creates an enabled symmetric key; returns its key id (a UUID). */
  createKey(): string;
  /** The key's ARN (the SDK and the provider accept both). */
  arnOf(id: string): string;
  disableKey(id: string): void;
  enableKey(id: string): void;
  /** The next `n` calls (any operation) fail with ThrottlingException. */
  throttleNext(n: number): void;
  /** The next `n` calls fail with the given KMS error type and HTTP status. */
  failNext(n: number, type: string, status?: number): void;
  /** Delay every response by `ms` (0 to stop). */
  setDelay(ms: number): void;
  /** Calls received per operation (throttled and failed ones included). */
  calls: Record<string, number>;
  /** Every request body received, in order, with its operation. */
  requests: Array<{ op: string; body: Record<string, unknown>; authorization: boolean }>;
  close(): Promise<void>;
}

function canonicalContext(ctx: unknown): Buffer {
  if (ctx === undefined || ctx === null) return Buffer.alloc(0);
  if (typeof ctx !== 'object' || Array.isArray(ctx)) throw new KmsFault('ValidationException', 'EncryptionContext must be a map');
  const entries = Object.entries(ctx as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [, v] of entries) if (typeof v !== 'string') throw new KmsFault('ValidationException', 'EncryptionContext values must be strings');
  return entries.length === 0 ? Buffer.alloc(0) : Buffer.from(JSON.stringify(entries), 'utf8');
}

function b64(s: unknown, field: string): Buffer {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    throw new KmsFault('ValidationException', `${field} must be a base64 blob`);
  }
  return Buffer.from(s, 'base64');
}

export async function startFakeKms(): Promise<FakeKms> {
  const keys = new Map<string, FakeKey>();
  const calls: Record<string, number> = {};
  const requests: FakeKms['requests'] = [];
  let delayMs = 0;
  const pendingFailures: Array<{ type: string; status: number }> = [];
  const timers = new Set<NodeJS.Timeout>();

  function findKey(ref: unknown): FakeKey {
    if (typeof ref !== 'string' || ref === '') throw new KmsFault('ValidationException', 'KeyId is required');
    const id = ref.startsWith('arn:') ? ref.slice(ref.lastIndexOf('/') + 1) : ref;
    const k = keys.get(id);
    if (!k || (ref.startsWith('arn:') && k.arn !== ref)) throw new KmsFault('NotFoundException', `Key '${ref}' does not exist`);
    return k;
  }

  function usable(k: FakeKey): FakeKey {
    if (!k.enabled) throw new KmsFault('DisabledException', `${k.arn} is disabled.`);
    return k;
  }

  function seal(k: FakeKey, plaintext: Buffer, ctx: unknown): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', k.secret, iv, { authTagLength: 16 });
    c.setAAD(canonicalContext(ctx));
    const ct = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    const idBytes = Buffer.from(k.id, 'utf8');
    return Buffer.concat([Buffer.from('FKMS'), Buffer.of(idBytes.length), idBytes, iv, ct]);
  }

  /** Returns the key named in the blob and the plaintext. */
  function open(blob: Buffer, ctx: unknown, expectedKeyRef: unknown): { key: FakeKey; plaintext: Buffer } {
    const invalid = () => new KmsFault('InvalidCiphertextException', '');
    if (blob.length < 5 || blob.subarray(0, 4).toString('latin1') !== 'FKMS') throw invalid();
    const idLen = blob[4]!;
    if (blob.length < 5 + idLen + 12 + 16) throw invalid();
    const id = blob.subarray(5, 5 + idLen).toString('utf8');
    const key = keys.get(id);
    if (!key) throw invalid();
    if (expectedKeyRef !== undefined) {
      const expected = findKey(expectedKeyRef);
      if (expected.id !== key.id) {
        throw new KmsFault('IncorrectKeyException', 'The key ID in the request does not identify a KMS key that can perform this operation.');
      }
    }
    usable(key);
    const iv = blob.subarray(5 + idLen, 5 + idLen + 12);
    const body = blob.subarray(5 + idLen + 12);
    const aad = canonicalContext(ctx);
    try {
      const d = createDecipheriv('aes-256-gcm', key.secret, iv, { authTagLength: 16 });
      d.setAAD(aad);
      d.setAuthTag(body.subarray(body.length - 16));
      const plaintext = Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
      return { key, plaintext };
    } catch {
      throw invalid();
    }
  }

  function metadata(k: FakeKey) {
    return {
      AWSAccountId: FAKE_ACCOUNT,
      KeyId: k.id,
      Arn: k.arn,
      CreationDate: k.created,
      Enabled: k.enabled,
      KeyState: k.enabled ? 'Enabled' : 'Disabled',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      KeyManager: 'CUSTOMER',
      Origin: 'AWS_KMS',
      MultiRegion: false,
      Description: '',
    };
  }

  function createKey(): string {
    const id = randomUUID();
    keys.set(id, {
      id,
      arn: `arn:aws:kms:${FAKE_REGION}:${FAKE_ACCOUNT}:key/${id}`,
      secret: randomBytes(32),
      enabled: true,
      created: Math.floor(Date.now() / 1000),
    });
    return id;
  }

  function handle(op: string, body: Record<string, unknown>): unknown {
    switch (op) {
      case 'CreateKey': {
        const id = createKey();
        return { KeyMetadata: metadata(keys.get(id)!) };
      }
      case 'DescribeKey':
        return { KeyMetadata: metadata(findKey(body.KeyId)) };
      case 'GenerateDataKey': {
        const k = usable(findKey(body.KeyId));
        let n: number;
        if (body.KeySpec === 'AES_256') n = 32;
        else if (body.KeySpec === 'AES_128') n = 16;
        else if (typeof body.NumberOfBytes === 'number' && body.NumberOfBytes >= 1 && body.NumberOfBytes <= 1024) n = body.NumberOfBytes;
        else throw new KmsFault('ValidationException', 'KeySpec or NumberOfBytes is required');
        const plaintext = randomBytes(n);
        return {
          KeyId: k.arn,
          Plaintext: plaintext.toString('base64'),
          CiphertextBlob: seal(k, plaintext, body.EncryptionContext).toString('base64'),
        };
      }
      case 'Encrypt': {
        const k = usable(findKey(body.KeyId));
        const plaintext = b64(body.Plaintext, 'Plaintext');
        if (plaintext.length < 1 || plaintext.length > 4096) throw new KmsFault('ValidationException', 'Plaintext must be 1..4096 bytes');
        return {
          KeyId: k.arn,
          CiphertextBlob: seal(k, plaintext, body.EncryptionContext).toString('base64'),
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        };
      }
      case 'Decrypt': {
        const { key, plaintext } = open(b64(body.CiphertextBlob, 'CiphertextBlob'), body.EncryptionContext, body.KeyId);
        return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
      }
      case 'ReEncrypt': {
        const { key, plaintext } = open(
          b64(body.CiphertextBlob, 'CiphertextBlob'),
          body.SourceEncryptionContext,
          body.SourceKeyId,
        );
        const dest = usable(findKey(body.DestinationKeyId));
        return {
          SourceKeyId: key.arn,
          KeyId: dest.arn,
          CiphertextBlob: seal(dest, plaintext, body.DestinationEncryptionContext).toString('base64'),
          SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
          DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        };
      }
      default:
        throw new KmsFault('UnknownOperationException', '');
    }
  }

  function send(res: ServerResponse, status: number, payload: unknown, errorType?: string) {
    const out = () => {
      if (res.destroyed) return;
      const text = JSON.stringify(payload);
      const headers: Record<string, string> = {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': String(Buffer.byteLength(text)),
        'x-amzn-requestid': randomUUID(),
      };
      if (errorType) headers['x-amzn-errortype'] = errorType;
      res.writeHead(status, headers);
      res.end(text);
    };
    if (delayMs > 0) {
      const t = setTimeout(() => {
        timers.delete(t);
        out();
      }, delayMs);
      timers.add(t);
    } else out();
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const fault = (f: KmsFault) => send(res, f.status, { __type: f.type, message: f.message }, f.type);
    const target = String(req.headers['x-amz-target'] ?? '');
    if (req.method !== 'POST' || !target.startsWith('TrentService.')) {
      return fault(new KmsFault('UnknownOperationException', '', 400));
    }
    const op = target.slice('TrentService.'.length);
    calls[op] = (calls[op] ?? 0) + 1;
    let body: Record<string, unknown>;
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      const parsed: unknown = text === '' ? {} : JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return fault(new KmsFault('SerializationException', 'Malformed JSON body'));
    }
    const authorization = typeof req.headers.authorization === 'string' && req.headers.authorization.length > 0;
    requests.push({ op, body, authorization });
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) {
      return fault(new KmsFault('UnsupportedMediaTypeException', 'Expected application/x-amz-json-1.1'));
    }
    if (!authorization) {
      return fault(new KmsFault('MissingAuthenticationTokenException', 'Missing Authentication Token'));
    }
    const injected = pendingFailures.shift();
    if (injected) return fault(new KmsFault(injected.type, 'Injected by the test.', injected.status));
    try {
      send(res, 200, handle(op, body));
    } catch (e) {
      if (e instanceof KmsFault) return fault(e);
      return fault(new KmsFault('KMSInternalException', 'Internal error in the fake KMS', 500));
    }
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    createKey,
    arnOf: (id) => findKey(id).arn,
    disableKey(id) {
      findKey(id).enabled = false;
    },
    enableKey(id) {
      findKey(id).enabled = true;
    },
    throttleNext(n) {
      for (let i = 0; i < n; i++) pendingFailures.push({ type: 'ThrottlingException', status: 400 });
    },
    failNext(n, type, status = 400) {
      for (let i = 0; i < n; i++) pendingFailures.push({ type, status });
    },
    setDelay(ms) {
      delayMs = ms;
    },
    calls,
    requests,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
