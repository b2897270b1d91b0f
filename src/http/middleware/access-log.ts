/**
 * Every request: a fresh id (`req_` + 24 hex; hono's request-id middleware, the caller's
 * `X-Request-Id` is not taken), sent back as `x-request-id`, then one access-log line and the
 * request metrics. Logged: id, method, route pattern (never the raw path: a path can hold PII,
 * `/v1/models/219-09-9999`), status, time.
 */
import type { MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from '../../core/types.js';
import { randomBytes, toHex } from '../../keys/crypto.js';
import type { Env } from '../context.js';
import { type Metrics, routePattern } from '../metrics.js';

export function newRequestId(): string {
  return `req_${toHex(randomBytes(12))}`;
}

export function accessLog(log: Logger, metrics: Metrics): MiddlewareHandler<Env> {
  const assignId = requestId({ headerName: '', generator: newRequestId });
  const logged: MiddlewareHandler<Env> = async (c, next) => {
    const started = performance.now();
    await next();
    const id = c.get('requestId');
    c.res.headers.set('x-request-id', id);
    const ms = performance.now() - started;
    const route = routePattern(c.req.path);
    metrics.observeRequest(route, c.res.status, ms);
    log.info('request', { requestId: id, method: c.req.method, route, status: c.res.status, ms: Math.round(ms * 10) / 10 });
  };
  return async (c, next) => {
    await assignId(c, async () => {
      await logged(c, next);
    });
  };
}
