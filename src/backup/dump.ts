/**
 * What a backup holds and how it goes back: every row of the Veil tables as stored (values are
 * AES-GCM ciphertexts, keys are wrapped, API keys are hashes, audit events hold no values),
 * read and written by PostgreSQL itself (`to_jsonb` / `jsonb_populate_recordset`), so the
 * same code serves PGlite and PostgreSQL in either direction. JSONL records:
 *   {"table": "<name>", "rows": [ … ]}   (bytea as '\x…' hex, timestamps as ISO text)
 * Restore only into an empty store, in one transaction: all or nothing.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { resultRows } from '../db/client.js';

/** Tables in restore order (foreign keys first) with their key columns for stable paging. */
export const BACKUP_TABLES: readonly { name: string; order: string }[] = [
  { name: 'tenants', order: 'id' },
  { name: 'principals', order: 'id' },
  { name: 'api_keys', order: 'id' },
  { name: 'tenant_keys', order: 'tenant_id, kind, version' },
  { name: 'mappings', order: 'tenant_id, token' },
  { name: 'audit_keys', order: 'id' },
  { name: 'audit_heads', order: 'tenant_id' },
  { name: 'audit_checkpoints', order: 'tenant_id, seq, kind' },
  { name: 'audit_events', order: 'tenant_id, seq' },
];

const PAGE = 2000;

export async function tableCounts(db: Db): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of BACKUP_TABLES) {
    const r = await db.query<{ n: number }>(`select count(*)::int as n from ${t.name}`, []);
    out[t.name] = Number(r[0]?.n ?? 0);
  }
  return out;
}

/** JSONL lines, one per page of rows. Reads with keyset-free paging in key order. */
export async function* dumpLines(db: Db): AsyncGenerator<{ table: string; rows: number; line: string }> {
  for (const t of BACKUP_TABLES) {
    for (let offset = 0; ; offset += PAGE) {
      const rows = await db.query<{ j: string }>(
        `select coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb)::text as j from (select * from ${t.name} order by ${t.order} limit ${PAGE} offset ${offset}) x`,
        [],
      );
      const j = rows[0]?.j ?? '[]';
      if (j === '[]') break;
      const n = (JSON.parse(j) as unknown[]).length;
      yield { table: t.name, rows: n, line: `{"table":${JSON.stringify(t.name)},"rows":${j}}` };
      if (n < PAGE) break;
    }
  }
}

export class RestoreTargetNotEmpty extends Error {}

/** True when no Veil table holds a row. */
export async function isEmptyStore(db: Db): Promise<boolean> {
  const c = await tableCounts(db);
  return Object.values(c).every((n) => n === 0);
}

/**
 * Loads JSONL lines into an empty store in one transaction; `lines` may throw (a chunk that
 * does not authenticate), which rolls everything back. Returns rows per table.
 */
export async function restoreLines(db: Db, lines: AsyncIterable<string>, onRows?: (n: number) => void): Promise<Record<string, number>> {
  if (!(await isEmptyStore(db))) throw new RestoreTargetNotEmpty('the target store is not empty: restore only into a fresh database');
  const allowed = new Set(BACKUP_TABLES.map((t) => t.name));
  const counts: Record<string, number> = {};
  await db.orm.transaction(async (tx) => {
    for await (const line of lines) {
      const rec = JSON.parse(line) as { table?: unknown; rows?: unknown };
      if (typeof rec.table !== 'string' || !allowed.has(rec.table) || !Array.isArray(rec.rows)) throw new Error('unexpected record in backup');
      await tx.execute(sql`insert into ${sql.identifier(rec.table)} select * from jsonb_populate_recordset(null::${sql.identifier(rec.table)}, ${JSON.stringify(rec.rows)}::jsonb)`);
      counts[rec.table] = (counts[rec.table] ?? 0) + rec.rows.length;
      onRows?.(rec.rows.length);
    }
  });
  return counts;
}

export { resultRows };
