/**
 * The Node runtime's composition root: configuration → detector (patterns + NER worker pool +
 * name passes), vault (encrypted, PGlite or PostgreSQL, under the master key), API keys,
 * policy store, audit / compliance, upstream transport — the `Services` `createApp` takes.
 */
import { limitsFromConfig, type Services } from '../../http/app.js';
import { createMetrics } from '../../http/metrics.js';
import { createUpstreamFromConfig } from '../../http/upstream.js';
import { createApiKeyStore } from '../../tenants/api-keys.js';
import type { Authenticator } from '../../tenants/auth.js';
import { openAuthenticator } from '../../tenants/auth.js';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/types.js';
import type { Db } from '../../db/client.js';
import { ping } from '../../db/client.js';
import { NotReadyError } from '../../core/errors.js';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../../db/open.node.js';
import { createCompositeDetector } from '../../detect/composite.js';
import { withNamePasses } from '../../detect/names/index.js';
import { createPatternDetector } from '../../detect/patterns/index.js';
import type { Detector } from '../../detect/types.js';
import { DEFAULT_POLICY, type Policy } from '../../policy/index.js';
import { createPolicyStore } from '../../policy/store.js';
import { nodeVaultCrypto } from '../../keys/crypto.node.js';
import { startJobPoller } from '../../jobs/runner.js';
import { createDbVault } from '../../vault/db-vault.js';
import { createMemoryVault } from '../../vault/memory.js';
import type { Vault } from '../../vault/types.js';
import { createNodeFetch } from './http-fetch.js';
import { knownTokens, type Compliance } from '../../compliance/index.js';
import { createDbRateLimiter } from '../../compliance/rate-limit.js';
import { notifyingInvalidate } from '../../compliance/erase.js';
import { listenForErasures } from './erase-listener.js';
import { auditStoreFromConfig, openMasterKey } from './master-key-services.js';
import { createCollections } from '../../rag/collections.js';
import { createPgVectorStore } from '../../rag/store.js';
import { createPendingReader } from '../../rag/pending.js';
import { createCollectionEraser } from '../../rag/erase.js';
import { nerDetectorFromConfig } from './ner/index.js';

const UPSTREAM_KEY_MISSING =
  'API keys exist but VEIL_UPSTREAM_API_KEY is not set: every request with a Veil key is refused with 500 veil_misconfigured (Veil never forwards its own keys upstream); set VEIL_UPSTREAM_API_KEY and restart';

/** True when any API key row exists (revoked ones too: they keep open mode closed). */
async function anyApiKey(db: Db): Promise<boolean> {
  return (await db.rows(sql`select 1 as one from api_keys limit 1`)).length > 0;
}

export interface BuiltServices {
  readonly services: Services;
  close(): Promise<void>;
}

/**
 * The gateway's detector from configuration: validated patterns + the NER model (worker
 * threads) merged by the composite, then the request-level name passes. `npm run eval:pii` builds it through here too, so the
 * evaluation measures exactly what the gateway runs.
 */
export function buildDetector(config: Config, logger: Logger): Detector {
  const detectors: Detector[] = [createPatternDetector()];
  if (config.VEIL_NER) detectors.push(nerDetectorFromConfig(config, logger));
  else logger.warn('NER is off (VEIL_NER=off): names, places, organizations and addresses are not detected');
  return withNamePasses(createCompositeDetector(detectors));
}

/**
 * Composes the gateway from configuration (Node runtime): detectors (patterns + NER in worker
 * threads), the encrypted vault on PGlite or PostgreSQL under the configured master key, the
 * API-key store, and the upstream client. Everything is checked before the server listens:
 * a missing model, an unreachable database or an unusable master key stop the start-up with a
 * clear message instead of failing later, one request at a time.
 */
export async function buildServices(config: Config, logger: Logger): Promise<BuiltServices> {
  if (config.VEIL_API_KEY_HASHES || config.VEIL_OPEN_MODE) {
    // Ignoring them would leave an operator who set keys this way with an open gateway.
    throw new Error(
      'VEIL_API_KEY_HASHES and VEIL_OPEN_MODE configure the Workers build only: the Node server keeps API keys in its database (npm run veil -- keys issue) and is open only until the first key exists. Unset them.',
    );
  }
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const detector = buildDetector(config, logger);
    closers.push(async () => detector.close?.());
    const t0 = performance.now();
    await detector.ready?.();
    logger.info('detector ready', { detector: detector.name, ms: Math.round(performance.now() - t0) });

    let vault: Vault;
    const metrics = createMetrics();
    let rag: Services['rag'];
    let auth: Authenticator = openAuthenticator;
    let db: Db | null = null;
    let compliance: Compliance | undefined;
    let policyFor: (tenantId: string) => Promise<Policy> | Policy = () => DEFAULT_POLICY;
    if (config.VEIL_VAULT === 'memory') {
      logger.warn('VEIL_VAULT=memory: placeholders are kept in process memory only (tests and benchmarks); API keys are not available');
      vault = createMemoryVault();
    } else {
      db = await openDatabase(config, { logger, serveSocket: true });
      const opened = db;
      closers.push(() => opened.close());
      logger.info('database ready', { driver: db.kind });
      const provider = await openMasterKey(config, db, logger);
      const dbVault = createDbVault({
        db,
        provider,
        logger,
        crypto: nodeVaultCrypto,
        timeoutMs: config.VEIL_DB_TIMEOUT_MS,
        keyCacheTtlMs: config.VEIL_KEY_CACHE_TTL_MS,
        keyCacheMax: config.VEIL_KEY_CACHE_MAX,
        tokenCacheMax: config.VEIL_TOKEN_CACHE_MAX,
        tokenCacheTtlMs: config.VEIL_TOKEN_CACHE_TTL_MS,
      });
      vault = dbVault;
      const auditStore = auditStoreFromConfig(config, db, provider, logger);
      if (config.DATABASE_URL) {
        // Erasures by other processes (gateways, the CLI) reach this one's token cache.
        const listener = listenForErasures(config.DATABASE_URL, (t, keys) => dbVault.forgetTenant(t, keys), logger, { timeoutMs: config.VEIL_DB_TIMEOUT_MS });
        closers.push(() => listener.close());
        await listener.ready.catch(() => logger.warn('erasure listener not connected yet; retrying in the background', {}));
      }
      compliance = {
        audit: auditStore,
        known: knownTokens(db),
        revealLimiter: createDbRateLimiter(db, config.VEIL_REVEAL_RATE_PER_MIN), // one budget per key across processes
        erase: { db, keyring: dbVault.keyring, audit: auditStore, invalidate: notifyingInvalidate(db, dbVault.forgetTenant), collections: createCollectionEraser({ db, keyring: dbVault.keyring, crypto: nodeVaultCrypto }) },
      };
      closers.push(
        // key rotation jobs (src/jobs/), with their metrics on /metrics
        startJobPoller({
          db,
          keyring: dbVault.keyring,
          provider,
          crypto: nodeVaultCrypto,
          logger,
          audit: auditStore,
          onBatch: (j, n) => metrics.observeJobBatch(j.kind, n),
          onError: (j) => metrics.observeJobError(j.kind),
          onJobs: (jobs) => metrics.setJobs(jobs),
          ...(config.VEIL_ROTATE_DEK_EVERY_DAYS ? { schedule: { everyDays: config.VEIL_ROTATE_DEK_EVERY_DAYS, settleMs: config.VEIL_KEY_CACHE_TTL_MS + 5_000 } } : {}),
        }),
      );
      rag = createCollections({ store: createPgVectorStore(db), keyring: dbVault.keyring, crypto: nodeVaultCrypto, audit: auditStore, pending: createPendingReader(db) });
      const store = createApiKeyStore(db);
      auth = store;
      policyFor = createPolicyStore(db).policyFor;
      if (!(await anyApiKey(db))) {
        logger.warn('open single-tenant mode: no Veil API key exists, so any caller is accepted and sees every value; create one with `npm run veil -- keys issue`');
        if (!config.VEIL_UPSTREAM_API_KEY) {
          logger.warn('VEIL_UPSTREAM_API_KEY is not set: callers\' own keys are forwarded upstream; once an API key is issued, every request is refused with 500 veil_misconfigured until it is set');
        }
      } else if (!config.VEIL_UPSTREAM_API_KEY) {
        logger.error(UPSTREAM_KEY_MISSING);
      }
    }
    const v = vault;
    closers.push(() => v.close());

    const services: Services = {
      detector,
      vault,
      auth,
      upstream: createUpstreamFromConfig(config, createNodeFetch()),
      anthropic: { baseURL: config.VEIL_ANTHROPIC_UPSTREAM_URL, apiKey: config.VEIL_ANTHROPIC_UPSTREAM_API_KEY, timeoutMs: config.VEIL_UPSTREAM_TIMEOUT_MS },
      policyFor,
      logger,
      limits: limitsFromConfig(config),
      metrics,
      metricsAccess: config.VEIL_METRICS,
      ...(compliance ? { compliance } : {}),
      ...(rag ? { rag } : {}),
      async ready() {
        if (db && !(await ping(db))) throw new NotReadyError('database_unreachable', 'database unreachable');
        // Keys can be issued while the gateway runs (the CLI), so this is checked on every probe.
        if (db && !config.VEIL_UPSTREAM_API_KEY && (await anyApiKey(db))) throw new NotReadyError('upstream_api_key_missing', UPSTREAM_KEY_MISSING);
      },
    };
    return { services, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
