/**
 * The master key and the audit store exactly as the gateway builds them, shared by the
 * composition root (src/runtime/node/services.ts) and the `veil` CLI (src/runtime/node/cli):
 * the provider from configuration (VEIL_MASTER_KEY, VEIL_MASTER_KEY_FILE, `<VEIL_DATA_DIR>/master.key`
 * on PGlite, or AWS KMS), its start-up check, and the database's key check value, so a CLI with
 * another key stops with `wrong master key: …` instead of writing an audit chain no gateway can
 * verify. Kept apart from services.ts so the CLI does not load the detector to get a key.
 */
import { createAuditStore, type AuditStore } from '../../audit/store.js';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/types.js';
import type { Db } from '../../db/client.js';
import { nodeVaultCrypto } from '../../keys/crypto.node.js';
import { verifyMasterKey } from '../../keys/key-check.js';
import { createMasterKeyProvider } from '../../keys/master-key.node.js';
import type { MasterKeyProvider } from '../../keys/provider.js';

/** The configured provider, checked (KMS: a GenerateDataKey + Decrypt round trip) and verified against `db`. */
export async function openMasterKey(
  config: Config,
  db: Db,
  logger: Logger,
  env: Record<string, string | undefined> = process.env,
  opts: { verify?: boolean } = {},
): Promise<MasterKeyProvider> {
  const provider = await createMasterKeyProvider(config, logger, env);
  await provider.check();
  // A wrong master key stops here, not one request (or one CLI write) at a time later.
  if (opts.verify !== false) await verifyMasterKey(db, provider, logger);
  return provider;
}

/** The audit store with the gateway's settings (VEIL_AUDIT_CHECKPOINT_EVERY, VEIL_DB_TIMEOUT_MS, VEIL_AUDIT_DURABLE). */
export function auditStoreFromConfig(config: Config, db: Db, provider: MasterKeyProvider, logger: Logger): AuditStore {
  return createAuditStore({
    db,
    provider,
    logger,
    hmac: nodeVaultCrypto.hmac,
    checkpointEvery: config.VEIL_AUDIT_CHECKPOINT_EVERY,
    timeoutMs: config.VEIL_DB_TIMEOUT_MS,
    durable: config.VEIL_AUDIT_DURABLE,
  });
}
