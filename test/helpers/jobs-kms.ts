/**
 * Shared set-up of the KMS rotation tests: the loopback KMS server (test/fakes/kms-server.ts,
 * the one allowed stand-in) and real PGlite for the file, and the real AWS KMS provider
 * (@aws-sdk/client-kms over real HTTP) pointed at it: one attempt, 2 s timeout, so an outage
 * shows at once.
 */
import { afterAll, beforeAll } from 'vitest';
import { createAwsKmsProvider } from '../../src/keys/aws.js';
import type { Logger } from '../../src/core/types.js';
import type { MasterKeyProvider } from '../../src/keys/provider.js';
import { startFakeKms, type FakeKms } from '../fakes/kms-server.js';
import { pgliteDriver, type Harness } from './db.js';

export interface KmsFixture {
  kms: FakeKms;
  h: Harness;
  provider(keyId: string, previousKeyIds?: string[]): MasterKeyProvider;
}

/** Registers beforeAll / afterAll; the returned object is filled in before the first test. */
export function useKmsAndPglite(): KmsFixture {
  const f = {} as KmsFixture;
  beforeAll(async () => {
    f.kms = await startFakeKms();
    f.h = await pgliteDriver.open();
    f.provider = (keyId, previousKeyIds = []) =>
      createAwsKmsProvider({
        keyId,
        previousKeyIds,
        region: 'us-east-1',
        endpoint: f.kms.url,
        credentials: { accessKeyId: 'AKIDVEILTEST', secretAccessKey: 'veil-test-secret' },
        maxAttempts: 1,
        timeoutMs: 2000,
      });
  });
  afterAll(async () => {
    await f.h?.cleanup();
    await f.kms?.close();
  });
  return f;
}

/** A logger that keeps each line (message + JSON fields) so a test can check none holds a value. */
export function recordingLogger(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const line = (m: string, f?: Record<string, unknown>) => lines.push(`${m} ${JSON.stringify(f ?? {})}`);
  return { lines, logger: { debug() {}, info: line, warn: line, error: line } };
}
