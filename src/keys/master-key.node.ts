/**
 * Node-only wiring of the master key: loads (or, for development on PGlite, generates) the
 * local master key, and builds the configured MasterKeyProvider. The key comes from
 * VEIL_MASTER_KEY, else the file VEIL_MASTER_KEY_FILE, else `<VEIL_DATA_DIR>/master.key`.
 * With DATABASE_URL (PostgreSQL, shared by processes) a local key must be configured
 * explicitly: nothing is generated and the data-dir default is not used, so two processes
 * can never silently run with different keys. The key itself is never logged; only its
 * fingerprint (`local:…`) and file paths are. During a master-key rotation the previous key
 * (VEIL_MASTER_KEY_PREVIOUS / _FILE, or VEIL_KMS_KEY_ID_PREVIOUS) is accepted for unwrapping only.
 */
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/types.js';
import { createAwsKmsProvider } from './aws.js';
import { fromBase64, randomBytes, toBase64, toHex } from './crypto.js';
import { createLocalProvider, localKeyFingerprint } from './local.js';
import type { MasterKeyProvider } from './provider.js';

export const MASTER_KEY_FILE = 'master.key';
const KEY_BYTES = 32;

export interface LoadLocalMasterKeyOptions {
  /** VEIL_MASTER_KEY: base64 of exactly 32 bytes. */
  masterKeyB64?: string;
  /** VEIL_MASTER_KEY_FILE: the key file (read, or generated when absent and `generate` allows). */
  masterKeyFile?: string;
  /** VEIL_DATA_DIR: where master.key is read from or generated when no file is named. */
  dataDir: string;
  /**
   * False (PostgreSQL): an explicit key is required — VEIL_MASTER_KEY or an existing
   * VEIL_MASTER_KEY_FILE; nothing is generated. Default true (PGlite, development).
   */
  generate?: boolean;
  logger: Logger;
}

export type MasterKeySource = 'env' | 'file' | 'generated';

function decodeKey(text: string, what: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(text.trim());
  } catch {
    throw new Error(
      `${what} is not valid base64. It must be the base64 encoding of exactly ${KEY_BYTES} random bytes ` +
        '(generate one with: openssl rand -base64 32).',
    );
  }
  if (bytes.length !== KEY_BYTES) {
    throw new Error(
      `${what} must be the base64 encoding of exactly ${KEY_BYTES} bytes, but it decodes to ${bytes.length} bytes ` +
        '(generate one with: openssl rand -base64 32).',
    );
  }
  return bytes;
}

async function readKeyFile(path: string, logger: Logger): Promise<Uint8Array> {
  const st = await stat(path);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    logger.warn('master key file is readable by other users; restrict it with chmod 600', {
      path,
      mode: (st.mode & 0o777).toString(8).padStart(4, '0'),
    });
  }
  return decodeKey(await readFile(path, 'utf8'), `The master key file ${path}`);
}

/**
 * The local master key, from VEIL_MASTER_KEY, else VEIL_MASTER_KEY_FILE (default
 * `<dataDir>/master.key`), else a new key generated into that file (mode 0600) with a loud
 * warning — unless `generate` is false, which requires an explicit key. Concurrent first starts are safe:
 * the file is created atomically (write a temp file, then hard-link it into place), so every
 * process ends up with the same key.
 */
export async function loadLocalMasterKey(
  opts: LoadLocalMasterKeyOptions,
): Promise<{ key: Uint8Array; source: MasterKeySource }> {
  const { logger } = opts;
  if (opts.masterKeyB64 !== undefined && opts.masterKeyB64 !== '') {
    return { key: decodeKey(opts.masterKeyB64, 'VEIL_MASTER_KEY'), source: 'env' };
  }
  const generate = opts.generate !== false;
  const named = opts.masterKeyFile !== undefined && opts.masterKeyFile !== '';
  if (!generate && !named) {
    throw new Error(
      'DATABASE_URL is set but no master key is configured: set VEIL_MASTER_KEY (base64 of 32 bytes) or ' +
        'VEIL_MASTER_KEY_FILE (a file holding it), with the same key in every gateway and CLI process, ' +
        'or use VEIL_KEY_PROVIDER=aws. Veil does not generate a key for a shared database (each process would ' +
        'make its own). Generate one with: openssl rand -base64 32',
    );
  }
  const path = named ? resolve(opts.masterKeyFile!) : join(resolve(opts.dataDir), MASTER_KEY_FILE);
  const dir = dirname(path);
  try {
    return { key: await readKeyFile(path, logger), source: 'file' };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (!generate) {
      throw new Error(`VEIL_MASTER_KEY_FILE ${path} does not exist; with DATABASE_URL set, Veil does not generate a master key. Create it with: openssl rand -base64 32 > ${path} && chmod 600 ${path}`);
    }
  }

  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  const tmp = join(dir, `.${MASTER_KEY_FILE}.${process.pid}.${toHex(randomBytes(6))}.tmp`);
  await writeFile(tmp, toBase64(key) + '\n', { mode: 0o600, flag: 'wx' });
  await chmod(tmp, 0o600); // exact mode whatever the umask
  try {
    await link(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      // Another process won the race: use its key.
      await unlink(tmp).catch(() => {});
      return { key: await readKeyFile(path, logger), source: 'file' };
    }
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await unlink(tmp).catch(() => {});
  logger.warn(
    '!!! GENERATED A NEW LOCAL MASTER KEY. This is a DEVELOPMENT key: every vault value is ' +
      'encrypted under it, so losing this file loses all data. Back it up securely now, and use ' +
      'AWS KMS (VEIL_KEY_PROVIDER=aws) or VEIL_MASTER_KEY from a secrets manager in production. !!!',
    { path, keyId: localKeyFingerprint(key) },
  );
  return { key, source: 'generated' };
}

/**
 * The previous local master key during a master-key rotation: VEIL_MASTER_KEY_PREVIOUS (base64),
 * else the file VEIL_MASTER_KEY_PREVIOUS_FILE; null when neither is set. Never generated.
 */
export async function loadPreviousMasterKey(
  config: Pick<Config, 'VEIL_MASTER_KEY_PREVIOUS' | 'VEIL_MASTER_KEY_PREVIOUS_FILE'>,
  logger: Logger,
): Promise<Uint8Array | null> {
  if (config.VEIL_MASTER_KEY_PREVIOUS) return decodeKey(config.VEIL_MASTER_KEY_PREVIOUS, 'VEIL_MASTER_KEY_PREVIOUS');
  if (config.VEIL_MASTER_KEY_PREVIOUS_FILE) return readKeyFile(resolve(config.VEIL_MASTER_KEY_PREVIOUS_FILE), logger);
  return null;
}

/**
 * Builds the master-key provider chosen by VEIL_KEY_PROVIDER. Does not contact KMS; call
 * `await provider.check()` at start-up to fail fast on a missing, disabled or forbidden key.
 * `env` supplies AWS_REGION / AWS_DEFAULT_REGION (default us-east-1); credentials come from
 * the AWS SDK's default chain (env vars, shared config, container / instance roles).
 */
export async function createMasterKeyProvider(
  config: Config,
  logger: Logger,
  env: Record<string, string | undefined> = process.env,
): Promise<MasterKeyProvider> {
  if (config.VEIL_KEY_PROVIDER === 'aws') {
    if (!config.VEIL_KMS_KEY_ID) {
      throw new Error('VEIL_KEY_PROVIDER=aws needs VEIL_KMS_KEY_ID (a KMS key id, key ARN or alias).');
    }
    if (config.VEIL_MASTER_KEY) {
      logger.warn('VEIL_MASTER_KEY is ignored because VEIL_KEY_PROVIDER=aws');
    }
    const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
    const provider = createAwsKmsProvider({
      keyId: config.VEIL_KMS_KEY_ID,
      region,
      timeoutMs: config.VEIL_KMS_TIMEOUT_MS,
      maxAttempts: config.VEIL_KMS_MAX_ATTEMPTS,
      ...(config.VEIL_KMS_KEY_ID_PREVIOUS ? { previousKeyIds: [config.VEIL_KMS_KEY_ID_PREVIOUS] } : {}),
      ...(config.VEIL_KMS_ENDPOINT ? { endpoint: config.VEIL_KMS_ENDPOINT } : {}),
    });
    logger.info('master key provider: aws kms', { keyId: provider.keyId, ...(provider.previousKeyIds?.length ? { previousKeyIds: provider.previousKeyIds.join(',') } : {}), region, customEndpoint: !!config.VEIL_KMS_ENDPOINT });
    return provider;
  }
  const { key, source } = await loadLocalMasterKey({
    masterKeyB64: config.VEIL_MASTER_KEY,
    masterKeyFile: config.VEIL_MASTER_KEY_FILE,
    dataDir: config.VEIL_DATA_DIR,
    generate: !config.DATABASE_URL,
    logger,
  });
  const previous = await loadPreviousMasterKey(config, logger);
  const provider = createLocalProvider(key, previous ? { previousKeys: [previous] } : {});
  key.fill(0);
  previous?.fill(0);
  logger.info('master key provider: local', { keyId: provider.keyId, ...(provider.previousKeyIds?.length ? { previousKeyIds: provider.previousKeyIds.join(',') } : {}), source });
  return provider;
}
