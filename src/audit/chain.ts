/**
 * The audit event model and its hash chain (pure: Web Crypto only, no I/O, runs on Workers).
 *
 * An event is canonical JSON (keys sorted, no whitespace) holding ids, token strings, types,
 * outcomes and counts — never a value. Each tenant has its own chain:
 *   genesis = HMAC(K, 'veil:audit:genesis:v1|<tenant>')
 *   hash_n  = HMAC(K, 'veil:audit:e:v1|<n>|<hex hash_{n-1}>|<body_n>')
 * with K = HKDF-SHA256(audit root key, info 'veil:audit:v1:<tenant>'), the root key wrapped by
 * the master key provider (src/audit/store.ts). Binding `n` and the previous hash makes an
 * edit, a deletion or a reordering change every later hash; the signed head and checkpoints
 * (same key, different labels) make truncation and forged anchors detectable. Without K no one
 * can write a valid chain, so an insider with database access only cannot hide an edit.
 */
import { hkdfSha256, hmacSha256, toHex, utf8 } from '../keys/crypto.js';

export const AUDIT_KINDS = [
  'restore',
  'reveal',
  'erase',
  'shred',
  'backup',
  'backup.restored',
  'tenant.created',
  'tenant.disabled',
  'tenant.enabled',
  'key.issued',
  'key.revoked',
  'policy.changed',
  'rotation',
  'audit.pruned',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** What the caller got for one token: its value, a partial mask, or nothing. */
export type TokenOutcome = 'revealed' | 'masked' | 'denied';

export interface AuditToken {
  /** `TYPE_ID` as presented (a malformed one is recorded truncated to 64 characters). */
  readonly token: string;
  readonly type: string | null;
  readonly outcome: TokenOutcome;
  /** DEK version of the stored value, where known. */
  readonly keyVersion?: number;
  /** Why it was denied (role, unknown, malformed, purpose_required, …). */
  readonly reason?: string;
}

/** One event as the caller describes it; time and sequence are added by the store. */
export interface AuditEventInput {
  readonly kind: AuditKind;
  readonly tenantId: string;
  readonly principalId?: string;
  /** Id of the API key used (never the key). */
  readonly keyId?: string;
  readonly role?: string;
  /** `x-veil-purpose` (or the reveal body's purpose), at most 200 characters. */
  readonly purpose?: string;
  /** The OpenAI `user` field as sent upstream (already masked). */
  readonly endUser?: string;
  readonly requestId?: string;
  readonly endpoint?: string;
  readonly tokens?: readonly AuditToken[];
  /** Counts and ids for admin events; never values. */
  readonly detail?: Readonly<Record<string, string | number | boolean | null>>;
}

export type CanonicalJson = null | boolean | number | string | CanonicalJson[] | { [k: string]: CanonicalJson };

/** JSON with object keys sorted at every level and `undefined` members dropped. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError('audit events hold finite numbers only');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new TypeError(`audit events cannot hold a ${typeof v}`);
}

/** The canonical body of an event recorded at `at` (ISO-8601). */
export function eventBody(e: AuditEventInput, at: string): string {
  return canonicalJson({
    v: 1,
    at,
    kind: e.kind,
    tenant: e.tenantId,
    principal: e.principalId,
    key: e.keyId,
    role: e.role,
    purpose: e.purpose,
    user: e.endUser,
    request: e.requestId,
    endpoint: e.endpoint,
    tokens: e.tokens?.map((t) => ({ t: t.token, type: t.type, o: t.outcome, kv: t.keyVersion, why: t.reason })),
    detail: e.detail,
  });
}

export type Hmac = (key: Uint8Array, data: Uint8Array) => Uint8Array | Promise<Uint8Array>;

export function chainInfo(tenantId: string): Uint8Array {
  return utf8(`veil:audit:v1:${tenantId}`);
}

export async function chainKey(root: Uint8Array, tenantId: string): Promise<Uint8Array> {
  return hkdfSha256(root, new Uint8Array(0), chainInfo(tenantId), 32);
}

export async function genesisHash(key: Uint8Array, tenantId: string, hmac: Hmac = hmacSha256): Promise<Uint8Array> {
  return hmac(key, utf8(`veil:audit:genesis:v1|${tenantId}`));
}

export async function eventHash(key: Uint8Array, seq: number, prev: Uint8Array, body: string, hmac: Hmac = hmacSha256): Promise<Uint8Array> {
  return hmac(key, utf8(`veil:audit:e:v1|${seq}|${toHex(prev)}|${body}`));
}

export async function headMac(key: Uint8Array, tenantId: string, seq: number, hash: Uint8Array, hmac: Hmac = hmacSha256): Promise<Uint8Array> {
  return hmac(key, utf8(`veil:audit:h:v1|${tenantId}|${seq}|${toHex(hash)}`));
}

export type CheckpointKind = 'periodic' | 'prune';

export async function checkpointMac(
  key: Uint8Array,
  tenantId: string,
  kind: CheckpointKind,
  seq: number,
  hash: Uint8Array,
  at: string,
  hmac: Hmac = hmacSha256,
): Promise<Uint8Array> {
  return hmac(key, utf8(`veil:audit:c:v1|${tenantId}|${kind}|${seq}|${toHex(hash)}|${at}`));
}
