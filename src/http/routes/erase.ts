/**
 * `POST /v1/veil/erase` (admin role only): `{"type": "EMAIL", "value": "…"}` or
 * `{"token": "[EMAIL_…]"}` erases the subject's mapping in the caller's tenant
 * (src/compliance/erase.ts) and answers `{"object": "veil.erasure", "erased": 0|1}`, plus
 * `chunks` and `fields` (RAG chunks re-sanitized, metadata fields removed) where collections exist.
 * Erasing something that does not exist is not an error (`erased: 0`), so the answer does not
 * confirm more than a reveal would. Audited; an audit failure after the deletion is a 503
 * `veil_audit_unavailable` (the mapping is gone; the event could not be recorded).
 */
import type { Hono } from 'hono';
import { readJson } from '../middleware/body.js';
import type { Env } from '../context.js';
import { z } from 'zod';
import { ENTITY_TYPES, type Principal } from '../../core/types.js';
import { adminRequired, badRequest, isVeilError, vaultUnavailable } from '../../core/errors.js';
import { eraseSubject, EraseInputError, type EraseDeps } from '../../compliance/erase.js';

export const EraseBody = z.union([
  z.object({ type: z.enum(ENTITY_TYPES), value: z.string().min(1).max(10_000) }).strict(),
  z.object({ token: z.string().min(1).max(200) }).strict(),
]);

export function registerEraseRoute(app: Hono<Env>, deps: { erase: EraseDeps; maxBodyBytes: number; maxJsonDepth: number }): void {
  app.post('/v1/veil/erase', async (c) => {
    const principal = c.get('principal');
    if (principal.role !== 'admin') throw adminRequired('Erasure');
    const raw = await readJson(c, deps);
    const parsed = EraseBody.safeParse(raw);
    if (!parsed.success) throw badRequest('Invalid erase request: send {"type": "<ENTITY_TYPE>", "value": "…"} or {"token": "[TYPE_…]"}.');
    try {
      const r = await eraseSubject(deps.erase, principal.tenantId, parsed.data, {
        principalId: principal.principalId,
        ...(principal.keyId ? { keyId: principal.keyId } : {}),
        role: principal.role,
        requestId: c.get('requestId'),
        via: '/v1/veil/erase',
      });
      return c.json({ object: 'veil.erasure', erased: r.erased, ...(r.chunks !== undefined ? { chunks: r.chunks, fields: r.fields } : {}) });
    } catch (e) {
      if (e instanceof EraseInputError) throw badRequest(`Invalid erase request: ${e.message}.`, 'token');
      throw isVeilError(e) ? e : vaultUnavailable(e);
    }
  });
}
