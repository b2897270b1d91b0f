import type { Services } from '../api/app.js';
import { createUpstream } from '../api/upstream.js';
import { openAuthenticator } from '../auth/types.js';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/types.js';
import { createCompositeDetector } from '../detect/composite.js';
import { createPatternDetector } from '../detect/patterns/index.js';
import type { Detector } from '../detect/types.js';
import { nerDetectorFromConfig } from './ner/index.js';
import { DEFAULT_POLICY } from '../policy/index.js';
import { createMemoryVault } from '../vault/memory.js';

export interface BuiltServices {
  readonly services: Services;
  close(): Promise<void>;
}

/** Composes the gateway from configuration (Node runtime). */
export async function buildServices(config: Config, logger: Logger): Promise<BuiltServices> {
  const detectors: Detector[] = [createPatternDetector()];
  if (config.VEIL_NER) detectors.push(nerDetectorFromConfig(config, logger));
  else logger.warn('NER is off (VEIL_NER=off): names, places, organizations and addresses are not detected');
  const detector = createCompositeDetector(detectors);
  // Fail fast with a clear error when the model is missing or corrupt.
  const t0 = performance.now();
  await detector.ready?.();
  logger.info('detector ready', { detector: detector.name, ms: Math.round(performance.now() - t0) });
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
