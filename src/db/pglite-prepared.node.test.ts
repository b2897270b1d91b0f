/**
 * Named statements on a real PGlite (in memory): what a prepared call binds and returns is
 * exactly what `client.query` binds and returns, for every column type Veil stores (property
 * test over arbitrary text, bytes and integers); a statement dropped from the session is
 * prepared again; a failed call leaves the session usable; a call issued during another
 * caller's transaction waits for it and is not rolled back with it.
 */
import { PGlite } from '@electric-sql/pglite';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromPglite } from './open.node.js';
import { pglitePrepared, PREPARED_PREFIX, type PreparedQuery } from './pglite-prepared.node.js';

describe('PGlite named statements', () => {
  let client: PGlite;
  let prepared: PreparedQuery;
  beforeAll(async () => {
    client = await PGlite.create();
    prepared = pglitePrepared(client);
    await client.exec(`create table t (
      id int primary key, s text, n bigint, b bytea, f boolean, at timestamptz, j jsonb, arr bytea[], tags text[])`);
  });
  afterAll(async () => client.close());

  const INSERT = 'insert into t (id, s, n, b, f, at, j, arr, tags) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *';
  const SELECT = 'select id, s, n, b, f, at, j, arr, tags, s is null as s_null from t where id = $1';
  let nextId = 1;

  it('binds and returns exactly what client.query does (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', maxLength: 60 }).filter((s) => !s.includes('\u0000')),
        fc.option(fc.string({ maxLength: 20 }).filter((s) => !s.includes('\u0000'))),
        fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.boolean(),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 8 }), { maxLength: 3 }),
        async (s, maybe, n, b, f, arr) => {
          const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)).toISOString();
          const j = { s, n, nested: [maybe] };
          const a = nextId++;
          const c = nextId++;
          const params = (id: number) => [id, maybe === null ? null : s, n, b, f, at, j, arr, [s, 'x']];
          const viaPrepared = await prepared<Record<string, unknown>>('t_insert', INSERT, params(a));
          const viaQuery = (await client.query<Record<string, unknown>>(INSERT, params(c))).rows;
          expect({ ...viaPrepared[0], id: 0 }).toEqual({ ...viaQuery[0], id: 0 });
          const back = await prepared<Record<string, unknown>>('t_select', SELECT, [a]);
          const backQ = (await client.query<Record<string, unknown>>(SELECT, [c])).rows;
          expect({ ...back[0], id: 0 }).toEqual({ ...backQ[0], id: 0 });
          expect(back[0]).toMatchObject({ s: maybe === null ? null : s, n, f, j, tags: [s, 'x'] });
          expect(back[0]!.b).toEqual(b);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('an empty result is an empty array; a statement without rows resolves to []', async () => {
    expect(await prepared('t_select', SELECT, [-1])).toEqual([]);
    expect(await prepared('t_touch', 'update t set f = f where id = $1', [-1])).toEqual([]);
  });

  it('one name carries one text', async () => {
    await expect(prepared('t_select', 'select 1 as one where $1::int = 1', [1])).rejects.toThrow(/another text/);
  });

  it('a statement dropped from the session (DEALLOCATE by a socket client) is prepared again', async () => {
    const id = nextId++;
    await prepared('t_insert', INSERT, [id, 'a', 1, new Uint8Array([1]), true, null, null, null, null]);
    await client.exec(`deallocate ${PREPARED_PREFIX}t_select`);
    expect(await prepared('t_select', SELECT, [id])).toMatchObject([{ id, s: 'a', n: 1 }]);
  });

  it('a failed call is a DatabaseError naming the statement, not its values, and the session stays usable', async () => {
    const id = nextId++;
    await prepared('t_insert', INSERT, [id, 'first', 1, null, null, null, null, null, null]);
    const err = await prepared('t_insert', INSERT, [id, 'secret-value', 2, null, null, null, null, null, null]).catch((e) => e);
    expect(err).toMatchObject({ code: '23505', query: INSERT });
    expect(JSON.stringify({ ...err, message: err.message })).not.toContain('secret-value');
    expect(await prepared('t_select', SELECT, [id])).toMatchObject([{ s: 'first' }]);
    expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
  });

  it("waits for another caller's transaction and is not rolled back with it", async () => {
    const [inTx, outTx] = [nextId++, nextId++];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const started = new Promise<void>((r) => (entered = r));
    const tx = client
      .transaction(async (t) => {
        await t.query('insert into t (id, s) values ($1, $2)', [inTx, 'rolled back']);
        entered();
        await gate;
        throw new Error('roll back');
      })
      .catch((e: Error) => e.message);
    await started;
    const write = prepared('t_insert', INSERT, [outTx, 'kept', 1, null, null, null, null, null, null]);
    let done = false;
    void write.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false); // queued behind the open transaction
    release();
    expect(await tx).toBe('roll back');
    await write;
    expect((await client.query('select id from t where id in ($1, $2)', [inTx, outTx])).rows).toEqual([{ id: outTx }]);
  });

  it('Db.query uses it for named statements only; a closed database rejects', async () => {
    const c2 = await PGlite.create();
    const db = fromPglite(c2);
    await db.query('create table k (id int primary key)', []);
    expect(await db.query('insert into k values ($1) returning id', [7], 'k_insert')).toEqual([{ id: 7 }]);
    expect((await c2.query<{ name: string }>('select name from pg_prepared_statements')).rows).toEqual([{ name: `${PREPARED_PREFIX}k_insert` }]);
    await db.close();
    await expect(db.query('insert into k values ($1) returning id', [8], 'k_insert')).rejects.toThrow(/closed/);
  });
});
