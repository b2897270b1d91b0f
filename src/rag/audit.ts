/**
 * Audit of sealed metadata opened by a collection query with `"restore": true`
 * (src/rag/collections.ts): one `restore` event per query, committed before any field is
 * decrypted, on the endpoint `/v1/veil/collections/<name>/query`. Each sealed field of each hit
 * is one entry `meta:<document id>:<field>` (at most 200 characters) with the entity type found
 * in it (null when sealed by `encrypt_fields` only), the role's outcome (`revealed`, `masked`,
 * or `denied` with reason `role` — a denied field is never decrypted) and its DEK version.
 * Never a value. A failed append rejects (503 `veil_audit_unavailable`): nothing is opened.
 */
import type { AuditToken, TokenOutcome } from '../audit/chain.js';
import { AUDIT_TEXT_MAX } from '../audit/restore.js';
import type { AuditStore } from '../audit/store.js';
import type { EntityType, RequestContext } from '../core/types.js';

export interface Open {
  readonly id: string;
  readonly field: string;
  readonly type: EntityType | null;
  readonly version: number;
  readonly action: 'value' | 'masked' | 'placeholder';
}

const OUTCOME: Record<Open['action'], TokenOutcome> = { value: 'revealed', masked: 'masked', placeholder: 'denied' };

export async function auditOpens(store: Pick<AuditStore, 'append'>, ctx: RequestContext, collection: string, opens: readonly Open[]): Promise<void> {
  if (opens.length === 0) return;
  const p = ctx.principal;
  const tokens: AuditToken[] = opens.map((o) => ({
    token: `meta:${o.id}:${o.field}`.slice(0, AUDIT_TEXT_MAX),
    type: o.type,
    outcome: OUTCOME[o.action],
    keyVersion: o.version,
    ...(o.action === 'placeholder' ? { reason: 'role' } : {}),
  }));
  await store.append(p.tenantId, [
    {
      kind: 'restore',
      tenantId: p.tenantId,
      principalId: p.principalId,
      ...(p.keyId ? { keyId: p.keyId } : {}),
      role: p.role,
      ...(ctx.purpose ? { purpose: ctx.purpose.slice(0, AUDIT_TEXT_MAX) } : {}),
      requestId: ctx.requestId,
      endpoint: `/v1/veil/collections/${collection}/query`,
      tokens,
    },
  ]);
}
