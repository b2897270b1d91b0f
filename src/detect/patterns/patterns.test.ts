import { faker } from '@faker-js/faker';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EntityType } from '../../core/types.js';
import type { Span } from '../types.js';
import { cardBrandOk } from './card.js';
import { matchDateAt } from './date.js';
import { IBAN_LENGTHS, isValidIban } from './iban.js';
import { createPatternDetector, findPatternSpans } from './index.js';
import { isIPv4, isIPv6 } from './ip.js';
import { expectWellFormed } from '../../../test/helpers/spans.js';
import { ssnPartsOk } from './ssn.js';
import { abaValid, luhnValid } from './util.js';

type Want = [EntityType, string] | [EntityType, string, number];

/** Expected spans from values: each value's offset is its first occurrence after the previous one. */
function want(text: string, items: Want[]): Array<Pick<Span, 'start' | 'end' | 'type'>> {
  let from = 0;
  return items.map(([type, value, at]) => {
    const start = text.indexOf(value, at ?? from);
    if (start < 0) throw new Error(`test bug: ${value} not in text`);
    from = start + value.length;
    return { start, end: start + value.length, type };
  });
}

function got(text: string) {
  return findPatternSpans(text).map(({ start, end, type }) => ({ start, end, type }));
}

function check(text: string, items: Want[]) {
  expect(got(text)).toEqual(want(text, items));
}

describe('checksums and validators', () => {
  it('Luhn, ABA, IBAN mod-97, SSN rules, brands, IPs', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(abaValid('021000021')).toBe(true);
    expect(abaValid('021000022')).toBe(false);
    expect(abaValid('000000000')).toBe(false);
    expect(isValidIban('GB82WEST12345698765432')).toBe(true);
    expect(isValidIban('GB82WEST12345698765433')).toBe(false);
    expect(isValidIban('GB82WEST1234569876543')).toBe(false); // wrong length
    expect(isValidIban('XX82WEST12345698765432')).toBe(false); // no such country
    expect(ssnPartsOk('123456789')).toBe(true);
    for (const bad of ['000123456', '666123456', '900123456', '999123456', '123006789', '123450000'])
      expect(ssnPartsOk(bad)).toBe(false);
    expect(cardBrandOk('4111111111111111')).toBe(true);
    expect(cardBrandOk('9111111111111111')).toBe(false);
    expect(cardBrandOk('341111111111111')).toBe(true); // Amex, 15
    expect(cardBrandOk('3411111111111111')).toBe(false); // Amex, 16
    expect(isIPv4('255.255.255.255')).toBe(true);
    expect(isIPv4('256.1.1.1')).toBe(false);
    expect(isIPv4('01.2.3.4')).toBe(false);
    expect(isIPv6('2001:db8::1')).toBe(true);
    expect(isIPv6('::ffff:192.0.2.128')).toBe(true);
    expect(isIPv6('1:2:3:4:5:6:7:8')).toBe(true);
    expect(isIPv6('1:2:3:4:5:6:7:8:9')).toBe(false);
    expect(isIPv6('1::2::3')).toBe(false);
    expect(isIPv6('12:30:45')).toBe(false);
    expect(isIPv6('00:1A:2B:3C:4D:5E')).toBe(false);
    expect(matchDateAt('x 1985-02-30', 2)).toBe(12); // day/month range only, not calendar
    expect(matchDateAt('x 1985-13-01', 2)).toBe(-1);
  });
});

describe('positive examples, exact spans', () => {
  it.each<[string, Want[]]>([
    // EMAIL
    ['write to john.doe+tag@example.co.uk.', [['EMAIL', 'john.doe+tag@example.co.uk']]],
    ['<a.b@mail.example.com>, (x_y@ex-ample.org)', [['EMAIL', 'a.b@mail.example.com'], ['EMAIL', 'x_y@ex-ample.org']]],
    ['mailto:JANE@EXAMPLE.COM?', [['EMAIL', 'JANE@EXAMPLE.COM']]],
    ["https://x.example/?email=o'brien@example.ie&x=1 and 'ann@ex.io'", [['EMAIL', "o'brien@example.ie"], ['EMAIL', 'ann@ex.io']]],
    ['jürgen.müller@bücher.de, 用户@例子.广告', [['EMAIL', 'jürgen.müller@bücher.de'], ['EMAIL', '用户@例子.广告']]],
    // PHONE
    ['Call +44 20 7946 0958 now', [['PHONE', '+44 20 7946 0958']]],
    ['Fax: 345-899-3560x4587', [['PHONE', '345-899-3560x4587']]],
    ['Desk: +1-903-140-4508x769\n', [['PHONE', '+1-903-140-4508x769']]],
    ["They're not answering at 78 651 450", [['PHONE', '78 651 450']]],
    ['Mobile: 03.93.92.16.85', [['PHONE', '03.93.92.16.85']]],
    ['082 490 1693-Office', [['PHONE', '082 490 1693']]],
    ['28-64-66-98 office', [['PHONE', '28-64-66-98']]],
    ['Can someone call me on 450 0840?', [['PHONE', '450 0840']]],
    ['call 555-2671 today', [['PHONE', '555-2671']]],
    // CARD by brand (JCB 15-digit, Maestro 12-digit) and by context word (Luhn-valid, other prefix)
    ['I withdraw cash using my card 213176828496175 at ATM', [['CARD', '213176828496175']]],
    ['increase limit on my card # 503890547220 for', [['CARD', '503890547220']]],
    ['the last billed amount for cc 3509413199654323 on', [['CARD', '3509413199654323']]],
    ['Tel (415) 555-2671.', [['PHONE', '(415) 555-2671']]],
    ['or 415-555-2671, thanks', [['PHONE', '415-555-2671']]],
    ['+1 415 555 2671', [['PHONE', '+1 415 555 2671']]],
    ['Berlin: +49 30 901820', [['PHONE', '+49 30 901820']]],
    ['dial 0044 20 7946 0958', [['PHONE', '0044 20 7946 0958']]],
    ['from the US dial 011 44 20 7946 0958', [['PHONE', '011 44 20 7946 0958']]],
    ['415.555.2671 / 4155552671', [['PHONE', '415.555.2671'], ['PHONE', '4155552671']]],
    ['+1 (415) 555-2671 ext. 12, 975.310.8670 x982 or (389) 832-5791.', [['PHONE', '+1 (415) 555-2671 ext. 12'], ['PHONE', '975.310.8670 x982'], ['PHONE', '(389) 832-5791']]],
    ['room 12 415-555-2671', [['PHONE', '415-555-2671']]],
    ['+33 1 23 45 67 89, +91 98765 43210, +81 3-1234-5678, +14155552671', [['PHONE', '+33 1 23 45 67 89'], ['PHONE', '+91 98765 43210'], ['PHONE', '+81 3-1234-5678'], ['PHONE', '+14155552671']]],
    ['Phone: 020 7946 0958 (UK); call me at 06 12 34 56 78; tel. 030 901820', [['PHONE', '020 7946 0958'], ['PHONE', '06 12 34 56 78'], ['PHONE', '030 901820']]],
    // CARD
    ['card 4111 1111 1111 1111 exp 12/27', [['CARD', '4111 1111 1111 1111']]],
    ['4111111111111111', [['CARD', '4111111111111111']]],
    ['MC 5555-5555-5555-4444; MC2 2223003122003222', [['CARD', '5555-5555-5555-4444'], ['CARD', '2223003122003222']]],
    ['Amex 3782 822463 10005 and 378282246310005', [['CARD', '3782 822463 10005'], ['CARD', '378282246310005']]],
    ['Discover 6011 1111 1111 1117, JCB 3530111333300000', [['CARD', '6011 1111 1111 1117'], ['CARD', '3530111333300000']]],
    ['Diners 3056 930902 5904, UnionPay 6200000000000005, Visa13 4222222222222', [['CARD', '3056 930902 5904'], ['CARD', '6200000000000005'], ['CARD', '4222222222222']]],
    // IBAN
    ['IBAN DE89 3704 0044 0532 0130 00.', [['IBAN', 'DE89 3704 0044 0532 0130 00']]],
    ['iban: DE89370400440532013000', [['IBAN', 'DE89370400440532013000']]],
    ['GB82 WEST 1234 5698 7654 32 or fr1420041010050500013m02606', [['IBAN', 'GB82 WEST 1234 5698 7654 32'], ['IBAN', 'fr1420041010050500013m02606']]],
    ['NL91ABNA0417164300, BE68 5390 0754 7034, NO9386011117947', [['IBAN', 'NL91ABNA0417164300'], ['IBAN', 'BE68 5390 0754 7034'], ['IBAN', 'NO9386011117947']]],
    // SSN
    ['SSN 123-45-6789', [['SSN', '123-45-6789']]],
    ['social security number: 123456789', [['SSN', '123456789']]],
    ['Social Security #: 123 45 6789', [['SSN', '123 45 6789']]],
    ['ss# 078-05-1120', [['SSN', '078-05-1120']]],
    // IP
    ['from 192.168.1.1, then 10.0.0.255:8080', [['IP', '192.168.1.1'], ['IP', '10.0.0.255']]],
    ['v6 2001:0db8:85a3:0000:0000:8a2e:0370:7334 and fe80::1ff:fe23:4567:890a.', [['IP', '2001:0db8:85a3:0000:0000:8a2e:0370:7334'], ['IP', 'fe80::1ff:fe23:4567:890a']]],
    ['mapped ::ffff:192.0.2.128 and [2001:db8::7]:443', [['IP', '::ffff:192.0.2.128'], ['IP', '2001:db8::7']]],
    // context identifiers
    ['account number: 12345678', [['BANK_ACCOUNT', '12345678']]],
    ['acct # 000123456789', [['BANK_ACCOUNT', '000123456789']]],
    ['A/C 9876543210 at Chase', [['BANK_ACCOUNT', '9876543210']]],
    ['my checking account is 4455667788', [['BANK_ACCOUNT', '4455667788']]],
    ['Bank account number 12 3456 7890; account no: 1234-5678-90', [['BANK_ACCOUNT', '12 3456 7890'], ['BANK_ACCOUNT', '1234-5678-90']]],
    ['ABA routing 021000021', [['ROUTING', '021000021']]],
    ['Routing Number: 011000015; RTN 021000021', [['ROUTING', '011000015'], ['ROUTING', '021000021']]],
    ['passport no. X1234567', [['PASSPORT', 'X1234567']]],
    ['Passport number is 123456789.', [['PASSPORT', '123456789']]],
    ["driver's license: D1234567", [['DRIVER_LICENSE', 'D1234567']]],
    ['Driver Licence no. SMITH801234AB1', [['DRIVER_LICENSE', 'SMITH801234AB1']]],
    ['DL# A12-345-678', [['DRIVER_LICENSE', 'A12-345-678']]],
    ['NINO AB123456C', [['NATIONAL_ID', 'AB123456C']]],
    ['national insurance number: AB 12 34 56 C', [['NATIONAL_ID', 'AB 12 34 56 C']]],
    ['Aadhaar 1234 5678 9012', [['NATIONAL_ID', '1234 5678 9012']]],
    ['SIN 046 454 286', [['NATIONAL_ID', '046 454 286']]],
    ['ID number: K-99812345', [['NATIONAL_ID', 'K-99812345']]],
    ['MRN: 00123456', [['MEDICAL_RECORD', '00123456']]],
    ['patient id PT-0045512', [['MEDICAL_RECORD', 'PT-0045512']]],
    ['Medical Record Number #A77812', [['MEDICAL_RECORD', 'A77812']]],
    ['member id: XYZ123456789', [['INSURANCE_ID', 'XYZ123456789']]],
    ['policy number is 99-123-456', [['INSURANCE_ID', '99-123-456']]],
    ['Subscriber ID W123456789, Group No. 88123', [['INSURANCE_ID', 'W123456789'], ['INSURANCE_ID', '88123']]],
    // DOB
    ['DOB: 1985-03-14', [['DOB', '1985-03-14']]],
    ['D.O.B. 03/14/1985', [['DOB', '03/14/1985']]],
    ['born on March 14, 1985 in Ohio', [['DOB', 'March 14, 1985']]],
    ['date of birth 14 March 1985', [['DOB', '14 March 1985']]],
    ['birthday: Mar 14 1985', [['DOB', 'Mar 14 1985']]],
    ['born 14.03.1985', [['DOB', '14.03.1985']]],
    ['DOB 14-Mar-1985; dob: 14 Mar 85; DOB 1985.03.14', [['DOB', '14-Mar-1985'], ['DOB', '14 Mar 85'], ['DOB', '1985.03.14']]],
    ['Date of Birth (DOB): 14th of March, 1985', [['DOB', '14th of March, 1985']]],
  ])('%s', (text, items) => check(text, items));
});

describe('negative examples', () => {
  it.each([
    'The price is $1,299.99 or €45.50, total 1234567.89',
    'Meeting on 2024-03-14 at 12:30, and again on 03/15/2024.',
    'Released version 1.2.3 and 2.10.4-beta; upgrade to version 1.2.3.4 today',
    'Order #123456789 shipped; order number 4155552671; invoice INV-2024-0012345; Order 2024-000123',
    'ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2',
    'timestamp 2024-03-14T12:30:45Z or 1700000000 or 12:30:45.123',
    'cards that fail Luhn: 4111 1111 1111 1112, 1234 5678 9012 3456, 5555555555554445',
    'not SSNs: 000-12-3456, 666-12-3456, 912-12-3456, 123-00-4567, 123-45-0000',
    'bad IBAN DE89 3704 0044 0532 0130 01 and GB82WEST12345698765433',
    'zip 94103 and 94103-1234, years 1999, 2024 and 1850-1900',
    'MAC 00:1A:2B:3C:4D:5E, ratio 16:9, time 12:30, C++ std::vector',
    'not IPs: 1.2.3.4.5, 256.1.1.1, 01.02.03.04, 1.2.3',
    'routing number 123456789 (bad checksum) and account: none',
    'passport expired yesterday; the DL office; born in 1985; DOB unknown',
    'emails that are not: user@localhost, a@b, @home, foo@bar.c0m',
    'count 1234567 items, population 8,000,000,000',
    'dial-up 555-2671 (too short) or 123-456-7890 (invalid area code)',
    'Phone number is 2024; code 020-7946 and 0012 3456 78',
    'UUID 123e4567-e89b-12d3-a456-426614174000, sha 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12, tracking 1Z999AA10123456784',
    'In 2023 revenue grew 12.5% to $4,155,552,671 across 1,200 stores; coordinates 37.7749, -122.4194',
  ])('%s', (text) => expect(got(text)).toEqual([]));
});

describe('overlaps and placeholders', () => {
  it('CARD beats PHONE, IBAN beats BANK_ACCOUNT, context beats PHONE, EMAIL beats its digits', () => {
    check('account number: DE89370400440532013000', [['IBAN', 'DE89370400440532013000']]);
    check('acct 4111111111111111', [['CARD', '4111111111111111']]);
    check('patient id 4155552671', [['MEDICAL_RECORD', '4155552671']]);
    check('mail 4155552671@example.com', [['EMAIL', '4155552671@example.com']]);
    check('ssn: 123-45-6789', [['SSN', '123-45-6789']]);
  });
  it("never reports text inside Veil's own placeholders", () => {
    check('email [EMAIL_K3P9ZA12], phone [PHONE_41555526], ssn 123-45-6789', [['SSN', '123-45-6789']]);
    check('account number: [BANK_ACCOUNT_12345678]', []);
  });
});

describe('realistic texts', () => {
  it('support ticket', () => {
    const t =
      'Ticket #48213 (priority high). Customer Jane Doe <jane.doe@example.com> called from (415) 555-2671 on 2024-03-14 at 12:30. ' +
      'She says card 4111 1111 1111 1111 was charged twice ($49.99) and her SSN 123-45-6789 showed in the portal. ' +
      'Login IP 203.0.113.7, app version 4.2.1, order 1234567.';
    check(t, [
      ['EMAIL', 'jane.doe@example.com'],
      ['PHONE', '(415) 555-2671'],
      ['CARD', '4111 1111 1111 1111'],
      ['SSN', '123-45-6789'],
      ['IP', '203.0.113.7'],
    ]);
  });
  it('clinical note', () => {
    const t =
      'Patient: John Smith, DOB: 03/14/1985, MRN: 00123456. Seen 2024-02-01 for follow-up, BP 120/80, HR 72. ' +
      'Insurance member ID: XYZ123456789, group number 88123. Contact (415) 555-2671 or jsmith@mail.com. ' +
      'Social security number 123 45 6789 on file. Next visit in 6 weeks.';
    check(t, [
      ['DOB', '03/14/1985'],
      ['MEDICAL_RECORD', '00123456'],
      ['INSURANCE_ID', 'XYZ123456789'],
      ['INSURANCE_ID', '88123'],
      ['PHONE', '(415) 555-2671'],
      ['EMAIL', 'jsmith@mail.com'],
      ['SSN', '123 45 6789'],
    ]);
  });
  it('bank email', () => {
    const t =
      'Dear customer,\nplease wire EUR 1,250.00 to IBAN GB82 WEST 1234 5698 7654 32 (ref. INV-2291).\n' +
      'Our US account number: 000123456789, ABA routing 021000021. Card on file: 5555-5555-5555-4444.\n' +
      'Questions? Call +44 20 7946 0958 or write to billing@bank.example. Your session IP was 2001:db8::7.\nRegards';
    check(t, [
      ['IBAN', 'GB82 WEST 1234 5698 7654 32'],
      ['BANK_ACCOUNT', '000123456789'],
      ['ROUTING', '021000021'],
      ['CARD', '5555-5555-5555-4444'],
      ['PHONE', '+44 20 7946 0958'],
      ['EMAIL', 'billing@bank.example'],
      ['IP', '2001:db8::7'],
    ]);
  });
  it('scores: validated 1, context-only 0.9', () => {
    const s = findPatternSpans('SSN 123-45-6789, MRN 00123456');
    expect(s.map((x) => [x.type, x.score, x.source])).toEqual([
      ['SSN', 1, 'pattern'],
      ['MEDICAL_RECORD', 0.9, 'pattern'],
    ]);
  });
});

// ---------- property tests ----------

const FILLER_WORDS = ['the', 'quick', 'brown', 'fox', 'hello', 'please', 'thanks', 'value', 'see', 'ok', 'yes', 'later'];
const filler = fc
  .array(fc.constantFrom(...FILLER_WORDS), { maxLength: 12 })
  .map((ws) => ws.join(' '));
const left = fc.tuple(filler, fc.constantFrom(' ', ': ', ' (', '\n', ' "')).map(([w, s]) => (w === '' ? '' : w + s));
const right = fc.tuple(fc.constantFrom(' ', '. ', ', ', ') ', '\n', '" '), filler).map(([s, w]) => s + w);

function luhnComplete(prefixAndBody: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(prefixAndBody + d)) return prefixAndBody + d;
  throw new Error('unreachable');
}

const BRAND_GEN: ReadonlyArray<[string, number]> = [
  ['4', 16], ['4', 13], ['51', 16], ['55', 16], ['2221', 16], ['2720', 16], ['34', 15], ['37', 15],
  ['6011', 16], ['65', 16], ['644', 16], ['3528', 16], ['3589', 16], ['36', 14], ['300', 14], ['62', 16],
];

const cardArb = fc
  .tuple(fc.constantFrom(...BRAND_GEN), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 19, maxLength: 19 }), fc.constantFrom('', ' ', '-'))
  .map(([[prefix, len], ds, sep]) => {
    const digits = luhnComplete(prefix + ds.join('').slice(0, len - prefix.length - 1));
    if (sep === '') return digits;
    if (len === 15) return [digits.slice(0, 4), digits.slice(4, 10), digits.slice(10)].join(sep);
    if (len === 14) return [digits.slice(0, 4), digits.slice(4, 10), digits.slice(10)].join(sep);
    return digits.match(/.{1,4}/g)!.join(sep);
  });

function mod97(s: string): number {
  let r = 0;
  for (const ch of s) {
    const v = /[A-Z]/.test(ch) ? ch.charCodeAt(0) - 55 : Number(ch);
    r = v >= 10 ? (r * 100 + v) % 97 : (r * 10 + v) % 97;
  }
  return r;
}

const ibanArb = fc
  .tuple(
    fc.constantFrom(...Object.keys(IBAN_LENGTHS)),
    fc.array(fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'), { minLength: 30, maxLength: 30 }),
    fc.boolean(),
  )
  .map(([cc, chars, spaced]) => {
    const bban = chars.join('').slice(0, IBAN_LENGTHS[cc]! - 4);
    const check = String(98 - mod97(bban + cc + '00')).padStart(2, '0');
    const iban = cc + check + bban;
    return spaced ? iban.match(/.{1,4}/g)!.join(' ') : iban;
  });

function ssnArbFor(seps: string[]) {
  return fc
    .tuple(fc.integer({ min: 1, max: 899 }), fc.integer({ min: 1, max: 99 }), fc.integer({ min: 1, max: 9999 }), fc.constantFrom(...seps))
    .filter(([a]) => a !== 666)
    .map(([a, g, s, sep]) => [String(a).padStart(3, '0'), String(g).padStart(2, '0'), String(s).padStart(4, '0')].join(sep));
}
const ssnArb = ssnArbFor(['-']);

const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?$/);
const emailArb = fc
  .tuple(
    fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_%+-]{0,9}(?:\.[A-Za-z0-9_%+-]{1,10}){0,2}$/),
    fc.array(label, { minLength: 1, maxLength: 3 }),
    fc.stringMatching(/^[a-z]{2,6}$/),
  )
  .map(([local, labels, tld]) => `${local}@${labels.join('.')}.${tld}`);

const ipv4Arb = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const ipv6Arb = fc
  .tuple(fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }), fc.boolean())
  .map(([gs, compress]) => {
    const hex = gs.map((g) => g.toString(16));
    if (!compress) return hex.join(':');
    // compress the longest run of zeros (RFC 5952 style); force a run so '::' appears
    hex[3] = '0';
    hex[4] = '0';
    let best = [-1, 0];
    for (let i = 0; i < 8; ) {
      if (hex[i] !== '0') { i++; continue; }
      let j = i;
      while (j < 8 && hex[j] === '0') j++;
      if (j - i > best[1]!) best = [i, j - i];
      i = j;
    }
    const [s, n] = best as [number, number];
    return `${hex.slice(0, s).join(':')}::${hex.slice(s + n).join(':')}`;
  });

function embeddedFound(type: EntityType, valueArb: fc.Arbitrary<string>) {
  fc.assert(
    fc.property(left, valueArb, right, (l, v, r) => {
      const text = l + v + r;
      const spans = findPatternSpans(text);
      expect(spans).toContainEqual(expect.objectContaining({ start: l.length, end: l.length + v.length, type }));
    }),
    { numRuns: 300 },
  );
}

describe('property: generated values embedded in text are found with exact offsets', () => {
  it('CARD', () => embeddedFound('CARD', cardArb));
  it('IBAN', () => embeddedFound('IBAN', ibanArb));
  it('SSN', () => embeddedFound('SSN', ssnArb));
  it('EMAIL', () => embeddedFound('EMAIL', emailArb));
  it('IPv4', () => embeddedFound('IP', ipv4Arb));
  it('IPv6', () => embeddedFound('IP', ipv6Arb));
  it('IBAN with one changed digit is not an IBAN', () => {
    fc.assert(
      fc.property(ibanArb, fc.nat(), (iban, k) => {
        const compact = iban.replace(/ /g, '');
        const pos = 4 + (k % (compact.length - 4));
        const c = compact[pos]!;
        if (!/\d/.test(c)) return;
        const broken = compact.slice(0, pos) + ((Number(c) + 1) % 10) + compact.slice(pos + 1);
        expect(isValidIban(broken)).toBe(false);
      }),
    );
  });
});

describe('property: context-word values are found with exact offsets', () => {
  const digits = (min: number, max: number) =>
    fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));
  const alnumWithDigit = (min: number, max: number) =>
    fc
      .tuple(fc.stringMatching(new RegExp(`^[A-Z0-9]{${min - 1},${max - 1}}$`)), fc.integer({ min: 0, max: 9 }), fc.nat())
      .map(([s, d, k]) => {
        const i = k % (s.length + 1);
        return s.slice(0, i) + d + s.slice(i);
      });
  const routing = digits(8, 8).map((d) => {
    const w = [3, 7, 1, 3, 7, 1, 3, 7];
    const sum = [...d].reduce((a, c, i) => a + Number(c) * w[i]!, 0);
    return d + ((10 - (sum % 10)) % 10);
  });
  const cases: Array<[EntityType, string[], fc.Arbitrary<string>]> = [
    // (a value that is also a valid card number is a CARD: CARD outranks BANK_ACCOUNT)
    ['BANK_ACCOUNT', ['account number', 'acct', 'a/c', 'bank account'], digits(6, 17).filter((d) => !(cardBrandOk(d) && luhnValid(d)))],
    ['ROUTING', ['routing number', 'ABA', 'RTN', 'aba routing'], routing],
    ['PASSPORT', ['passport', 'passport no.', 'Passport Number'], alnumWithDigit(6, 9)],
    // licence numbers hold at least three digits ("DL" is also decilitres: "g/dL HbA1c")
    ['DRIVER_LICENSE', ["driver's license", 'driver licence', 'DL', 'DLN', 'driving licence'], alnumWithDigit(5, 15).filter((v) => (v.match(/\d/g)?.length ?? 0) >= 3)],
    ['NATIONAL_ID', ['national id', 'ID number', 'national identity number'], alnumWithDigit(5, 15)],
    ['MEDICAL_RECORD', ['MRN', 'medical record number', 'patient id', 'patient number'], alnumWithDigit(4, 20)],
    ['INSURANCE_ID', ['member id', 'insurance number', 'policy number', 'subscriber id', 'group number'], alnumWithDigit(4, 20)],
    ['SSN', ['SSN', 'social security number'], ssnArbFor(['', ' ', '-'])],
  ];
  it.each(cases)('%s', (type, words, valueArb) => {
    fc.assert(
      fc.property(
        left,
        fc.constantFrom(...words),
        fc.constantFrom(' ', ': ', ' # ', ' is ', ' - ', ':\t'),
        fc.boolean(),
        valueArb,
        right,
        (l, w, sep, upper, v, r) => {
          const prefix = l + (upper ? w.toUpperCase() : w) + sep;
          const text = prefix + v + r;
          expect(findPatternSpans(text), text).toContainEqual(
            expect.objectContaining({ start: prefix.length, end: prefix.length + v.length, type }),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('faker-generated values are found with exact offsets', () => {
  const gens: Array<[EntityType, () => string]> = [
    ['PHONE', () => faker.phone.number()],
    ['PHONE', () => faker.phone.number({ style: 'national' })],
    ['PHONE', () => faker.phone.number({ style: 'international' })],
    ['CARD', () => faker.finance.creditCardNumber()],
    ['IBAN', () => faker.finance.iban({ formatted: faker.datatype.boolean() })],
    ['EMAIL', () => faker.internet.email()],
    ['IP', () => faker.internet.ipv4()],
    ['IP', () => faker.internet.ipv6()],
  ];
  it.each(gens.map(([t, g], i) => [i, t, g] as const))('generator %i (%s)', (i, type, gen) => {
    faker.seed(1000 + i);
    for (let k = 0; k < 300; k++) {
      const v = gen();
      const l = faker.helpers.arrayElement(['Hello, the value is ', 'See: ', '', 'Contact\n']);
      const text = `${l}${v}${faker.helpers.arrayElement([' as noted.', '.', ', thanks', ''])}`;
      expect(findPatternSpans(text), text).toContainEqual(expect.objectContaining({ start: l.length, end: l.length + v.length, type }));
    }
  });
});


describe('property: robustness', () => {
  it('random text never crashes; spans sorted, non-overlapping, in bounds', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-composite', maxLength: 300 }), (t) => expectWellFormed(t, findPatternSpans(t))),
      { numRuns: 500 },
    );
    const pieces = fc.constantFrom('1', '2', '9', '0', ' ', '-', '.', ':', '@', 'a', 'F', '+', '(', ')', '/', 'ssn ', 'dob ', 'acct ', 'DE', '4111', '\n', '#');
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 200 }).map((a) => a.join('')), (t) => expectWellFormed(t, findPatternSpans(t))),
      { numRuns: 1000 },
    );
  });

  it('adversarial long inputs finish fast (no catastrophic backtracking)', () => {
    const unit = fc.constantFrom('1', '1.', '1 ', '1-', '+1 (415) 555-26', 'a@', 'a.', '@a', 'a:', '1:2:', 'ab12', 'DE89 ', 'account ', 'dob 1985-', '+1 (415) 555-26', 'ssn 123 45 ', '4111 ', 'x');
    fc.assert(
      fc.property(fc.array(unit, { minLength: 1, maxLength: 3 }), fc.integer({ min: 5000, max: 20000 }), (units, reps) => {
        const t = units.join('').repeat(Math.ceil(reps / units.join('').length) * 4).slice(0, 40_000);
        const t0 = performance.now();
        expectWellFormed(t, findPatternSpans(t));
        // Linear work is ~10-300 ms for 40 KB (the worst case is thousands of phone-shaped runs,
        // each parsed by libphonenumber); quadratic or exponential backtracking takes seconds+.
        expect(performance.now() - t0).toBeLessThan(1500);
      }),
      { numRuns: 30 },
    );
  });
});

describe('Detector interface', () => {
  it('detect() returns spans per text, and honours an aborted signal', async () => {
    const d = createPatternDetector();
    expect(d.name).toBe('patterns');
    await d.ready?.();
    const r = await d.detect(['SSN 123-45-6789', 'nothing here', '']);
    expect(r).toEqual([[{ start: 4, end: 15, type: 'SSN', score: 1, source: 'pattern' }], [], []]);
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(d.detect(['x'], ac.signal)).rejects.toThrow('stop');
    await d.close?.();
  });

  // Budget: all detection ≤ 15 ms per 1,000 characters on one core, the NER model taking ~8 ms;
  // patterns (about 0.3–1 ms here depending on load) get 2 ms so a busy machine does not fail it.
  it('is fast: 1 KB with ~5 PII values well under 2 ms', () => {
    const text = (
      'Customer Jane Doe (jane.doe@example.com, phone (415) 555-2671) reported card 4111 1111 1111 1111 charged twice on ' +
      '2024-03-14 at 12:30. SSN 123-45-6789 leaked. Login from 192.168.10.24 with app version 1.2.3; refund order 12345678 ' +
      'for $1,234.56 and escalate to tier 2. The account was opened in 2019; please call back within 24 hours and review the ' +
      'logs from the last 7 days to make sure nothing else leaked. Ticket priority: high. Thanks, Support team. '
    ).repeat(3).slice(0, 1024);
    expect(findPatternSpans(text).length).toBeGreaterThanOrEqual(5);
    for (let i = 0; i < 200; i++) findPatternSpans(text);
    // best of 10 batches: robust against other processes on a shared machine
    let perCall = Infinity;
    for (let b = 0; b < 10; b++) {
      const t0 = performance.now();
      for (let i = 0; i < 100; i++) findPatternSpans(text);
      perCall = Math.min(perCall, (performance.now() - t0) / 100);
    }
    console.log(`patterns: ${perCall.toFixed(3)} ms per 1 KB text`);
    expect(perCall).toBeLessThan(2);
  });
});
