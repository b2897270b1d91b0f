/** Normalization for token stability: examples and fast-check properties. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENTITY_TYPES } from '../core/types.js';
import { blindInput, normalizeValue } from './normalize.js';

describe('normalizeValue examples', () => {
  it.each([
    ['EMAIL', '  Ada.Lovelace@Example.COM ', 'ada.lovelace@example.com'],
    ['PHONE', '+1 (415) 555-0100', '+14155550100'],
    ['PHONE', '415.555.0100', '4155550100'],
    ['CARD', '4111-1111 1111.1111', '4111111111111111'],
    ['IBAN', 'de89 3704 0044 0532 0130 00', 'DE89370400440532013000'],
    ['SSN', '123-45-6789', '123456789'],
    ['PERSON', '  Ada\u00a0  LOVELACE\n', 'ada lovelace'],
    ['PERSON', 'Straße', 'strasse'],
    ['ORGANIZATION', 'ＡＣＭＥ Corp', 'acme corp'],
    ['ADDRESS', '10  Downing St.', '10 downing st.'],
    ['DOB', ' 03/04/1990 ', '03/04/1990'],
    ['IP', 'FE80::1', 'fe80::1'],
    ['CARD', '---', '---'],
    ['USERNAME', ' J.Doe42 ', 'j.doe42'],
    ['URL', 'https://www.LinkedIn.com/in/ada-l/', 'linkedin.com/in/ada-l'],
    ['URL', 'linkedin.com/in/ada-l', 'linkedin.com/in/ada-l'],
    ['VEHICLE', 'ab12 cde', 'AB12CDE'],
    ['ACCOUNT_ID', 'cus-8841 902', 'CUS8841902'],
  ] as const)('%s %j → %j', (type, value, want) => {
    expect(normalizeValue(type, value)).toBe(want);
  });
  it('keeps types apart in the blind input', () => {
    expect(blindInput('PERSON', 'Paris')).toBe('PERSON|paris');
    expect(blindInput('LOCATION', 'Paris')).not.toBe(blindInput('PERSON', 'Paris'));
  });
});

const anyType = fc.constantFrom(...ENTITY_TYPES);
const text = fc.string({ unit: 'grapheme', maxLength: 40 });

describe('normalizeValue properties', () => {
  it('is idempotent for every type and any Unicode text', () => {
    fc.assert(
      fc.property(anyType, fc.oneof(text, fc.string({ unit: 'binary', maxLength: 40 })), (type, v) => {
        const n = normalizeValue(type, v);
        expect(normalizeValue(type, n)).toBe(n);
      }),
      { numRuns: 2000 },
    );
  });
  it('ignores case and surrounding whitespace for emails and names', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('EMAIL', 'PERSON', 'ORGANIZATION', 'ADDRESS', 'LOCATION' as const),
        fc.stringMatching(/^[A-Za-z][A-Za-z .@-]{0,30}$/),
        fc.stringMatching(/^[ \t]{0,3}$/),
        (type, v, pad) => {
          expect(normalizeValue(type, pad + v.toUpperCase() + pad)).toBe(normalizeValue(type, v.toLowerCase()));
        },
      ),
    );
  });
  it('ignores separators in numbers and identifiers', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('CARD', 'IBAN', 'SSN', 'BANK_ACCOUNT', 'ROUTING', 'PASSPORT' as const),
        fc.array(fc.stringMatching(/^[0-9A-Za-z]{1,4}$/), { minLength: 1, maxLength: 6 }),
        fc.constantFrom(' ', '-', '.', ' - ', ''),
        (type, groups, sep) => {
          expect(normalizeValue(type, groups.join(sep))).toBe(groups.join('').toUpperCase());
        },
      ),
    );
  });
  it('keeps the leading + of phone numbers and drops other separators', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[0-9]{1,4}$/), { minLength: 1, maxLength: 5 }), fc.boolean(), (groups, plus) => {
        const formatted = (plus ? '+' : '') + groups.join(' (-) ');
        expect(normalizeValue('PHONE', formatted)).toBe((plus ? '+' : '') + groups.join(''));
      }),
    );
  });
  it('distinguishes different digits', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{6,19}$/), fc.stringMatching(/^[0-9]{6,19}$/), (a, b) => {
        fc.pre(a !== b);
        expect(normalizeValue('CARD', a)).not.toBe(normalizeValue('CARD', b));
      }),
    );
  });
});
