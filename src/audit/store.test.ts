/**
 * The audit chain on real databases (PGlite always, PostgreSQL with TEST_DATABASE_URL): what
 * is appended verifies; an edit, a deletion, a reordering, a truncation or a forged checkpoint
 * made directly in the database (an insider with SQL access and no key) is detected and named;
 * pruning keeps the rest verifiable; several processes on one PostgreSQL form one chain.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEventInput } from './chain.js';
import { createAuditStore, type AuditStore } from './store.js';
import { randomBytes, toBase64 } from '../keys/crypto.js';
import { createLocalProvider } from '../keys/local.js';
import { DRIVERS, TEST_DATABASE_URL, postgresDriver, type Harness } from '../../test/helpers/db.js';

const MASTER = randomBytes(32);
const provider = createLocalProvider(MASTER);

const ev = (tenantId: string, i: number): AuditEventInput => ({
  kind: 'restore',
  tenantId,
  principalId: 'p1',
  role: 'user',
  requestId: `req-${i}`,
  endpoint: 'chat',
  tokens: [{ token: 'EMAIL_7QX2M4AB', type: 'EMAIL', outcome: 'revealed' }],
});

async function fill(store: AuditStore, tenantId: string, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) await store.append(tenantId, [ev(tenantId, i)]);
}

for (const driver of DRIVERS) {
  describe(`audit store (${driver.name})`, () => {
    let h: Harness;
    let store: AuditStore;
    beforeEach(async () => {
      h = await driver.open();
      store = createAuditStore({ db: h.db, provider, checkpointEvery: 4 });
    });
    afterEach(async () => h.cleanup());

    const exec = (q: string) => h.db.query(q, []);

    it('an intact chain verifies; events hold tokens and types, never values; checkpoints every N', async () => {
      await fill(store, 't1', 10);
      await Promise.all([1, 2, 3, 4, 5].map((i) => store.append('t2', [ev('t2', i), ev('t2', 100 + i)])));
      const v1 = await store.verify('t1');
      expect(v1).toMatchObject({ ok: true, events: 10, firstSeq: 1, lastSeq: 10, checkpoints: 2 });
      expect(await store.verify('t2')).toMatchObject({ ok: true, events: 10 });
      expect(await store.chains()).toEqual(['t1', 't2']);
      const all = [];
      for await (const e of store.events('t1')) all.push(e);
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(JSON.parse(all[0]!.body)).toMatchObject({ kind: 'restore', tenant: 't1', request: 'req-1', tokens: [{ t: 'EMAIL_7QX2M4AB', type: 'EMAIL', o: 'revealed' }] });
    });

    it('concurrent appends of one process are group-committed into one linear chain', async () => {
      await Promise.all(Array.from({ length: 60 }, (_, i) => store.append('t1', [ev('t1', i)])));
      expect(await store.verify('t1')).toMatchObject({ ok: true, events: 60, lastSeq: 60 });
    });

    it('detects an edited event (body re-hashed by someone without the key)', async () => {
      await fill(store, 't1', 6);
      await exec(`update audit_events set body = replace(body, '"revealed"', '"denied"') where tenant_id = 't1' and seq = 3`);
      expect((await store.verify('t1')).problem).toMatchObject({ seq: 3, kind: 'altered' });
    });

    it('detects an edited time or kind column', async () => {
      await fill(store, 't1', 3);
      await exec(`update audit_events set at = at - interval '1 day' where tenant_id = 't1' and seq = 2`);
      expect((await store.verify('t1')).problem).toMatchObject({ seq: 2, kind: 'altered' });
    });

    it('detects a deleted event', async () => {
      await fill(store, 't1', 6);
      await exec(`delete from audit_events where tenant_id = 't1' and seq = 4`);
      expect((await store.verify('t1')).problem).toMatchObject({ seq: 4, kind: 'missing' });
    });

    it('detects deleted first events (no prune checkpoint)', async () => {
      await fill(store, 't1', 6);
      await exec(`delete from audit_events where tenant_id = 't1' and seq <= 4`);
      expect((await store.verify('t1')).problem).toMatchObject({ seq: 4, kind: 'missing' });
    });

    it('detects reordered events', async () => {
      await fill(store, 't1', 6);
      await exec(`update audit_events set seq = -2 where tenant_id = 't1' and seq = 2`);
      await exec(`update audit_events set seq = 2 where tenant_id = 't1' and seq = 5`);
      await exec(`update audit_events set seq = 5 where tenant_id = 't1' and seq = -2`);
      expect((await store.verify('t1')).problem).toMatchObject({ seq: 2, kind: 'altered' });
    });

    it('detects truncation (last events deleted), even with the head rolled back by hand', async () => {
      await fill(store, 't1', 6);
      await exec(`delete from audit_events where tenant_id = 't1' and seq > 4`);
      expect((await store.verify('t1')).problem).toMatchObject({ seq: 5, kind: 'truncated' });
      // rolling the head back needs its signature: copying the hash of event 4 does not do
      await exec(`update audit_heads set seq = 4, hash = (select hash from audit_events where tenant_id = 't1' and seq = 4) where tenant_id = 't1'`);
      expect((await store.verify('t1')).problem).toMatchObject({ kind: 'head' });
      await exec(`delete from audit_heads where tenant_id = 't1'`);
      expect((await store.verify('t1')).problem).toMatchObject({ kind: 'head' });
    });

    it('detects a forged or edited checkpoint', async () => {
      await fill(store, 't1', 9);
      await exec(`insert into audit_checkpoints (tenant_id, seq, kind, hash, at, mac) select tenant_id, 2, 'prune', hash, now(), mac from audit_checkpoints where tenant_id = 't1' and seq = 4`);
      expect((await store.verify('t1')).problem).toMatchObject({ seq: 2, kind: 'forged_checkpoint' });
      await exec(`delete from audit_checkpoints where tenant_id = 't1' and seq = 2`);
      expect((await store.verify('t1')).ok).toBe(true);
      await exec(`update audit_checkpoints set hash = (select hash from audit_events where tenant_id = 't1' and seq = 3) where tenant_id = 't1' and seq = 4`);
      expect((await store.verify('t1')).problem).toMatchObject({ seq: 4, kind: 'forged_checkpoint' });
    });

    it("an event moved into another tenant's chain does not verify", async () => {
      await fill(store, 't1', 2);
      await exec(`update audit_events set tenant_id = 't9' where tenant_id = 't1' and seq = 1`);
      expect((await store.verify('t9')).ok).toBe(false);
    });

    it('prune keeps the rest verifiable behind a signed prune checkpoint, and records itself', async () => {
      let t = Date.parse('2026-01-01T00:00:00Z');
      const timed = createAuditStore({ db: h.db, provider, checkpointEvery: 4, now: () => t });
      for (let i = 1; i <= 6; i++) {
        await timed.append('t1', [ev('t1', i)]);
        t += 86_400_000;
      }
      const r = await timed.prune('t1', new Date('2026-01-04T00:00:00Z'));
      expect(r).toEqual({ deleted: 3, throughSeq: 3 });
      const v = await timed.verify('t1');
      expect(v).toMatchObject({ ok: true, firstSeq: 4, lastSeq: 7, events: 4 });
      const last = [];
      for await (const e of timed.events('t1', { afterSeq: 6 })) last.push(JSON.parse(e.body));
      expect(last[0]).toMatchObject({ kind: 'audit.pruned', detail: { through_seq: 3, events: 3 } });
      // and the prune checkpoint cannot be reused to hide more deletions
      await exec(`delete from audit_events where tenant_id = 't1' and seq = 4`);
      expect((await timed.verify('t1')).problem).toMatchObject({ kind: 'missing' });
    });

    it('prune refuses a chain that does not verify', async () => {
      await fill(store, 't1', 3);
      await exec(`delete from audit_events where tenant_id = 't1' and seq = 2`);
      await expect(store.prune('t1', new Date(Date.now() + 60_000))).rejects.toThrow(/does not verify/);
    });

    it('a steady append is one statement without a transaction; a head moved by another writer sends it back to the locked path', async () => {
      let tx = 0;
      let q = 0;
      const counted = {
        ...h.db,
        query: ((...a: Parameters<typeof h.db.query>) => (q++, h.db.query(...a))) as typeof h.db.query,
        orm: new Proxy(h.db.orm, {
          get: (t, p, r) => (p === 'transaction' ? (...a: Parameters<typeof t.transaction>) => (tx++, t.transaction(...a)) : Reflect.get(t, p, r)),
        }),
      };
      const a = createAuditStore({ db: counted, provider, checkpointEvery: 100 });
      await a.append('t1', [ev('t1', 1)]);
      expect(tx).toBe(1); // first write of the process: the head row is locked and read
      tx = q = 0;
      await a.append('t1', [ev('t1', 2)]);
      await a.append('t1', [ev('t1', 3), ev('t1', 4)]);
      expect({ tx, q }).toEqual({ tx: 0, q: 2 });
      await store.append('t1', [ev('t1', 5)]); // another writer (process) moves the head
      tx = q = 0;
      await a.append('t1', [ev('t1', 6)]);
      expect({ tx, q }).toEqual({ tx: 1, q: 1 }); // the one statement matched nothing, wrote nothing
      await a.append('t1', [ev('t1', 7)]);
      expect({ tx, q }).toEqual({ tx: 1, q: 2 });
      for (let i = 8; i <= 12; i++) await (i % 2 ? a : store).append('t1', [ev('t1', i)]);
      expect(await a.verify('t1')).toMatchObject({ ok: true, events: 12, firstSeq: 1, lastSeq: 12 });
      const requests = [];
      for await (const e of a.events('t1')) requests.push(JSON.parse(e.body).request);
      expect(requests).toEqual(Array.from({ length: 12 }, (_, i) => `req-${i + 1}`));
    });

    it('a failed write rejects with veil_audit_unavailable (closed database)', async () => {
      await fill(store, 't1', 1);
      await h.db.close();
      await expect(store.append('t1', [ev('t1', 2)])).rejects.toMatchObject({ status: 503, code: 'veil_audit_unavailable' });
    });
  });
}

describe.skipIf(!TEST_DATABASE_URL)('audit store across processes (postgres)', () => {
  it('two gateway processes appending to one tenant form one verifiable chain', async () => {
    const h = await postgresDriver.open();
    try {
      const run = promisify(execFile);
      const env = { ...process.env, URL: h.url!, MASTER: toBase64(MASTER), TENANT: 'shared', EVENTS: '120', START: String(Date.now() + 4000) };
      const outs = await Promise.all(
        [1, 2].map(() => run(process.execPath, ['--import', 'tsx', 'test/helpers/audit-append-worker.ts'], { env, timeout: 60_000 })),
      );
      for (const o of outs) expect(JSON.parse(o.stdout)).toEqual({ ok: 120 });
      const store = createAuditStore({ db: h.db, provider, checkpointEvery: 7 });
      expect(await store.verify('shared')).toMatchObject({ ok: true, events: 240, firstSeq: 1, lastSeq: 240, checkpoints: 34 });
    } finally {
      await h.cleanup();
    }
  }, 90_000);
});
