/**
 * The pgvector store's batched upsert (src/rag/store.ts) on real PGlite + pgvector: a batch is
 * one statement per 500 chunks, an id given twice in one batch keeps its last version (one
 * statement may not update a row twice), batches larger than one statement are all stored,
 * and every row stays in its tenant. No fakes.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/client.js';
import { fromPglite } from '../db/open.node.js';
import { createPgVectorStore, type StoredChunk, type VectorStore } from './store.js';

const chunk = (id: string, text: string, e: number[], extra: Partial<StoredChunk> = {}): StoredChunk => ({
  id,
  text,
  metadata: { n: id },
  sealed: {},
  blind: [new Uint8Array([1, 2, 3])],
  embedding: e,
  ...extra,
});

describe('pgvector store: batched upsert', () => {
  let db: Db;
  let store: VectorStore;
  const statements: string[] = [];
  beforeAll(async () => {
    const inner = fromPglite(await PGlite.create({ extensions: { vector } }));
    await inner.migrate();
    // count the insert statements the store sends (the real database answers them)
    db = { ...inner, query: (sql: string, params: unknown[], name?: string) => (/insert into veil_rag_chunks/.test(sql) && statements.push(sql), inner.query(sql, params, name)) } as Db;
    store = createPgVectorStore(db);
  });
  afterAll(() => db.close());

  it('an id given twice in one batch keeps its last version; one statement per batch', async () => {
    statements.length = 0;
    await store.upsert('t1', 'c', [chunk('a', 'first', [1, 0, 0]), chunk('b', 'bee', [0, 1, 0]), chunk('a', 'second', [0, 0, 1], { blind: [] })]);
    expect(statements).toHaveLength(1);
    const hits = await store.query('t1', 'c', [0, 0, 1], 10, { plain: {}, blind: [] });
    expect(hits.map((h) => [h.id, h.text])).toEqual([
      ['a', 'second'],
      ['b', 'bee'],
    ]);
    // the first version's blind index is gone with it
    expect((await store.query('t1', 'c', [0, 0, 1], 10, { plain: {}, blind: [new Uint8Array([1, 2, 3])] })).map((h) => h.id)).toEqual(['b']);
  });

  it('a batch larger than one statement is stored whole, and upserting again updates in place', async () => {
    statements.length = 0;
    const many = Array.from({ length: 1201 }, (_, i) => chunk(`m${i}`, `text ${i}`, [1, i / 1201, 0.5]));
    await store.upsert('t1', 'big', many);
    expect(statements).toHaveLength(3);
    const [row] = await db.query<{ n: number }>("select count(*)::int as n from veil_rag_chunks where tenant_id = 't1' and collection = 'big'", []);
    expect(row?.n).toBe(1201);
    await store.upsert('t1', 'big', [chunk('m7', 'changed', [1, 0, 0], { migrated: false })]);
    const hit = (await store.query('t1', 'big', [1, 0, 0], 1, { plain: {}, blind: [] }))[0]!;
    expect([hit.id, hit.text, hit.migrated]).toEqual(['m7', 'changed', false]);
  });

  it('filters: blind indexes and plain fields must all match; no filter returns every nearest chunk', async () => {
    const B = (n: number) => new Uint8Array([n]);
    await store.upsert('t3', 'f', [
      { ...chunk('x', 'x', [1, 0, 0]), metadata: { lang: 'en', n: 1 }, blind: [B(1), B(2)] },
      { ...chunk('y', 'y', [0.9, 0.1, 0]), metadata: { lang: 'fr', n: 2 }, blind: [B(1)] },
      { ...chunk('z', 'z', [0, 1, 0]), metadata: { lang: 'en', n: 3 }, blind: [] },
    ]);
    const ids = async (filter: { plain: Record<string, unknown>; blind: Uint8Array[] }) => (await store.query('t3', 'f', [1, 0, 0], 10, filter)).map((h) => h.id);
    expect(await ids({ plain: {}, blind: [] })).toEqual(['x', 'y', 'z']);
    expect(await ids({ plain: {}, blind: [B(1)] })).toEqual(['x', 'y']);
    expect(await ids({ plain: {}, blind: [B(1), B(2)] })).toEqual(['x']);
    expect(await ids({ plain: { lang: 'en' }, blind: [] })).toEqual(['x', 'z']);
    expect(await ids({ plain: { lang: 'en' }, blind: [B(1)] })).toEqual(['x']);
    expect(await ids({ plain: { lang: 'de' }, blind: [] })).toEqual([]);
  });

  it('on PGlite (no autovacuum) the table is analyzed as it grows, so queries use the HNSW index; a filtered query still returns k rows, nearest first', async () => {
    const rnd = () => Array.from({ length: 8 }, () => Math.random() - 0.5);
    for (let i = 0; i < 2000; i += 500) {
      await store.upsert('t4', 'h', Array.from({ length: 500 }, (_, j) => chunk(`h${i + j}`, 't', rnd(), { metadata: { g: (i + j) % 20 === 0 ? 'rare' : 'common' } })));
    }
    const v = `[${rnd().join(',')}]`;
    const plan = await db.query<{ 'QUERY PLAN': string }>(
      `explain select id from veil_rag_chunks where tenant_id = 't4' and collection = 'h' and dims = 8 order by embedding::vector(8) <=> '${v}'::vector(8) limit 10`,
      [],
    );
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Index Scan using veil_rag_hnsw_8/);
    for (let n = 0; n < 5; n++) {
      const hits = await store.query('t4', 'h', rnd(), 10, { plain: { g: 'rare' }, blind: [] });
      expect(hits).toHaveLength(10);
      expect(hits.every((h) => Number(h.id.slice(1)) % 20 === 0)).toBe(true);
      expect(hits.map((h) => h.distance)).toEqual([...hits.map((h) => h.distance)].sort((a, b) => a - b));
    }
  });

  it('rows stay in their tenant; an empty batch writes nothing', async () => {
    await store.upsert('t2', 'c', [chunk('a', 'other tenant', [1, 0, 0])]);
    expect((await store.query('t1', 'c', [0, 0.1, 1], 10, { plain: {}, blind: [] })).map((h) => h.text)).toEqual(['second', 'bee']);
    expect((await store.query('t2', 'c', [1, 0, 0], 10, { plain: {}, blind: [] })).map((h) => h.text)).toEqual(['other tenant']);
    statements.length = 0;
    await store.upsert('t2', 'c', []);
    expect(statements).toHaveLength(0);
  });
});
