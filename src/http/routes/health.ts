/**
 * `GET /healthz` (the process answers) and `GET /readyz` (detector and services ready: 200
 * `{"status":"ready"}`, else 503 with a short machine-readable `reason` when one is known; the
 * operator message is logged, never sent).
 */
import type { Hono } from 'hono';
import { NotReadyError } from '../../core/errors.js';
import type { Logger } from '../../core/types.js';
import type { Detector } from '../../detect/types.js';
import { causeName, type Env } from '../context.js';

export function healthRoutes(app: Hono<Env>, deps: { detector: Detector; ready?: () => Promise<void>; log: Logger }): void {
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    try {
      await deps.detector.ready?.();
      await deps.ready?.();
      return c.json({ status: 'ready' });
    } catch (e) {
      const reason = e instanceof NotReadyError ? e.reason : undefined;
      deps.log.warn('not ready', { error: causeName(e), ...(reason ? { reason } : {}) });
      return c.json({ status: 'not_ready', ...(reason ? { reason } : {}) }, 503);
    }
  });
}
