/**
 * `GET /v1/models` and `GET /v1/models/{id}`: model listing carries no user text and is passed
 * through as the upstream answers it. A path parameter is not masked (a placeholder would not
 * name the model); one that holds a validated identifier (pattern spans: email, SSN, card,
 * phone, IBAN, IP…) of a type the tenant's policy masks is refused with 400 `veil_pii_in_path`,
 * never forwarded. NER spans are ignored here: model ids are not prose, and the model reads
 * `claude-3-5-sonnet` as a name. Fail closed: no detection, no forwarding.
 */
import type { Context, Hono } from 'hono';
import { detectionUnavailable, isVeilError, piiInPath } from '../../core/errors.js';
import type { Detector } from '../../detect/types.js';
import { type Policy, shouldMask } from '../../policy/index.js';
import { type Env, requestContext, upstreamAbort } from '../context.js';
import { ClientAbortedError, mapUpstreamError, passthroughHeaders, type Upstream } from '../upstream.js';

export interface ModelsDeps {
  readonly detector: Detector;
  readonly upstream: Upstream;
  policyFor(tenantId: string): Policy | Promise<Policy>;
}

/**
 * 400 `veil_pii_in_path` when a URL path parameter holds a validated identifier of a type the
 * policy masks (see the file comment); also used by src/surfaces for stored-response ids.
 */
export async function refusePiiInPath(detector: Detector, policy: Policy, value: string, signal?: AbortSignal): Promise<void> {
  let spans;
  try {
    [spans] = await detector.detect([value], signal);
  } catch (e) {
    throw isVeilError(e) ? e : detectionUnavailable(e);
  }
  const types = [...new Set((spans ?? []).filter((sp) => sp.source === 'pattern' && shouldMask(policy, sp.type)).map((sp) => sp.type))];
  if (types.length > 0) throw piiInPath(types);
}

export function modelRoutes(app: Hono<Env>, deps: ModelsDeps): void {
  const models = async (c: Context<Env>, path: string) => {
    const client = deps.upstream.client(c.get('forwardBearer'));
    const controller = upstreamAbort(c);
    try {
      const res = await client.get(path, { signal: controller.signal }).asResponse();
      return c.newResponse(await res.text(), res.status as 200, { ...passthroughHeaders(res.headers), 'content-type': 'application/json' });
    } catch (e) {
      const mapped = mapUpstreamError(e);
      if (mapped instanceof ClientAbortedError) return new Response(null, { status: 499 });
      throw mapped;
    }
  };

  app.get('/v1/models', (c) => models(c, '/models'));
  app.get('/v1/models/:model{.+}', async (c) => {
    const id = c.req.param('model');
    const ctx = requestContext(c, upstreamAbort(c).signal);
    await refusePiiInPath(deps.detector, await deps.policyFor(ctx.principal.tenantId), id, ctx.signal);
    return models(c, `/models/${encodeURIComponent(id)}`);
  });
}
