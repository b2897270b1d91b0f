/**
 * The app's error handler and 404: every failure leaves as an OpenAI-shaped error. A caller
 * that went away is logged at info and answered 499 (nothing is sent); a VeilError keeps its
 * status (5xx are logged with code and cause class, upstream connection failures with why);
 * anything else is a bug: 500 `veil_internal_error`, logged by class only.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { internalError, isVeilError, unknownUrl } from '../../core/errors.js';
import type { Logger } from '../../core/types.js';
import { causeName, type Env, errorResponse, safePath } from '../context.js';
import { routePattern } from '../metrics.js';
import { connectionFailure } from '../upstream.js';

export function onError(log: Logger): ErrorHandler<Env> {
  return (err, c) => {
    const requestId = c.get('requestId');
    // The caller went away (detection or the vault then fail with an abort): not a server error.
    if (c.req.raw.signal.aborted) {
      log.info('client closed request', { requestId, route: routePattern(c.req.path) });
      return new Response(null, { status: 499 });
    }
    if (isVeilError(err)) {
      if (err.code === 'upstream_unreachable' || err.code === 'upstream_timeout') {
        log.error('request failed', { requestId, code: err.code, status: err.status, ...connectionFailure(err.cause) });
      } else if (err.status >= 500) {
        log.error('request failed', { requestId, code: err.code, status: err.status, cause: causeName(err.cause) });
      }
      return errorResponse(c, err);
    }
    log.error('unhandled error', { requestId, error: causeName(err) });
    return errorResponse(c, internalError());
  };
}

/** 404 `unknown_url`, naming the method and the path with every possible-PII segment as `:param`. */
export const unknownEndpoint: NotFoundHandler = (c: Context) => errorResponse(c, unknownUrl(c.req.method, safePath(c.req.path)));
