/**
 * Shared vocabulary of Veil. Pure types and constants: no I/O, no Node APIs, so the core
 * runs unchanged on Node and on Cloudflare Workers.
 */

/** Every kind of value Veil can find and replace. The name is what the LLM sees in `[TYPE_ID]`. */
export const ENTITY_TYPES = [
  // found by the NER model
  'PERSON',
  'LOCATION',
  'ORGANIZATION',
  'ADDRESS',
  // found by validated patterns and context words
  'EMAIL',
  'PHONE',
  'CARD',
  'IBAN',
  'SSN',
  'IP',
  'BANK_ACCOUNT',
  'ROUTING',
  'PASSPORT',
  'DRIVER_LICENSE',
  'NATIONAL_ID',
  'MEDICAL_RECORD',
  'INSURANCE_ID',
  'DOB',
  'USERNAME',
  'URL',
  'VEHICLE',
  'ACCOUNT_ID',
] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

export function isEntityType(s: string): s is EntityType {
  return (ENTITY_TYPES as readonly string[]).includes(s);
}

/** Sensitivity classes: what a type's values are worth protecting (README "Policy"). */
export type Sensitivity = 'highly_sensitive' | 'sensitive' | 'contextual' | 'public';

/** Who is calling. In open single-tenant mode this is {@link OPEN_PRINCIPAL}. */
export interface Principal {
  readonly tenantId: string;
  readonly principalId: string;
  /** Role name; what it may see is decided by the tenant's policy (src/policy). */
  readonly role: string;
  /** Id of the API key used, when there is one (never the key itself). */
  readonly keyId?: string;
}

export const OPEN_TENANT_ID = 'default';
export const OPEN_PRINCIPAL: Principal = Object.freeze({
  tenantId: OPEN_TENANT_ID,
  principalId: 'open',
  role: 'admin',
});

/** Everything a service needs to know about the request it works for. */
export interface RequestContext {
  readonly principal: Principal;
  /** The `x-request-id` of this request; goes into logs and audit events. */
  readonly requestId: string;
  /** Optional `x-veil-purpose` header, for the audit trail. */
  readonly purpose?: string;
  readonly signal?: AbortSignal;
}

/** A structured logger that must never be handed PII: ids, types and counts only. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
