import type { Services } from '../api/app.js';
import { createUpstream } from '../api/upstream.js';
import { openAuthenticator } from '../auth/types.js';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/types.js';
import { createPatternDetector } from '../detect/patterns/index.js';
import { DEFAULT_POLICY } from '../policy/index.js';
import { createMemoryVault } from '../vault/memory.js';

export interface BuiltServices {
  readonly services: Services;
  close(): Promise<void>;
}

/** Composes the gateway from configuration (Node runtime). */
export async function buildServices(config: Config, logger: Logger): Promise<BuiltServices> {
  const detector = createPatternDetector();
  const vault = createMemoryVault();
  const services: Services = {
    detector,
    vault,
    auth: openAuthenticator,
    upstream: createUpstream({
      baseURL: config.VEIL_UPSTREAM_URL,
      apiKey: config.VEIL_UPSTREAM_API_KEY,
      timeoutMs: config.VEIL_UPSTREAM_TIMEOUT_MS,
      maxRetries: config.VEIL_UPSTREAM_MAX_RETRIES,
    }),
    policyFor: () => DEFAULT_POLICY,
    logger,
    limits: { maxBodyBytes: config.VEIL_MAX_BODY_BYTES, streamIdleTimeoutMs: config.VEIL_STREAM_IDLE_TIMEOUT_MS },
  };
  return {
    services,
    async close() {
      await detector.close?.();
      await vault.close();
    },
  };
}
