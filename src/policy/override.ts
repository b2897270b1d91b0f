/**
 * Per-tenant policy as data: an override document, stored per tenant (tenants.policy, jsonb),
 * validated with zod and merged onto {@link DEFAULT_POLICY}. Every field is optional; what a
 * document leaves out keeps the default. Unknown keys, entity types, classes, roles and actions
 * are rejected, so a typo never silently weakens masking. Pure: no I/O, no Node APIs.
 *
 * ```json
 * {
 *   "sensitivity": { "ORGANIZATION": "public" },
 *   "detect": { "contextual": "pass" },
 *   "detectType": { "EMAIL": "pass" },
 *   "restore": { "user": { "sensitive": "masked" } },
 *   "restoreDefault": { "contextual": "value" }
 * }
 * ```
 */
import { z } from 'zod';
import { ENTITY_TYPES, type EntityType, type Sensitivity } from '../core/types.js';
import { ROLES, type DetectAction, type Role, type Policy, type RestoreAction } from './index.js';

export const SENSITIVITIES = ['highly_sensitive', 'sensitive', 'contextual', 'public'] as const satisfies readonly Sensitivity[];
export const DETECT_ACTIONS = ['mask', 'pass'] as const satisfies readonly DetectAction[];
export const RESTORE_ACTIONS = ['value', 'masked', 'placeholder'] as const satisfies readonly RestoreAction[];


export interface PolicyOverride {
  sensitivity?: Partial<Record<EntityType, Sensitivity>>;
  detect?: Partial<Record<Sensitivity, DetectAction>>;
  detectType?: Partial<Record<EntityType, DetectAction>>;
  restore?: Partial<Record<Role, Partial<Record<Sensitivity, RestoreAction>>>>;
  restoreDefault?: Partial<Record<Sensitivity, RestoreAction>>;
}

/** An invalid override document; `issues` are `path: message` lines (no values echoed). */
export class PolicyValidationError extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`Invalid policy override:\n  ${issues.join('\n  ')}`);
    this.name = 'PolicyValidationError';
    this.issues = issues;
  }
}

const oneOf = (what: string, values: readonly string[]) => `must be one of ${values.join(', ')} (${what})`;

/** A strict object with one optional key per name, all with the same value schema. */
function keyed<K extends string, V extends z.ZodType>(keys: readonly K[], value: V, what: string) {
  const shape = Object.fromEntries(keys.map((k) => [k, value.optional()])) as { [P in K]: z.ZodOptional<V> };
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === 'unrecognized_keys' ? `unknown ${what} ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}; use ${keys.join(', ')}` : 'must be an object',
  });
}

const sensitivity = z.enum(SENSITIVITIES, { error: oneOf('sensitivity class', SENSITIVITIES) });
const detectAction = z.enum(DETECT_ACTIONS, { error: oneOf('detect action', DETECT_ACTIONS) });
const restoreAction = z.enum(RESTORE_ACTIONS, { error: oneOf('restore action', RESTORE_ACTIONS) });
const classTable = <V extends z.ZodType>(v: V) => keyed(SENSITIVITIES, v, 'sensitivity class');

export const policyOverrideSchema = z.strictObject(
  {
    sensitivity: keyed(ENTITY_TYPES, sensitivity, 'entity type').optional(),
    detect: classTable(detectAction).optional(),
    detectType: keyed(ENTITY_TYPES, detectAction, 'entity type').optional(),
    restore: keyed(ROLES, classTable(restoreAction), 'role').optional(),
    restoreDefault: classTable(restoreAction).optional(),
  },
  {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? `unknown field ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}; use sensitivity, detect, detectType, restore, restoreDefault`
        : 'a policy override must be a JSON object',
  },
);

/** Validates an override document (parsed JSON). Throws {@link PolicyValidationError}. */
export function parsePolicyOverride(json: unknown): PolicyOverride {
  const r = policyOverrideSchema.safeParse(json);
  if (r.success) return stripUndefined(r.data) as PolicyOverride;
  throw new PolicyValidationError(r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(document)'}: ${i.message}`));
}

/** Drops keys whose value is undefined (zod keeps none, but be explicit for stored JSON). */
function stripUndefined(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => [k, stripUndefined(x)]),
  );
}

function mergeTable<K extends string, V>(keys: readonly K[], base: Readonly<Record<K, V>>, over: Partial<Record<K, V>> | undefined): Record<K, V> {
  const out = {} as Record<K, V>;
  for (const k of keys) out[k] = over?.[k] ?? base[k];
  return out;
}

/**
 * `base` with `override` applied, field by field. The result is total: every entity type has a
 * class, every class a detect action, every restore table (and the default) an action per class.
 * A role's restore table starts from its table in `base` (or the merged `restoreDefault` for a
 * role `base` does not name). `detectType` entries are added to (and replace) those in `base`.
 */
export function mergePolicy(base: Policy, override: PolicyOverride): Policy {
  const restoreDefault = mergeTable(SENSITIVITIES, base.restoreDefault, override.restoreDefault);
  const restore: Record<string, Record<Sensitivity, RestoreAction>> = {};
  for (const [role, table] of Object.entries(base.restore)) restore[role] = mergeTable(SENSITIVITIES, table, undefined);
  for (const [role, table] of Object.entries(override.restore ?? {})) {
    if (table) restore[role] = mergeTable(SENSITIVITIES, base.restore[role] ?? restoreDefault, table);
  }
  const detectType: Partial<Record<EntityType, DetectAction>> = {};
  for (const t of ENTITY_TYPES) {
    const a = override.detectType?.[t] ?? base.detectType?.[t];
    if (a) detectType[t] = a;
  }
  return {
    sensitivity: mergeTable(ENTITY_TYPES, base.sensitivity, override.sensitivity),
    detect: mergeTable(SENSITIVITIES, base.detect, override.detect),
    ...(Object.keys(detectType).length > 0 ? { detectType } : {}),
    restore,
    restoreDefault,
  };
}
