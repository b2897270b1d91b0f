/** Names and metadata of a table source (src/rag/pending.ts): what reaches SQL, and what is stored. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flatMetadata, quoteTable, validIdent, validTable } from './pending.js';
import { erasedMarker } from './erase.js';
import { findPlaceholders } from '../core/token.js';

describe('table source names', () => {
  it('accepts plain and schema-qualified names, refuses anything else', () => {
    for (const ok of ['docs', 'public.docs', '_x1', 'langchain_pg_embedding']) expect(validTable(ok), ok).toBe(true);
    for (const bad of ['', '1docs', 'a.b.c', 'docs;drop', 'x y', '"docs"', 'a.', 'ä', 'x'.repeat(64)]) expect(validTable(bad), bad).toBe(false);
    expect(quoteTable('public.docs')).toBe('"public"."docs"');
  });

  it('property: an accepted name quotes to identifiers only (no quote, semicolon or space can reach SQL)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (name) => {
        if (!validTable(name)) return;
        expect(quoteTable(name)).toMatch(/^"[A-Za-z_][A-Za-z0-9_]*"(\."[A-Za-z_][A-Za-z0-9_]*")?$/);
        for (const part of name.split('.')) expect(validIdent(part)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('flatMetadata', () => {
  it('keeps scalars, writes nested values as their JSON text, ignores what is not an object', () => {
    expect(flatMetadata({ a: 'x', n: 1, b: true, z: null, loc: { page: 2 }, tags: ['p', 'q'] })).toEqual({ a: 'x', n: 1, b: true, z: null, loc: '{"page":2}', tags: '["p","q"]' });
    for (const v of [null, undefined, 'text', 3, [1, 2]]) expect(flatMetadata(v)).toEqual({});
  });

  it('property: every value of the result is a scalar, and every key is kept', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 3 })), (m) => {
        const out = flatMetadata(m);
        expect(Object.keys(out).sort()).toEqual(Object.keys(m).sort());
        for (const v of Object.values(out)) expect(v === null || ['string', 'number', 'boolean'].includes(typeof v)).toBe(true);
      }),
    );
  });
});

describe('erasedMarker', () => {
  it('keeps the type and is not a placeholder', () => {
    expect(erasedMarker('EMAIL_7QX2M4AB')).toBe('[EMAIL_ERASED]');
    expect(erasedMarker('IP_ADDRESS_7QX2M4AB')).toBe('[IP_ADDRESS_ERASED]');
    expect(findPlaceholders('[EMAIL_ERASED] and [IP_ADDRESS_ERASED]')).toEqual([]);
  });
});
