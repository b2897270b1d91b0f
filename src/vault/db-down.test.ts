/**
 * Failure behaviour: the vault fails closed (503) and quickly when its database is gone, and
 * recovers on its own when the database returns. Real PGlite / PostgreSQL; the only stand-ins
 * are loopback TCP servers: one that accepts and never answers (a hung database), and a plain
 * byte-for-byte TCP forwarder to the real PostgreSQL that the test can cut and restore.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { isVeilError, type VeilError } from '../core/errors.js';
import { createPool, fromPglite, fromPool, openDatabase, ping } from '../db/open.node.js';
import { randomBytes, toBase64 } from '../keys/crypto.js';
import { createLocalProvider } from '../keys/local.js';
import { createDbVault } from './db-vault.js';
import { createTestDatabase, ctx, TEST_DATABASE_URL } from '../../test/helpers/db.js';

async function rejection(p: Promise<unknown>): Promise<VeilError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  if (!isVeilError(e)) throw new Error(`expected a VeilError, got ${String(e)}`);
  return e;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const provider = () => createLocalProvider(randomBytes(32));
const item = [{ type: 'PERSON' as const, value: 'Ada Lovelace' }];

describe('vault with its database down', () => {
  it('PostgreSQL on a closed port: 503 at once', async () => {
    const port = await freePort();
    const db = fromPool(createPool({ VEIL_DATA_DIR: '.', DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/x`, VEIL_DB_POOL_SIZE: 2, VEIL_DB_TIMEOUT_MS: 1000 }));
    const v = createDbVault({ db, provider: provider(), timeoutMs: 1000 });
    const t0 = Date.now();
    const e = await rejection(v.tokenize(ctx('t'), item));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect([e.status, e.code, e.type]).toEqual([503, 'veil_vault_unavailable', 'server_error']);
    expect(e.message).not.toContain('Ada');
    expect((await rejection(v.resolve(ctx('t'), ['PERSON_ABCDEFGH' as never]))).status).toBe(503);
    expect(await ping(db)).toBe(false);
    await v.close();
    await db.close();
  });

  it('a database that accepts connections and never answers: 503 within the timeout', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const db = fromPool(createPool({ VEIL_DATA_DIR: '.', DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/x`, VEIL_DB_POOL_SIZE: 2, VEIL_DB_TIMEOUT_MS: 800 }));
    const v = createDbVault({ db, provider: provider(), timeoutMs: 800 });
    try {
      const t0 = Date.now();
      const e = await rejection(v.tokenize(ctx('t'), item));
      const ms = Date.now() - t0;
      expect(ms).toBeGreaterThanOrEqual(700);
      expect(ms).toBeLessThan(2000);
      expect(e.code).toBe('veil_vault_unavailable');
    } finally {
      await v.close();
      for (const s of sockets) s.destroy();
      await db.close().catch(() => {});
      await new Promise((r) => server.close(r));
    }
  });

  it('PGlite closed under the vault: 503', async () => {
    const db = fromPglite(await PGlite.create());
    await db.migrate();
    const v = createDbVault({ db, provider: provider() });
    const [tok] = await v.tokenize(ctx('t'), item);
    expect(await ping(db)).toBe(true);
    await db.close();
    expect((await rejection(v.tokenize(ctx('t'), [{ type: 'EMAIL', value: 'a@b.example' }]))).code).toBe('veil_vault_unavailable');
    // Cached keys do not help: resolve needs the database too.
    expect((await rejection(v.resolve(ctx('t'), [tok!]))).code).toBe('veil_vault_unavailable');
    await v.close();
  });

  it('PGlite on disk: tokens survive a restart through openDatabase', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'veil-pglite-'));
    const master = randomBytes(32);
    const config = { VEIL_DATA_DIR: dir, VEIL_DB_POOL_SIZE: 1, VEIL_DB_TIMEOUT_MS: 5000 };
    try {
      const db1 = await openDatabase(config);
      const v1 = createDbVault({ db: db1, provider: createLocalProvider(master), closeDb: true });
      const [tok] = await v1.tokenize(ctx('default'), item);
      await v1.close();
      const db2 = await openDatabase(config);
      const v2 = createDbVault({ db: db2, provider: createLocalProvider(master), closeDb: true });
      expect(await v2.tokenize(ctx('default'), [{ type: 'PERSON', value: 'ADA LOVELACE' }])).toEqual([tok]);
      expect((await v2.resolve(ctx('default'), [tok!])).get(tok!)).toBe('Ada Lovelace');
      await v2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.runIf(TEST_DATABASE_URL)('vault on PostgreSQL', () => {
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const d of drops) await d();
  });

  it('recovers by itself when the database comes back', async () => {
    const tdb = await createTestDatabase(TEST_DATABASE_URL!);
    drops.push(tdb.drop);
    const target = new URL(tdb.url);
    const port = await freePort();
    const sockets = new Set<net.Socket>();
    const startProxy = async () => {
      const server = net.createServer((c) => {
        const up = net.connect(Number(target.port || 5432), target.hostname);
        sockets.add(c).add(up);
        c.pipe(up).pipe(c);
        const end = () => {
          c.destroy();
          up.destroy();
        };
        c.on('error', end).on('close', end);
        up.on('error', end).on('close', end);
      });
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      return server;
    };
    const stopProxy = async (server: net.Server) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise((r) => server.close(r));
    };
    const via = new URL(tdb.url);
    via.port = String(port);
    const db = fromPool(createPool({ VEIL_DATA_DIR: '.', DATABASE_URL: via.toString(), VEIL_DB_POOL_SIZE: 3, VEIL_DB_TIMEOUT_MS: 1000 }));
    const v = createDbVault({ db, provider: provider(), timeoutMs: 1000 });
    let server = await startProxy();
    try {
      await db.migrate();
      const [tok] = await v.tokenize(ctx('t-rec'), item);
      await stopProxy(server);
      const t0 = Date.now();
      expect((await rejection(v.tokenize(ctx('t-rec'), [{ type: 'EMAIL', value: 'x@y.example' }]))).status).toBe(503);
      expect((await rejection(v.resolve(ctx('t-rec'), [tok!]))).status).toBe(503);
      expect(Date.now() - t0).toBeLessThan(2500);
      server = await startProxy();
      expect(await v.tokenize(ctx('t-rec'), item)).toEqual([tok]);
      expect((await v.resolve(ctx('t-rec'), [tok!])).get(tok!)).toBe('Ada Lovelace');
    } finally {
      await v.close();
      await db.close();
      await stopProxy(server);
    }
  });

  it('two OS processes tokenizing overlapping values at once get identical tokens', async () => {
    const tdb = await createTestDatabase(TEST_DATABASE_URL!);
    drops.push(tdb.drop);
    const all = Array.from({ length: 150 }, (_, i) => `person${i}@overlap.example`);
    const sets = [all.slice(0, 100), all.slice(50, 150), [...all].reverse().filter((_, i) => i % 2 === 0)];
    const master = toBase64(randomBytes(32));
    const start = Date.now() + 4000; // tsx start-up takes a while on a busy machine
    const exec = promisify(execFile);
    const outs = await Promise.all(
      sets.map((values) =>
        exec(process.execPath, ['--import', 'tsx', 'test/helpers/vault-process.ts'], {
          env: { ...process.env, URL: tdb.url, MASTER: master, TENANT: 't-procs', VALUES: JSON.stringify(values), START: String(start) },
        }),
      ),
    );
    const maps = outs.map((o) => JSON.parse(o.stdout.trim().split('\n').at(-1)!).tokens as Record<string, string>);
    const merged = new Map<string, string>();
    maps.forEach((m, i) => {
      expect(Object.keys(m).length).toBe(sets[i]!.length);
      for (const [val, tok] of Object.entries(m)) {
        if (merged.has(val)) expect(tok).toBe(merged.get(val));
        merged.set(val, tok);
      }
    });
    expect(merged.size).toBe(150);
    expect(new Set(merged.values()).size).toBe(150);
    // Exactly one row per value, one KEK, and the DEK counter covers every encryption.
    const check = new (await import('pg')).default.Client({ connectionString: tdb.url });
    await check.connect();
    try {
      const r = await check.query(`select (select count(*)::int from mappings) as m, (select count(*)::int from tenant_keys where kind = 'kek') as k,
        (select coalesce(sum(encryptions), 0)::int from tenant_keys where kind = 'dek') as e`);
      expect(r.rows[0].m).toBe(150);
      expect(r.rows[0].k).toBe(1);
      expect(r.rows[0].e).toBeGreaterThanOrEqual(150);
    } finally {
      await check.end();
    }
  }, 60_000);
});
