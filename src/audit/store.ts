/**
 * The audit store: appends events to per-tenant hash chains in PGlite or PostgreSQL, and
 * verifies, exports, follows and prunes them.
 *
 * Writing: `append(tenantId, events)` resolves once the events are committed, and rejects with
 * 503 `veil_audit_unavailable` when they cannot be (database down, timeout, key service down,
 * queue full) — callers write the event before they decrypt, so a failure means nothing was
 * decrypted. Per tenant, appends are group-committed: while one transaction runs, the next
 * requests queue and go in together (one INSERT for all of them). Across processes the
 * tenant's chain head row is the lock (`insert … on conflict do update … returning` takes it),
 * so any number of gateways can share one PostgreSQL and still form one linear chain.
 * A process that wrote the head last appends in one statement (no transaction round trips),
 * conditional on the head row still holding what it wrote; anything else takes the lock.
 * Every `checkpointEvery` events a signed checkpoint is written in the same transaction.
 *
 * Never logs event contents: tenant ids, counts and error names only.
 */
import { sql } from 'drizzle-orm';
import { auditUnavailable, isVeilError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/types.js';
import type { Db } from '../db/client.js';
import { resultRows } from '../db/client.js';
import { auditEvents } from '../db/schema.js';
import { hmacSha256, timingSafeEqual, toHex } from '../keys/crypto.js';
import type { MasterKeyProvider } from '../keys/provider.js';
import {
  chainKey,
  checkpointMac,
  eventBody,
  eventHash,
  genesisHash,
  headMac,
  type AuditEventInput,
  type CheckpointKind,
  type Hmac,
} from './chain.js';

/** Key-provider context of the audit root key (AWS: EncryptionContext veil_tenant=_audit). */
export const AUDIT_ROOT_CONTEXT = '_audit';
/** Chain of events that outlive a tenant (its shredding) and of system-wide admin actions. */
export const SYSTEM_CHAIN = '_system';

export interface AuditStoreOptions {
  db: Db;
  provider: MasterKeyProvider;
  logger?: Logger;
  /** A signed checkpoint every this many events (VEIL_AUDIT_CHECKPOINT_EVERY, default 1000). */
  checkpointEvery?: number;
  /** Bound on one append, key service included (default 5000 ms). */
  timeoutMs?: number;
  /** Most events waiting per tenant before appends are refused (default 10000). */
  maxQueue?: number;
  /**
   * Wait for the WAL flush of each audit commit (PostgreSQL `synchronous_commit`, default true,
   * VEIL_AUDIT_DURABLE). false: a commit returns before its WAL reaches disk, so a database
   * crash can lose the last fraction of a second of events (never corrupt the chain); faster
   * on slow disks.
   */
  durable?: boolean;
  /** HMAC-SHA-256; default Web Crypto, on Node pass nodeVaultCrypto.hmac. */
  hmac?: Hmac;
  now?: () => number;
}

export interface StoredEvent {
  readonly tenantId: string;
  readonly seq: number;
  readonly hash: string;
  /** Canonical JSON exactly as hashed. */
  readonly body: string;
}

export type VerifyProblem = 'altered' | 'missing' | 'truncated' | 'forged_checkpoint' | 'head';

export interface VerifyResult {
  readonly tenantId: string;
  readonly ok: boolean;
  readonly events: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly checkpoints: number;
  readonly problem?: { readonly seq: number | null; readonly kind: VerifyProblem; readonly message: string };
}

export interface AuditStore {
  append(tenantId: string, events: readonly AuditEventInput[]): Promise<void>;
  verify(tenantId: string): Promise<VerifyResult>;
  /** Every tenant (and the system chain) that has audit data. */
  chains(): Promise<string[]>;
  /** Events in sequence order, optionally within [since, until). Pages through the table. */
  events(tenantId: string, opts?: { since?: Date; until?: Date; afterSeq?: number; pageSize?: number }): AsyncGenerator<StoredEvent>;
  /** Current head sequence of every chain. */
  heads(): Promise<Map<string, number>>;
  /**
   * Deletes events recorded before `before`, after verifying the chain, leaving a signed
   * 'prune' checkpoint at the cut so the rest stays verifiable; records an `audit.pruned` event.
   */
  prune(tenantId: string, before: Date): Promise<{ deleted: number; throughSeq: number | null }>;
}

interface Waiter {
  events: readonly AuditEventInput[];
  at: string;
  resolve(): void;
  reject(e: unknown): void;
}

const PAGE = 1000;

const bytes = (v: unknown): Uint8Array => (v instanceof Uint8Array ? v : new Uint8Array(v as ArrayBuffer));
const isoOf = (v: unknown): string => new Date(v as string | Date).toISOString();

export function createAuditStore(opts: AuditStoreOptions): AuditStore {
  const { db, provider } = opts;
  const log = opts.logger ?? silentLogger;
  const hmac: Hmac = opts.hmac ?? hmacSha256;
  const every = Math.max(1, opts.checkpointEvery ?? 1000);
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const maxQueue = opts.maxQueue ?? 10_000;
  const now = opts.now ?? Date.now;

  let root: Promise<Uint8Array> | null = null;
  const keys = new Map<string, Promise<Uint8Array>>();

  async function loadRoot(): Promise<Uint8Array> {
    const sel = async () =>
      (await db.query<{ wrapped: Uint8Array }>('select wrapped from audit_keys where id = $1', ['root']))[0]?.wrapped;
    const existing = await sel();
    if (existing) return provider.unwrapKek(AUDIT_ROOT_CONTEXT, bytes(existing));
    const gen = await provider.generateKek(AUDIT_ROOT_CONTEXT);
    const won = await db.query<{ id: string }>(
      'insert into audit_keys (id, wrapped, master_key_id) values ($1, $2, $3) on conflict do nothing returning id',
      ['root', gen.wrapped, provider.keyId],
    );
    if (won.length > 0) {
      log.info('audit root key created', { masterKeyId: provider.keyId });
      return gen.plaintext;
    }
    gen.plaintext.fill(0);
    const winner = await sel();
    if (!winner) throw new Error('audit root key vanished during creation');
    return provider.unwrapKek(AUDIT_ROOT_CONTEXT, bytes(winner));
  }

  /** The chain key of a tenant (cached for the life of the store; failures are not cached). */
  function keyOf(tenantId: string): Promise<Uint8Array> {
    let k = keys.get(tenantId);
    if (!k) {
      if (!root) {
        const r = loadRoot();
        root = r;
        r.catch(() => {
          if (root === r) root = null;
        });
      }
      const r = root;
      k = r.then((rk) => chainKey(rk, tenantId));
      keys.set(tenantId, k);
      k.catch(() => keys.delete(tenantId));
    }
    return k;
  }

  // ---- writing ------------------------------------------------------------------------------

  const queues = new Map<string, { waiting: Waiter[]; queued: number; running: boolean }>();

  /**
   * The head this process last committed per tenant. With it, the next append is one statement
   * (the events and the head move together, only if the head is still exactly this one);
   * without it, or when another writer moved the head, the transaction below takes the lock.
   */
  const lastHead = new Map<string, { seq: number; hash: Uint8Array }>();
  /** Batches of up to this many events use a named (prepared) statement. */
  const PREPARED_BATCH_MAX = 8;

  /** The rows (and the new head) of `batch` chained after `seq`/`prev`. */
  async function chainRows(key: Uint8Array, tenantId: string, batch: Waiter[], seq: number, prev: Uint8Array) {
    const rows: (typeof auditEvents.$inferInsert & { hash: Uint8Array })[] = [];
    const checkpoints: { seq: number; hash: Uint8Array; at: string }[] = [];
    for (const w of batch) {
      for (const e of w.events) {
        seq++;
        const body = eventBody({ ...e, tenantId }, w.at);
        const hash = await eventHash(key, seq, prev, body, hmac);
        rows.push({ tenantId, seq, at: w.at, kind: e.kind, body, hash });
        if (seq % every === 0) checkpoints.push({ seq, hash, at: w.at });
        prev = hash;
      }
    }
    return { rows, checkpoints, seq, prev };
  }

  /**
   * One statement, atomic on its own: the head moves from the cached one to the new one and the
   * events are inserted only if the head row still holds the cached sequence and hash (another
   * writer, a restore or an edit makes it match nothing: false, nothing written). Batches that
   * reach a checkpoint, and non-durable commits (a transaction setting), take the full path.
   */
  async function appendAfterCached(key: Uint8Array, tenantId: string, batch: Waiter[], head: { seq: number; hash: Uint8Array }): Promise<boolean> {
    const c = await chainRows(key, tenantId, batch, head.seq, head.hash);
    if (c.checkpoints.length > 0 || c.rows.length === 0) return false;
    const mac = await headMac(key, tenantId, c.seq, c.prev, hmac);
    const params: unknown[] = [tenantId, c.seq, c.prev, mac, head.seq, head.hash];
    const values = c.rows.map((r) => {
      params.push(r.seq, r.at, r.kind, r.body, r.hash);
      const n = params.length;
      return `($1, $${n - 4}::bigint, $${n - 3}::timestamptz, $${n - 2}, $${n - 1}, $${n}::bytea)`;
    });
    const res = await db.query<{ events: number }>(
      `with h as (update audit_heads set seq = $2, hash = $3, mac = $4, updated_at = now()
                   where tenant_id = $1 and seq = $5 and hash = $6 returning 1),
            e as (insert into audit_events (tenant_id, seq, at, kind, body, hash)
                  select * from (values ${values.join(', ')}) as v(tenant_id, seq, at, kind, body, hash)
                   where exists (select 1 from h) returning 1)
       select count(*)::int as events from e`,
      params,
      // one text per batch size: small batches (every sequential request) are prepared once
      c.rows.length <= PREPARED_BATCH_MAX ? `veil_audit_append_${c.rows.length}` : undefined,
    );
    if (Number(res[0]?.events ?? 0) !== c.rows.length) return false;
    lastHead.set(tenantId, { seq: c.seq, hash: c.prev });
    return true;
  }

  async function writeBatch(tenantId: string, batch: Waiter[]): Promise<void> {
    const key = await keyOf(tenantId);
    const cached = lastHead.get(tenantId);
    lastHead.delete(tenantId); // set again only by a commit that moved it
    if (cached && opts.durable !== false && (await appendAfterCached(key, tenantId, batch, cached))) return;
    const gen = await genesisHash(key, tenantId, hmac);
    const genMac = await headMac(key, tenantId, 0, gen, hmac);
    const moved = await db.orm.transaction(async (tx) => {
      if (opts.durable === false) await tx.execute(sql`set local synchronous_commit = off`);
      const head = resultRows<{ seq: unknown; hash: unknown }>(
        await tx.execute(sql`insert into audit_heads (tenant_id, seq, hash, mac) values (${tenantId}, 0, ${gen}, ${genMac})
          on conflict (tenant_id) do update set tenant_id = excluded.tenant_id returning seq, hash`),
      )[0];
      if (!head) throw new Error('audit head missing');
      const { rows, checkpoints, seq, prev } = await chainRows(key, tenantId, batch, Number(head.seq), bytes(head.hash));
      if (rows.length === 0) return null;
      await tx.insert(auditEvents).values(rows);
      for (const c of checkpoints) {
        const mac = await checkpointMac(key, tenantId, 'periodic', c.seq, c.hash, c.at, hmac);
        await tx.execute(
          sql`insert into audit_checkpoints (tenant_id, seq, kind, hash, at, mac) values (${tenantId}, ${c.seq}, 'periodic', ${c.hash}, ${c.at}, ${mac})`,
        );
      }
      const mac = await headMac(key, tenantId, seq, prev, hmac);
      await tx.execute(sql`update audit_heads set seq = ${seq}, hash = ${prev}, mac = ${mac}, updated_at = now() where tenant_id = ${tenantId}`);
      return { seq, hash: prev };
    });
    if (moved) lastHead.set(tenantId, moved);
  }

  async function bounded<T>(p: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`audit write timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function drain(tenantId: string): Promise<void> {
    const q = queues.get(tenantId)!;
    q.running = true;
    try {
      while (q.waiting.length > 0) {
        const batch = q.waiting.splice(0, q.waiting.length);
        const n = batch.reduce((s, w) => s + w.events.length, 0);
        try {
          await bounded(writeBatch(tenantId, batch));
          for (const w of batch) w.resolve();
        } catch (e) {
          const code = (e as { code?: unknown }).code;
          log.error('audit write failed', { tenantId, events: n, error: (e as Error)?.name ?? 'Error', code: typeof code === 'string' ? code : null });
          const err = isVeilError(e) ? e : auditUnavailable(e);
          for (const w of batch) w.reject(err);
        } finally {
          q.queued -= n;
        }
      }
    } finally {
      q.running = false;
      if (q.waiting.length === 0) queues.delete(tenantId);
    }
  }

  function append(tenantId: string, events: readonly AuditEventInput[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    let q = queues.get(tenantId);
    if (!q) queues.set(tenantId, (q = { waiting: [], queued: 0, running: false }));
    if (q.queued + events.length > maxQueue) {
      log.error('audit queue full', { tenantId, queued: q.queued });
      return Promise.reject(auditUnavailable(new Error('audit queue full')));
    }
    q.queued += events.length;
    const at = new Date(now()).toISOString();
    const p = new Promise<void>((resolve, reject) => q!.waiting.push({ events, at, resolve, reject }));
    if (!q.running) void drain(tenantId);
    return p;
  }

  // ---- reading ------------------------------------------------------------------------------

  async function* events(
    tenantId: string,
    o: { since?: Date; until?: Date; afterSeq?: number; pageSize?: number } = {},
  ): AsyncGenerator<StoredEvent> {
    let after = o.afterSeq ?? 0;
    const page = o.pageSize ?? PAGE;
    for (;;) {
      const rows = await db.query<{ seq: unknown; body: string; hash: unknown }>(
        'select seq, body, hash from audit_events where tenant_id = $1 and seq > $2 ' +
          'and ($3::timestamptz is null or at >= $3) and ($4::timestamptz is null or at < $4) order by seq limit $5',
        [tenantId, after, o.since?.toISOString() ?? null, o.until?.toISOString() ?? null, page],
      );
      for (const r of rows) {
        after = Number(r.seq);
        yield { tenantId, seq: after, hash: toHex(bytes(r.hash)), body: r.body };
      }
      if (rows.length < page) return;
    }
  }

  async function chains(): Promise<string[]> {
    const rows = await db.query<{ t: string }>(
      'select tenant_id as t from audit_heads union select distinct tenant_id from audit_events ' +
        'union select distinct tenant_id from audit_checkpoints order by 1',
      [],
    );
    return rows.map((r) => r.t);
  }

  async function heads(): Promise<Map<string, number>> {
    const rows = await db.query<{ tenant_id: string; seq: unknown }>('select tenant_id, seq from audit_heads', []);
    return new Map(rows.map((r) => [r.tenant_id, Number(r.seq)]));
  }

  async function verify(tenantId: string): Promise<VerifyResult> {
    const key = await keyOf(tenantId);
    const head = (
      await db.query<{ seq: unknown; hash: unknown; mac: unknown }>('select seq, hash, mac from audit_heads where tenant_id = $1', [tenantId])
    )[0];
    const cps = await db.query<{ seq: unknown; kind: CheckpointKind; hash: unknown; at: unknown; mac: unknown }>(
      'select seq, kind, hash, at, mac from audit_checkpoints where tenant_id = $1 order by seq',
      [tenantId],
    );
    let count = 0;
    let first: number | null = null;
    let last: number | null = null;
    const fail = (seq: number | null, kind: VerifyProblem, message: string): VerifyResult => ({
      tenantId,
      ok: false,
      events: count,
      firstSeq: first,
      lastSeq: last,
      checkpoints: cps.length,
      problem: { seq, kind, message },
    });
    // Every checkpoint must carry a valid signature.
    const cpAt = new Map<number, { kind: CheckpointKind; hash: Uint8Array }[]>();
    for (const c of cps) {
      const seq = Number(c.seq);
      const hash = bytes(c.hash);
      if (c.kind !== 'periodic' && c.kind !== 'prune') return fail(seq, 'forged_checkpoint', `checkpoint at event ${seq} has an unknown kind`);
      const mac = await checkpointMac(key, tenantId, c.kind, seq, hash, isoOf(c.at), hmac);
      if (!timingSafeEqual(mac, bytes(c.mac))) return fail(seq, 'forged_checkpoint', `checkpoint at event ${seq} has an invalid signature (forged or edited)`);
      const list = cpAt.get(seq) ?? [];
      list.push({ kind: c.kind, hash });
      cpAt.set(seq, list);
    }
    let prev: Uint8Array | null = null;
    let expected = 0;
    for await (const e of events(tenantId)) {
      const seq = e.seq;
      if (prev === null) {
        first = seq;
        if (seq === 1) prev = await genesisHash(key, tenantId, hmac);
        else {
          const anchor = cpAt.get(seq - 1)?.find((c) => c.kind === 'prune');
          if (!anchor) return fail(seq - 1, 'missing', `events 1..${seq - 1} are missing and no signed prune checkpoint covers them (deleted)`);
          prev = anchor.hash;
        }
        expected = seq;
      }
      if (seq !== expected) return fail(expected, 'missing', `event ${expected} is missing (deleted); the chain jumps to ${seq}`);
      const want = await eventHash(key, seq, prev, e.body, hmac);
      const stored = (e.hash.match(/../g) ?? []).map((h) => parseInt(h, 16));
      if (!timingSafeEqual(want, Uint8Array.from(stored))) {
        return fail(seq, 'altered', `event ${seq} does not match the chain (edited, reordered or inserted)`);
      }
      let parsed: { tenant?: unknown };
      try {
        parsed = JSON.parse(e.body) as { tenant?: unknown };
      } catch {
        return fail(seq, 'altered', `event ${seq} is not valid JSON`);
      }
      if (parsed.tenant !== tenantId) return fail(seq, 'altered', `event ${seq} names another tenant`);
      for (const c of cpAt.get(seq) ?? []) {
        if (!timingSafeEqual(c.hash, want)) return fail(seq, 'forged_checkpoint', `checkpoint at event ${seq} does not match the chain`);
      }
      prev = want;
      last = seq;
      expected = seq + 1;
      count++;
    }
    // Column copies (kind, at) must match the hashed bodies: one pass in SQL would need the
    // JSON parser in the database; a second pass here keeps it portable.
    const mismatch = (
      await db.query<{ seq: unknown }>(
        "select seq from audit_events where tenant_id = $1 and (kind <> (body::jsonb ->> 'kind') or at <> (body::jsonb ->> 'at')::timestamptz) order by seq limit 1",
        [tenantId],
      )
    )[0];
    if (mismatch) return fail(Number(mismatch.seq), 'altered', `event ${Number(mismatch.seq)}: its kind or time column was edited`);
    if (!head) {
      if (count > 0 || cps.length > 0) return fail(null, 'head', 'the chain head is missing (deleted)');
      return { tenantId, ok: true, events: 0, firstSeq: null, lastSeq: null, checkpoints: 0 };
    }
    const headSeq = Number(head.seq);
    const headHash = bytes(head.hash);
    const hm = await headMac(key, tenantId, headSeq, headHash, hmac);
    if (!timingSafeEqual(hm, bytes(head.mac))) return fail(headSeq, 'head', 'the chain head has an invalid signature (edited)');
    const maxCp = cps.length > 0 ? Number(cps[cps.length - 1]!.seq) : 0;
    if (last === null) {
      // Everything pruned: the head must sit on the prune checkpoint (or be the genesis head).
      const anchor = cpAt.get(headSeq)?.find((c) => c.kind === 'prune');
      if (headSeq === 0 && maxCp === 0) return { tenantId, ok: true, events: 0, firstSeq: null, lastSeq: null, checkpoints: cps.length };
      if (anchor && timingSafeEqual(anchor.hash, headHash) && maxCp <= headSeq) {
        return { tenantId, ok: true, events: 0, firstSeq: null, lastSeq: null, checkpoints: cps.length };
      }
      return fail(headSeq, 'truncated', `events up to ${headSeq} are missing (truncated)`);
    }
    if (headSeq > last || maxCp > last) {
      return fail(last + 1, 'truncated', `events after ${last} are missing (truncated; the signed head is at ${Math.max(headSeq, maxCp)})`);
    }
    if (headSeq !== last || !timingSafeEqual(headHash, prev!)) return fail(headSeq, 'head', `the chain head does not match event ${last}`);
    return { tenantId, ok: true, events: count, firstSeq: first, lastSeq: last, checkpoints: cps.length };
  }

  async function prune(tenantId: string, before: Date): Promise<{ deleted: number; throughSeq: number | null }> {
    const v = await verify(tenantId);
    if (!v.ok) throw new Error(`audit chain of ${tenantId} does not verify (${v.problem!.message}); not pruning`);
    const key = await keyOf(tenantId);
    const at = new Date(now()).toISOString();
    const res = await db.orm.transaction(async (tx) => {
      const head = resultRows<{ seq: unknown }>(await tx.execute(sql`select seq from audit_heads where tenant_id = ${tenantId} for update`))[0];
      if (!head) return { deleted: 0, throughSeq: null };
      const cut = resultRows<{ seq: unknown; hash: unknown }>(
        await tx.execute(sql`select seq, hash from audit_events where tenant_id = ${tenantId} and at < ${before.toISOString()} order by seq desc limit 1`),
      )[0];
      if (!cut) return { deleted: 0, throughSeq: null };
      const seq = Number(cut.seq);
      const hash = bytes(cut.hash);
      const mac = await checkpointMac(key, tenantId, 'prune', seq, hash, at, hmac);
      await tx.execute(
        sql`insert into audit_checkpoints (tenant_id, seq, kind, hash, at, mac) values (${tenantId}, ${seq}, 'prune', ${hash}, ${at}, ${mac})
            on conflict do nothing`,
      );
      const del = resultRows<{ n: unknown }>(
        await tx.execute(sql`with d as (delete from audit_events where tenant_id = ${tenantId} and seq <= ${seq} returning 1) select count(*)::int as n from d`),
      )[0];
      await tx.execute(sql`delete from audit_checkpoints where tenant_id = ${tenantId} and seq < ${seq}`);
      return { deleted: Number(del?.n ?? 0), throughSeq: seq };
    });
    if (res.throughSeq !== null) {
      await append(tenantId, [{ kind: 'audit.pruned', tenantId, detail: { through_seq: res.throughSeq, events: res.deleted, before: before.toISOString() } }]);
      log.info('audit pruned', { tenantId, events: res.deleted, throughSeq: res.throughSeq });
    }
    return res;
  }

  return { append, verify, chains, events, heads, prune };
}
