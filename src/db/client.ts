/**
 * The database handle every Veil service receives. Pure types and helpers (no Node APIs):
 * the Node drivers live in src/db/open.node.ts; a Workers driver can implement the same `Db`.
 */
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { sql, type SQL } from 'drizzle-orm';
import type { Schema } from './schema.js';

export type VeilOrm = PgDatabase<PgQueryResultHKT, Schema>;

/** The handle inside `db.orm.transaction(async (tx) => …)`. */
export type VeilTx = Parameters<Parameters<VeilOrm['transaction']>[0]>[0];

export interface Db {
  /** 'pglite': embedded PostgreSQL (default); 'postgres': node-postgres pool (DATABASE_URL). */
  readonly kind: 'pglite' | 'postgres';
  readonly orm: VeilOrm;
  /** Raw SQL returning rows (both drivers). */
  rows<T = Record<string, unknown>>(query: SQL): Promise<T[]>;
  /**
   * A parameterized statement (`$1`, `$2`, … ; arrays bind as PostgreSQL arrays, Uint8Array as
   * bytea) for hot paths. With `name`, it is prepared once per connection (node-postgres) or
   * per instance (PGlite, src/db/pglite-prepared.node.ts); the same name must always carry the
   * same text.
   */
  query<T = Record<string, unknown>>(text: string, params: readonly unknown[], name?: string): Promise<T[]>;
  /** Applies pending migrations from drizzle/ (serialized by an advisory lock on PostgreSQL). */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

/** Rows of a `db.execute()` result: node-postgres and PGlite both expose `.rows`. */
export function resultRows<T>(result: unknown): T[] {
  const rows = (result as { rows?: unknown }).rows;
  return Array.isArray(rows) ? (rows as T[]) : [];
}

/** Options shared by the drivers (a subset of Config). */
export interface DbConfig {
  VEIL_DATA_DIR: string;
  DATABASE_URL?: string | undefined;
  VEIL_DB_POOL_SIZE: number;
  VEIL_DB_TIMEOUT_MS: number;
}

/** Key of the PostgreSQL advisory lock that serializes migrations ('veil' + 'mig'). */
export const MIGRATION_LOCK_KEY = 0x7665696c6d6967n & 0x7fffffffffffffffn;

/** True when the database answers (`select 1`), for readiness checks. */
export async function ping(db: Db): Promise<boolean> {
  try {
    await db.rows(sql`select 1 as ok`);
    return true;
  } catch {
    return false;
  }
}
