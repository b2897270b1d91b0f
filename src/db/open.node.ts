/**
 * Node drivers for {@link Db}: embedded PGlite (default, data in `<VEIL_DATA_DIR>/pglite`) or a
 * node-postgres pool when DATABASE_URL is set. Migrations come from drizzle/ and run at start-up
 * (and from `veil migrate`); on PostgreSQL they are serialized by an advisory lock so several
 * gateway processes can start at once. An on-disk PGlite is opened only under the data
 * directory's lock (src/db/data-dir.node.ts): a second process gets DataDirLockedError naming
 * the holder; the gateway also serves it to the CLI on a Unix socket (`serveSocket`), and
 * {@link openDatabaseForCli} uses that socket while a gateway owns the directory.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import type { SQL } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { silentLogger, type Logger } from '../core/types.js';
import { MIGRATION_LOCK_KEY, resultRows, type Db, type DbConfig, type VeilOrm } from './client.js';
import { schema } from './schema.js';
import { pglitePrepared } from './pglite-prepared.node.js';
import { acquireDataDirLock, DataDirLockedError, readLiveLock, serveDataDirSocket, SOCKET_PORT, type LockRole } from './data-dir.node.js';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

export interface OpenOptions {
  logger?: Logger;
  /** PGlite only: keep the database in memory (tests). */
  memory?: boolean;
  /** Run pending migrations before returning (default true). */
  migrate?: boolean;
  migrationsFolder?: string;
  /** On-disk PGlite: who takes the data directory's lock (default 'gateway'). */
  role?: LockRole;
  /** On-disk PGlite: serve it to the `veil` CLI on `<dataDir>/.s.PGSQL.5432` (the gateway). */
  serveSocket?: boolean;
}

/** Opens the database named by the config and (by default) applies pending migrations. */
export async function openDatabase(config: DbConfig, opts: OpenOptions = {}): Promise<Db> {
  const db = config.DATABASE_URL
    ? fromPool(createPool(config, opts.logger ?? silentLogger), opts)
    : opts.memory
      ? fromPglite(await PGlite.create({ extensions: { vector } }), opts)
      : await openOwnedPglite(config, opts);
  if (opts.migrate !== false) {
    try {
      await db.migrate();
    } catch (e) {
      await db.close().catch(() => {});
      throw new Error(`database migration failed: ${explainDbError(e)}`, { cause: e });
    }
  }
  return db;
}

/**
 * A database failure in words an operator can act on: the statement that failed (its first
 * line, from drizzle's error — never its parameters, which may hold values) and PostgreSQL's
 * SQLSTATE and message (`42501 permission denied for schema public`), which name objects and
 * privileges, not data.
 */
export function explainDbError(e: unknown): string {
  let statement: string | null = null;
  let pgError: { code: string; message: string } | null = null;
  let cur: unknown = e;
  for (let depth = 0; depth < 8 && cur !== null && typeof cur === 'object'; depth++) {
    const q = (cur as { query?: unknown }).query;
    if (statement === null && typeof q === 'string') {
      statement = q.trim().split('\n')[0]!.replace(/\s+/g, ' ').slice(0, 160);
    }
    const code = (cur as { code?: unknown }).code;
    if (pgError === null && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      pgError = { code, message: String((cur as { message?: unknown }).message ?? '').slice(0, 300) };
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  const why = pgError ? `PostgreSQL error ${pgError.code}: ${pgError.message}` : e instanceof Error ? e.name : String(e);
  const hint = pgError?.code === '42501' ? ' (the database role lacks a privilege: grant it, or run `veil migrate` as the database owner)' : '';
  return statement ? `statement \`${statement}\` failed: ${why}${hint}` : `${why}${hint}`;
}

/** PGlite in `<dataDir>/pglite` under the data directory's lock (released on close). */
async function openOwnedPglite(config: DbConfig, opts: OpenOptions): Promise<Db> {
  const lock = acquireDataDirLock(config.VEIL_DATA_DIR, opts.role ?? 'gateway');
  let client: PGlite | undefined;
  let socket: Awaited<ReturnType<typeof serveDataDirSocket>> = null;
  try {
    const dir = join(config.VEIL_DATA_DIR, 'pglite');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    client = await PGlite.create(dir, { extensions: { vector } }); // pgvector for RAG collections (src/rag)
    if (opts.serveSocket) {
      socket = await serveDataDirSocket(client, config.VEIL_DATA_DIR, opts.logger);
      lock.setSocket(socket?.path ?? null);
    }
  } catch (e) {
    await socket?.close();
    if (client && !client.closed) await client.close().catch(() => {});
    lock.release();
    throw e;
  }
  const db = fromPglite(client, opts);
  const s = socket;
  return {
    ...db,
    async close() {
      await s?.close();
      try {
        await db.close();
      } finally {
        lock.release();
      }
    },
  };
}

/**
 * The CLI's database: PostgreSQL, or the PGlite data directory — directly when no process
 * holds it, through the owning gateway's socket when one does (so a running gateway sees
 * every change at once). Another holder without a socket (another CLI, or a gateway whose
 * path is too long for a socket) is DataDirLockedError. `viaGateway` tells which.
 */
export async function openDatabaseForCli(config: DbConfig, opts: OpenOptions = {}): Promise<{ db: Db; viaGateway: number | null }> {
  if (config.DATABASE_URL) return { db: await openDatabase(config, opts), viaGateway: null };
  const holder = readLiveLock(config.VEIL_DATA_DIR);
  if (holder?.socket && holder.role === 'gateway') {
    const pool = new pg.Pool({
      host: dirname(holder.socket),
      port: SOCKET_PORT,
      user: 'postgres',
      database: 'postgres',
      max: 1,
      connectionTimeoutMillis: config.VEIL_DB_TIMEOUT_MS,
      query_timeout: config.VEIL_DB_TIMEOUT_MS,
    });
    pool.on('error', () => {});
    // No migrations through the socket: the gateway applied them at its start.
    return { db: fromPool(pool, opts), viaGateway: holder.pid };
  }
  if (holder) throw new DataDirLockedError(resolve(config.VEIL_DATA_DIR), holder);
  return { db: await openDatabase(config, { ...opts, role: 'cli' }), viaGateway: null };
}

export function createPool(config: DbConfig, logger: Logger = silentLogger): pg.Pool {
  const t = config.VEIL_DB_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.VEIL_DB_POOL_SIZE,
    connectionTimeoutMillis: t,
    statement_timeout: t,
    query_timeout: t,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle client that loses its connection emits here; the pool drops it and reconnects later.
  // Without a listener the process would crash. The message of a pg error holds no PII values
  // (Veil sends them as bind parameters), but log only its code to be sure.
  pool.on('error', (err) => {
    logger.warn('database connection lost', { code: (err as { code?: string }).code ?? null });
  });
  return pool;
}

/** Wraps an open PGlite instance; `close()` closes it. */
export function fromPglite(client: PGlite, opts: Pick<OpenOptions, 'migrationsFolder'> = {}): Db {
  const orm = drizzlePglite({ client, schema }) as unknown as VeilOrm;
  const folder = opts.migrationsFolder ?? MIGRATIONS_FOLDER;
  const prepared = pglitePrepared(client);
  return {
    kind: 'pglite',
    orm,
    async rows<T>(query: SQL) {
      return resultRows<T>(await orm.execute(query));
    },
    async query<T>(text: string, params: readonly unknown[], name?: string) {
      // PGlite runs on this thread and its async API never yields to I/O between queries: a
      // turn of the event loop before each one lets other requests (and /healthz) run between
      // the chunks of a big tokenize instead of after all of it
      await new Promise<void>((resolve) => setImmediate(resolve));
      // a named statement is parsed once and then costs one protocol round trip (pglite-prepared)
      if (name) return prepared<T>(name, text, params);
      return (await client.query<T>(text, params as unknown[])).rows;
    },
    async migrate() {
      await migratePglite(drizzlePglite({ client, schema }), { migrationsFolder: folder });
    },
    async close() {
      if (!client.closed) await client.close();
    },
  };
}

/** Wraps a node-postgres pool; `close()` ends it. */
export function fromPool(pool: pg.Pool, opts: Pick<OpenOptions, 'migrationsFolder'> = {}): Db {
  const orm = drizzlePg({ client: pool, schema }) as unknown as VeilOrm;
  const folder = opts.migrationsFolder ?? MIGRATIONS_FOLDER;
  let closed = false;
  return {
    kind: 'postgres',
    orm,
    async rows<T>(query: SQL) {
      return resultRows<T>(await orm.execute(query));
    },
    async query<T>(text: string, params: readonly unknown[], name?: string) {
      const r = await pool.query<T & pg.QueryResultRow>(name ? { name, text, values: params as unknown[] } : { text, values: params as unknown[] });
      return r.rows as T[];
    },
    async migrate() {
      const client = await pool.connect();
      try {
        // Session-level lock on a dedicated connection: concurrent start-ups wait here, then find
        // the migrations already applied.
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
        try {
          await migratePg(drizzlePg({ client, schema }), { migrationsFolder: folder });
        } finally {
          await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]);
        }
      } finally {
        client.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

export { ping } from './client.js';
