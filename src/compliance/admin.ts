/**
 * Audited admin actions: tenants created, disabled or enabled, API keys issued or revoked,
 * policy overrides set or reset. Service functions shared by the `veil` CLI and any admin
 * route, over the stores that do the work (src/tenants/api-keys.ts, src/policy/store.ts).
 *
 * Rule (the same as for decryption): the event is committed **before** the change, so when the
 * audit cannot be written (503 `veil_audit_unavailable`) nothing changes. Each action is checked
 * first (the tenant or key exists, the policy document is valid) so that the change after the
 * event does not fail for a reason the check could have seen. Events go to the tenant's own
 * chain and hold ids, names, roles and a policy's SHA-256 and size — never an API key, never a
 * value. A policy override holds no personal data (types, classes, roles, actions), so its
 * canonical JSON is recorded too when it is at most {@link POLICY_DETAIL_MAX} characters.
 */
import { canonicalJson, type AuditKind } from '../audit/chain.js';
import type { AuditStore } from '../audit/store.js';
import { notFound } from '../core/errors.js';
import { randomId } from '../core/ids.js';
import { OPEN_TENANT_ID } from '../core/types.js';
import type { Db } from '../db/client.js';
import { sha256, toHex, utf8 } from '../keys/crypto.js';
import { parsePolicyOverride } from '../policy/override.js';
import type { PolicyStore } from '../policy/store.js';
import type { ApiKeyStore, IssueKeyInput, TenantStatus } from '../tenants/api-keys.js';
import { actorFields, type Actor } from './erase.js';

/** A request the check refuses before anything is recorded (the CLI prints it, exit 1). */
export class AdminInputError extends Error {
  override name = 'AdminInputError';
}

/** Longest policy override copied into a `policy.changed` event (longer ones: hash and size only). */
export const POLICY_DETAIL_MAX = 4000;

export interface AdminDeps {
  readonly db: Db;
  readonly keys: ApiKeyStore;
  readonly policies: PolicyStore;
  readonly audit: AuditStore;
}

function record(deps: AdminDeps, tenantId: string, kind: AuditKind, actor: Actor, detail: Record<string, string | number | boolean | null>): Promise<void> {
  return deps.audit.append(tenantId, [
    {
      kind,
      tenantId,
      ...actorFields(actor),
      detail,
    },
  ]);
}

async function tenantExists(db: Db, tenantId: string): Promise<boolean> {
  return (await db.query('select 1 from tenants where id = $1', [tenantId])).length > 0;
}

export async function createTenantAudited(deps: AdminDeps, name: string, actor: Actor, id?: string): Promise<{ id: string }> {
  const tid = id ?? randomId('ten');
  if (await tenantExists(deps.db, tid)) throw new AdminInputError(`a tenant with id ${tid} already exists`);
  await record(deps, tid, 'tenant.created', actor, { tenant: tid, name: name.trim() });
  return deps.keys.createTenant(name, tid);
}

/** False (nothing recorded) when there is no such tenant. */
export async function setTenantStatusAudited(deps: AdminDeps, tenantId: string, status: TenantStatus, actor: Actor): Promise<boolean> {
  if (!(await tenantExists(deps.db, tenantId))) return false;
  await record(deps, tenantId, status === 'disabled' ? 'tenant.disabled' : 'tenant.enabled', actor, { tenant: tenantId });
  return deps.keys.setTenantStatus(tenantId, status);
}

export async function issueKeyAudited(deps: AdminDeps, input: IssueKeyInput, actor: Actor) {
  if (!(await tenantExists(deps.db, input.tenantId))) throw notFound(`No tenant with id ${input.tenantId}.`);
  const id = randomId('key');
  await record(deps, input.tenantId, 'key.issued', actor, { key_id: id, name: input.name.trim(), role: input.role });
  return deps.keys.issueKey({ ...input, id });
}

/** False (nothing recorded) when there is no active key with this id. */
export async function revokeKeyAudited(deps: AdminDeps, keyId: string, actor: Actor): Promise<boolean> {
  const row = (await deps.db.query<{ tenant_id: string }>('select tenant_id from api_keys where id = $1 and revoked_at is null', [keyId]))[0];
  if (!row) return false;
  await record(deps, row.tenant_id, 'key.revoked', actor, { key_id: keyId });
  return deps.keys.revokeKey(keyId);
}

/** Stores (or with `null` removes) a tenant's policy override; 404 when there is no such tenant. */
export async function setPolicyAudited(deps: AdminDeps, tenantId: string, override: unknown, actor: Actor): Promise<void> {
  const doc = override === null ? null : parsePolicyOverride(override);
  if (tenantId !== OPEN_TENANT_ID && !(await tenantExists(deps.db, tenantId))) throw notFound(`No tenant with id ${tenantId}.`);
  const detail: Record<string, string | number | boolean | null> = { action: doc === null ? 'reset' : 'set' };
  if (doc !== null) {
    const text = canonicalJson(doc);
    detail.sha256 = toHex(await sha256(utf8(text)));
    detail.bytes = utf8(text).length;
    detail.override = text.length <= POLICY_DETAIL_MAX ? text : null;
  }
  await record(deps, tenantId, 'policy.changed', actor, detail);
  await deps.policies.setOverride(tenantId, doc);
}
