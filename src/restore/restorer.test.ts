import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Token } from '../vault/types.js';
import { splitAt } from '../../test/helpers/split.js';
import { jsonStringEscape, Restorer } from './restorer.js';

const T = (s: string) => s as Token;
const map = new Map<Token, string>([
  [T('PERSON_7QX2M4AB'), 'Ada Lovelace'],
  [T('EMAIL_K3P9ZA00'), 'ada@example.com'],
  [T('DRIVER_LICENSE_Z9Z9Z9Z9'), 'D1234567'],
  [T('IP_11111111'), '10.0.0.1'],
]);
const r = new Restorer(map);

describe('Restorer.restore (mangling variants)', () => {
  const cases: [string, string][] = [
    ['Hi [PERSON_7QX2M4AB]!', 'Hi Ada Lovelace!'],
    ['Hi [person_7qx2m4ab]!', 'Hi Ada Lovelace!'],
    ['Hi PERSON_7QX2M4AB!', 'Hi Ada Lovelace!'],
    ["PERSON_7QX2M4AB's book", "Ada Lovelace's book"],
    ["[PERSON_7QX2M4AB]'s book", "Ada Lovelace's book"],
    ['Hi [ PERSON_7QX2M4AB ]', 'Hi Ada Lovelace'],
    ['Hi [[PERSON_7QX2M4AB]]', 'Hi Ada Lovelace'],
    ['Hi [PERSON 7QX2M4AB]', 'Hi Ada Lovelace'],
    ['Hi [PERSON-7QX2M4AB]', 'Hi Ada Lovelace'],
    ['Hi PERSON\\_7QX2M4AB', 'Hi Ada Lovelace'],
    ['Hi [Person_7qx2m4ab]', 'Hi Ada Lovelace'],
    ['mail {EMAIL_K3P9ZAOO}', 'mail {ada@example.com}'], // O read as 0
    ['<EMAIL_K3P9ZA00>', '<ada@example.com>'],
    ['"PERSON_7QX2M4AB"', '"Ada Lovelace"'],
    ['[DRIVER LICENSE_Z9Z9Z9Z9]', 'D1234567'],
    ['[driver-license-z9z9z9z9]', 'D1234567'],
    ['[IP_1111111I]', '10.0.0.1'],
    ['lone [PERSON_7QX2M4AB and', 'lone [Ada Lovelace and'],
  ];
  it.each(cases)('%s', (input, expected) => {
    expect(r.restore(input)).toBe(expected);
  });

  it('leaves unknown tokens, embedded tokens and near misses alone', () => {
    const untouched = [
      '[PERSON_AAAAAAAA]', // not in this request
      'XPERSON_7QX2M4AB', // glued to a word
      'PERSON_7QX2M4ABC', // id too long
      'PERSON_7QX2M4A', // id too short
      '[EMAIL_7QX2M4AB]', // right id, wrong type
      'PERSON__7QX2M4AB',
    ];
    for (const s of untouched) expect(r.restore(s)).toBe(s);
  });

  it('JSON-escapes values inserted into tool-call arguments', () => {
    const r2 = new Restorer(new Map([[T('PERSON_7QX2M4AB'), 'Jo "Q" \\ Smith\n']]));
    const args = '{"name":"[PERSON_7QX2M4AB]"}';
    const out = r2.restore(args, jsonStringEscape);
    expect(out).toBe('{"name":"Jo \\"Q\\" \\\\ Smith\\n"}');
    expect(JSON.parse(out)).toEqual({ name: 'Jo "Q" \\ Smith\n' });
  });
});

const pieces = fc.constantFrom(
  '[PERSON_7QX2M4AB]',
  'person_7qx2m4ab',
  '[ EMAIL_K3P9ZA00 ]',
  '[[DRIVER_LICENSE_Z9Z9Z9Z9]]',
  'PERSON\\_7QX2M4AB',
  '[PERSON_AAAAAAAA]',
  'IP_11111111',
  '[', ']', ' ', '_', '\\', 'P', 'PERS', 'PERSON_', 'PERSON_7QX', 'x', "'s", '[EMAIL', 'IP', 'é', '😀', '\n',
);
const text = fc.array(fc.oneof(pieces, fc.string({ maxLength: 4 })), { maxLength: 30 }).map((a) => a.join(''));

describe('StreamRestorer (property)', () => {
  it('any chunking restores to the same text as restoring the whole', () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(300), { maxLength: 40 }), fc.boolean(), (s, cuts, json) => {
        const esc = json ? jsonStringEscape : undefined;
        const st = r.stream(esc);
        let out = '';
        for (const part of splitAt(s, cuts)) out += st.push(part);
        out += st.flush();
        expect(out).toBe(r.restore(s, esc));
      }),
      { numRuns: 3000 },
    );
  });

  it('holds back at most a bounded suffix, and nothing when no token can start', () => {
    fc.assert(
      fc.property(text, (s) => {
        const st = r.stream();
        st.push(s);
        expect(st.held).toBeLessThanOrEqual(40);
      }),
    );
    const st = r.stream();
    expect(st.push('Hello there, how are you today? ')).toBe('Hello there, how are you today? ');
    expect(st.held).toBe(0);
    expect(st.push('Dear [PERS')).toBe('Dear ');
    expect(st.push('ON_7QX2M4AB] hi')).toBe('Ada Lovelace hi');
  });

  it('passes everything through untouched when the request had no PII', () => {
    const st = new Restorer(new Map()).stream();
    expect(st.push('[PERS')).toBe('[PERS');
    expect(st.flush()).toBe('');
  });
});
