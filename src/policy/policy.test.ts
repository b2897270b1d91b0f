/** The policy override document: validation (zod) and merging onto the default. Pure. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENTITY_TYPES } from '../core/types.js';
import { DEFAULT_POLICY, maskValue, restoreAction, ROLES, shouldMask, type Policy } from './index.js';
import {
  DETECT_ACTIONS,
  mergePolicy,
  parsePolicyOverride,
  PolicyValidationError,
  RESTORE_ACTIONS,
  SENSITIVITIES,
  type PolicyOverride,
} from './override.js';

const issues = (doc: unknown): string[] => {
  try {
    parsePolicyOverride(doc);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyValidationError);
    return [...(e as PolicyValidationError).issues];
  }
  throw new Error('expected the document to be rejected');
};

/** Arbitrary partial record over `keys` with values from `values`. */
const partial = <V>(keys: readonly string[], value: fc.Arbitrary<V>) =>
  fc.record(Object.fromEntries(keys.map((k) => [k, value])) as Record<string, fc.Arbitrary<V>>, { requiredKeys: [] });

const classTable = partial(SENSITIVITIES, fc.constantFrom(...RESTORE_ACTIONS));
const overrideArb: fc.Arbitrary<PolicyOverride> = fc.record(
  {
    sensitivity: partial(ENTITY_TYPES, fc.constantFrom(...SENSITIVITIES)),
    detect: partial(SENSITIVITIES, fc.constantFrom(...DETECT_ACTIONS)),
    detectType: partial(ENTITY_TYPES, fc.constantFrom(...DETECT_ACTIONS)),
    restore: partial(ROLES, classTable),
    restoreDefault: classTable,
  },
  { requiredKeys: [] },
) as fc.Arbitrary<PolicyOverride>;

function expectTotal(p: Policy) {
  for (const t of ENTITY_TYPES) {
    expect(SENSITIVITIES).toContain(p.sensitivity[t]);
    expect(typeof shouldMask(p, t)).toBe('boolean');
    for (const role of [...ROLES, 'unknown-role']) expect(RESTORE_ACTIONS).toContain(restoreAction(p, role, t));
  }
  for (const c of SENSITIVITIES) {
    expect(DETECT_ACTIONS).toContain(p.detect[c]);
    expect(RESTORE_ACTIONS).toContain(p.restoreDefault[c]);
    for (const role of ROLES) expect(RESTORE_ACTIONS).toContain(p.restore[role]![c]);
  }
}

describe('parsePolicyOverride', () => {
  it('accepts the empty document and a full one, returning the same data', () => {
    expect(parsePolicyOverride({})).toEqual({});
    const full = {
      sensitivity: { ORGANIZATION: 'public', IP: 'contextual' },
      detect: { contextual: 'pass' },
      detectType: { EMAIL: 'pass', LOCATION: 'mask' },
      restore: { user: { sensitive: 'masked' }, restricted: { highly_sensitive: 'placeholder' } },
      restoreDefault: { public: 'value' },
    };
    expect(parsePolicyOverride(full)).toEqual(full);
  });

  it('rejects unknown fields, types, classes, roles and actions with a clear path and message', () => {
    expect(issues({ detectTypes: {} })).toEqual([expect.stringMatching(/^\(document\): unknown field "detectTypes"; use sensitivity, detect/)]);
    expect(issues({ detectType: { EMAL: 'pass' } })).toEqual([expect.stringMatching(/^detectType: unknown entity type "EMAL"; use PERSON, .*EMAIL/)]);
    expect(issues({ sensitivity: { EMAIL: 'secret' } })).toEqual([
      'sensitivity.EMAIL: must be one of highly_sensitive, sensitive, contextual, public (sensitivity class)',
    ]);
    expect(issues({ detect: { sensitve: 'pass' } })).toEqual([expect.stringMatching(/^detect: unknown sensitivity class "sensitve"/)]);
    expect(issues({ detect: { sensitive: 'skip' } })).toEqual(['detect.sensitive: must be one of mask, pass (detect action)']);
    expect(issues({ restore: { guest: { sensitive: 'value' } } })).toEqual(['restore: unknown role "guest"; use admin, user, restricted']);
    expect(issues({ restore: { user: { sensitive: 'plain' } } })).toEqual(['restore.user.sensitive: must be one of value, masked, placeholder (restore action)']);
    expect(issues({ restoreDefault: 'value' })).toEqual(['restoreDefault: must be an object']);
    // several problems are all reported
    expect(issues({ detect: { public: 'x' }, detectType: { FOO: 'pass' } })).toHaveLength(2);
  });

  it('rejects documents that are not objects', () => {
    for (const doc of [null, undefined, [], 'policy', 42, true]) {
      expect(issues(doc)).toEqual(['(document): a policy override must be a JSON object']);
    }
    expect(issues(JSON.parse('{"__proto__": {"detect": {}}}'))).toEqual([expect.stringMatching(/unknown field "__proto__"/)]);
  });

  it('every generated override validates and round-trips through JSON', () => {
    fc.assert(
      fc.property(overrideArb, (o) => {
        expect(parsePolicyOverride(JSON.parse(JSON.stringify(o)))).toEqual(o);
      }),
    );
  });
});

describe('mergePolicy', () => {
  it('an empty override gives the default', () => {
    expect(mergePolicy(DEFAULT_POLICY, {})).toEqual(DEFAULT_POLICY);
    fc.assert(
      fc.property(fc.constantFrom<PolicyOverride>({}, { restore: {} }, { sensitivity: {}, detect: {}, detectType: {}, restoreDefault: {} }), (o) => {
        expect(mergePolicy(DEFAULT_POLICY, o)).toEqual(DEFAULT_POLICY);
      }),
    );
  });

  it('the merged policy is always total, takes every override value and keeps every other default', () => {
    fc.assert(
      fc.property(overrideArb, (o) => {
        const p = mergePolicy(DEFAULT_POLICY, o);
        expectTotal(p);
        for (const t of ENTITY_TYPES) {
          expect(p.sensitivity[t]).toBe(o.sensitivity?.[t] ?? DEFAULT_POLICY.sensitivity[t]);
          expect(p.detectType?.[t]).toBe(o.detectType?.[t]);
        }
        for (const c of SENSITIVITIES) {
          expect(p.detect[c]).toBe(o.detect?.[c] ?? DEFAULT_POLICY.detect[c]);
          expect(p.restoreDefault[c]).toBe(o.restoreDefault?.[c] ?? DEFAULT_POLICY.restoreDefault[c]);
          for (const r of ROLES) expect(p.restore[r]![c]).toBe(o.restore?.[r]?.[c] ?? DEFAULT_POLICY.restore[r]![c]);
        }
      }),
    );
  });

  it('merging is idempotent and does not modify its inputs', () => {
    const before = JSON.stringify(DEFAULT_POLICY);
    fc.assert(
      fc.property(overrideArb, (o) => {
        const snapshot = JSON.stringify(o);
        const once = mergePolicy(DEFAULT_POLICY, o);
        expect(mergePolicy(once, o)).toEqual(once);
        expect(JSON.stringify(o)).toBe(snapshot);
      }),
    );
    expect(JSON.stringify(DEFAULT_POLICY)).toBe(before);
  });

  it('a role the base does not name starts from the merged restoreDefault', () => {
    const base: Policy = { ...DEFAULT_POLICY, restore: {} };
    const p = mergePolicy(base, { restoreDefault: { contextual: 'value' }, restore: { user: { sensitive: 'masked' } } });
    expect(p.restore.user).toEqual({ highly_sensitive: 'placeholder', sensitive: 'masked', contextual: 'value', public: 'value' });
  });

  it('the issue examples: pass emails through; show "user" masked emails', () => {
    const pass = mergePolicy(DEFAULT_POLICY, parsePolicyOverride({ detectType: { EMAIL: 'pass' } }));
    expect(shouldMask(pass, 'EMAIL')).toBe(false);
    expect(shouldMask(pass, 'PHONE')).toBe(true);
    const masked = mergePolicy(DEFAULT_POLICY, parsePolicyOverride({ restore: { user: { sensitive: 'masked' } } }));
    expect(restoreAction(masked, 'user', 'EMAIL')).toBe('masked');
    expect(restoreAction(masked, 'admin', 'EMAIL')).toBe('value');
    expect(restoreAction(masked, 'user', 'CARD')).toBe('masked');
    const contextualPass = mergePolicy(DEFAULT_POLICY, parsePolicyOverride({ detect: { contextual: 'pass' } }));
    expect(shouldMask(contextualPass, 'ORGANIZATION')).toBe(false);
    expect(shouldMask(contextualPass, 'PERSON')).toBe(true);
  });
});

describe('maskValue (partial masks for the "masked" restore action)', () => {
  it.each([
    ['ACCOUNT_ID', 'CUS-8841902', '•••• 1902'],
    ['URL', 'https://www.linkedin.com/in/ada-l', 'https://www.linkedin.com/•••'],
    ['URL', 'github.com/ada', 'github.com/•••'],
    ['USERNAME', 'ada_l', 'a•••'],
    ['VEHICLE', 'AB12 CDE', 'A•••'],
  ] as const)('%s %s → %s', (type, value, want) => expect(maskValue(type, value)).toBe(want));
  it('every type has a sensitivity class', () => {
    for (const t of ENTITY_TYPES) expect(DEFAULT_POLICY.sensitivity[t]).toMatch(/^(highly_sensitive|sensitive|contextual|public)$/);
  });
});
