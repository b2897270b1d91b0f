/**
 * `GET /metrics` (Prometheus text). Metrics count entity types across every tenant, so by
 * default (`VEIL_METRICS=admin`) only an admin-role key may read them (anyone in open mode);
 * `public` serves everyone, `off` answers 404 like an unknown endpoint.
 */
import type { Hono } from 'hono';
import type { Authenticator } from '../../tenants/auth.js';
import type { Env } from '../context.js';
import type { Metrics } from '../metrics.js';
import { requireAdmin } from '../middleware/auth.js';
import { unknownEndpoint } from '../middleware/errors.js';

export type MetricsAccess = 'admin' | 'public' | 'off';

export function metricsRoute(app: Hono<Env>, deps: { metrics: Metrics; auth: Authenticator; access: MetricsAccess }): void {
  if (deps.access === 'off') {
    app.get('/metrics', unknownEndpoint);
    return;
  }
  if (deps.access === 'admin') app.use('/metrics', requireAdmin(deps.auth, 'GET /metrics'));
  app.get('/metrics', (c) => c.text(deps.metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4' }));
}
