/**
 * Database drivers for the tests that need one (the vault, stores, CLI and gateway suites): PGlite (always, in memory) and PostgreSQL (when
 * TEST_DATABASE_URL is set). Each PostgreSQL harness gets a fresh, uniquely named database,
 * dropped on cleanup, so parallel runs never collide. Real databases only; no mocks.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { RequestContext } from '../../src/core/types.js';
import type { Db } from '../../src/db/client.js';
import { createPool, fromPglite, fromPool } from '../../src/db/open.node.js';
import { runCli } from '../../src/runtime/node/cli/index.js';
import { nodeVaultCrypto } from '../../src/keys/crypto.node.js';
import { webVaultCrypto, type VaultCrypto } from '../../src/vault/db-vault.js';

export interface Harness {
  readonly name: 'pglite' | 'postgres';
  readonly db: Db;
  /** postgres only: the URL of this harness's own database. */
  readonly url?: string;
  /** Raw bytes of everything stored (PGlite data dir tarball / pg_dump output). */
  dump(): Promise<Buffer>;
  /** A second, independent Db on the same data (postgres only; PGlite is single-process). */
  reopen(): Promise<Db>;
  cleanup(): Promise<void>;
}

export interface Driver {
  readonly name: 'pglite' | 'postgres';
  open(): Promise<Harness>;
}

export const ctx = (tenantId: string): RequestContext => ({
  principal: { tenantId, principalId: 'test', role: 'admin' },
  requestId: 'req-test',
});

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

export const DB_TIMEOUT_MS = 3000;

const pgliteDriver: Driver = {
  name: 'pglite',
  async open() {
    const client = await PGlite.create();
    const db = fromPglite(client);
    await db.migrate();
    return {
      name: 'pglite',
      db,
      async dump() {
        const blob = await client.dumpDataDir('none');
        return Buffer.from(await blob.arrayBuffer());
      },
      async reopen() {
        throw new Error('PGlite is single-process');
      },
      async cleanup() {
        await db.close();
      },
    };
  },
};

export function dbUrl(base: string, name: string): string {
  const u = new URL(base);
  u.pathname = '/' + name;
  return u.toString();
}

export async function createTestDatabase(base: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = 'veil_t_' + nodeRandomBytes(6).toString('hex');
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: dbUrl(base, name),
    async drop() {
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      try {
        await a.query(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}

export function pgConfig(url: string) {
  return { VEIL_DATA_DIR: '/nonexistent', DATABASE_URL: url, VEIL_DB_POOL_SIZE: 5, VEIL_DB_TIMEOUT_MS: DB_TIMEOUT_MS };
}

const postgresDriver: Driver = {
  name: 'postgres',
  async open() {
    const tdb = await createTestDatabase(TEST_DATABASE_URL!);
    const extra: Db[] = [];
    const db = fromPool(createPool(pgConfig(tdb.url)));
    await db.migrate();
    return {
      name: 'postgres',
      db,
      url: tdb.url,
      async dump() {
        return execFileSync('pg_dump', ['--no-owner', tdb.url], { maxBuffer: 256 * 1024 * 1024 });
      },
      async reopen() {
        const d = fromPool(createPool(pgConfig(tdb.url)));
        extra.push(d);
        return d;
      },
      async cleanup() {
        for (const d of extra) await d.close();
        await db.close();
        await tdb.drop();
      },
    };
  },
};

export const DRIVERS: Driver[] = TEST_DATABASE_URL ? [pgliteDriver, postgresDriver] : [pgliteDriver];

/** Vault suites: every driver, and both crypto back-ends (Web Crypto and the Node fast path). */
export const VAULT_SETUPS: { name: string; driver: Driver; crypto: VaultCrypto }[] = [
  { name: 'pglite + web crypto', driver: pgliteDriver, crypto: webVaultCrypto },
  { name: 'pglite + node crypto', driver: pgliteDriver, crypto: nodeVaultCrypto },
  ...(TEST_DATABASE_URL ? [{ name: 'postgres + node crypto', driver: postgresDriver, crypto: nodeVaultCrypto }] : []),
];
export { pgliteDriver, postgresDriver };

/** Opens a harness of `driver` for the enclosing describe block (closed after it); returns a getter. */
export function useHarness(driver: Driver): () => Harness {
  let h: Harness | undefined;
  beforeAll(async () => {
    h = await driver.open();
  }, 120_000);
  afterAll(async () => {
    await h?.cleanup();
  });
  return () => h!;
}

/**
 * {@link useHarness} plus the vaults (or anything closable) a test makes: `track(v)` returns `v`
 * and closes it after that test. `h` is the harness, set before the block's first test.
 */
export function useVaultHarness(driver: Driver): { readonly h: Harness; track<V extends { close(): Promise<void> }>(v: V): V } {
  const harness = useHarness(driver);
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const v of open.splice(0)) await v.close();
  });
  return {
    get h() {
      return harness();
    },
    track(v) {
      open.push(v);
      return v;
    },
  };
}

/** Runs the `veil` CLI in-process and captures its output. */
export async function runCliCaptured(env: Record<string, string>, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { env, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

export interface CliTarget {
  readonly name: 'pglite' | 'postgres';
  env(): Promise<{ env: Record<string, string>; done(): Promise<void> }>;
}

/** Where CLI tests run: a fresh PGlite data dir, and a fresh PostgreSQL database when TEST_DATABASE_URL is set. */
export function cliTargets(prefix: string): CliTarget[] {
  const targets: CliTarget[] = [
    {
      name: 'pglite',
      async env() {
        const dir = mkdtempSync(join(tmpdir(), prefix));
        return { env: { VEIL_DATA_DIR: dir }, done: async () => rmSync(dir, { recursive: true, force: true }) };
      },
    },
  ];
  if (TEST_DATABASE_URL) {
    targets.push({
      name: 'postgres',
      async env() {
        const t = await createTestDatabase(TEST_DATABASE_URL!);
        // PostgreSQL needs an explicit master key (admin commands and the audit load it)
        return { env: { DATABASE_URL: t.url, VEIL_DATA_DIR: '/nonexistent', VEIL_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') }, done: () => t.drop() };
      },
    });
  }
  return targets;
}
