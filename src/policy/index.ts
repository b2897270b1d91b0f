/**
 * Policy is data: which types are masked before the upstream sees them, and what each role
 * gets back when a placeholder is re-injected. Per tenant; {@link DEFAULT_POLICY} applies
 * where a tenant has none.
 */
import type { EntityType, Sensitivity } from '../core/types.js';
import { ENTITIES, entityColumn } from '../core/entities.js';

export type DetectAction = 'mask' | 'pass';
/** value: the real value; masked: a partial mask such as `•••• 1111`; placeholder: left as is. */
export type RestoreAction = 'value' | 'masked' | 'placeholder';

export interface Policy {
  readonly sensitivity: Readonly<Record<EntityType, Sensitivity>>;
  readonly detect: Readonly<Record<Sensitivity, DetectAction>>;
  /** Per-type override of `detect` (e.g. pass ORGANIZATION through for one tenant). */
  readonly detectType?: Readonly<Partial<Record<EntityType, DetectAction>>>;
  readonly restore: Readonly<Record<string, Readonly<Record<Sensitivity, RestoreAction>>>>;
  /** What a role not named in `restore` gets. */
  readonly restoreDefault: Readonly<Record<Sensitivity, RestoreAction>>;
}

/** The default class of every type: the `sensitivity` column of the entity table (src/core/entities.ts). */
export const DEFAULT_SENSITIVITY: Readonly<Record<EntityType, Sensitivity>> = entityColumn('sensitivity');

export const DEFAULT_POLICY: Policy = {
  sensitivity: DEFAULT_SENSITIVITY,
  detect: { highly_sensitive: 'mask', sensitive: 'mask', contextual: 'mask', public: 'pass' },
  restore: {
    admin: { highly_sensitive: 'value', sensitive: 'value', contextual: 'value', public: 'value' },
    user: { highly_sensitive: 'masked', sensitive: 'value', contextual: 'value', public: 'value' },
    restricted: { highly_sensitive: 'masked', sensitive: 'masked', contextual: 'value', public: 'value' },
  },
  restoreDefault: { highly_sensitive: 'placeholder', sensitive: 'placeholder', contextual: 'placeholder', public: 'value' },
};

export const ROLES = ['admin', 'user', 'restricted'] as const;
export type Role = (typeof ROLES)[number];
export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);

export function shouldMask(policy: Policy, type: EntityType): boolean {
  const override = policy.detectType?.[type];
  if (override) return override === 'mask';
  return policy.detect[policy.sensitivity[type]] === 'mask';
}

export function restoreAction(policy: Policy, role: string, type: EntityType): RestoreAction {
  const table = policy.restore[role] ?? policy.restoreDefault;
  return table[policy.sensitivity[type]];
}

/** A partial mask that keeps a little for recognition and nothing that identifies. */
export function maskValue(type: EntityType, value: string): string {
  switch (ENTITIES[type].mask) {
    case 'last4': {
      const alnum = value.replace(/[^0-9A-Za-z]/g, '');
      return alnum.length > 8 ? `•••• ${alnum.slice(-4)}` : '••••';
    }
    case 'email': {
      const at = value.indexOf('@');
      return at > 0 ? `${value[0]}•••@${value.slice(at + 1)}` : '•••';
    }
    case 'url': {
      // keep the host, hide the part that names the person
      const m = /^(?:[a-z][a-z0-9+.-]*:\/\/)?[^/?#\s]+/i.exec(value);
      return m ? `${m[0]}/•••` : '•••';
    }
    case 'initial':
      return value.length > 0 ? `${[...value][0]}•••` : '•••';
  }
}
