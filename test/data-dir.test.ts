/**
 * The embedded default (PGlite) is owned by one process (issue 7): the data-directory lock, the
 * gateway's CLI socket, and — through the real Node entry (`src/runtime/node/main.ts`) and the real CLI
 * (`src/runtime/node/cli/index.ts`) as processes — a key issued while the gateway runs works at once and after
 * restarts, a second gateway refuses naming the holder, a missing VEIL_UPSTREAM_API_KEY is
 * reported (start-up log, /readyz, `keys issue`), and a wrong master key stops the start-up.
 * Real PGlite on disk, real openai SDK over HTTP; the only stand-in is the loopback upstream
 * (test/fakes/upstream.ts).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/lib.js';
import { acquireDataDirLock, DataDirLockedError, LOCK_FILE, readLiveLock, serveDataDirSocket, SOCKET_PORT } from '../src/db/data-dir.node.js';
import { type FakeUpstream, startFakeUpstream } from './fakes/upstream.js';
import { spawnGateway } from './helpers/gateway-process.js';

const ROOT = new URL('..', import.meta.url).pathname;
const exec = promisify(execFile);

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

describe('data directory lock', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'veil-lock-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('one holder at a time; the second is told who holds it; release frees it', () => {
    const dir = tmp();
    const a = acquireDataDirLock(dir, 'gateway');
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, role: 'gateway', socket: null });
    const e = (() => {
      try {
        acquireDataDirLock(dir, 'cli');
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(DataDirLockedError);
    expect((e as Error).message).toContain(`is in use by process ${process.pid} (veil gateway, started `);
    a.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    acquireDataDirLock(dir, 'cli').release();
  });

  it('a stale lock (dead pid, reused pid, garbage) is replaced', async () => {
    const dir = tmp();
    const path = join(dir, LOCK_FILE);
    const base = { role: 'gateway', startedAt: '2020-01-01T00:00:00.000Z', host: (await import('node:os')).hostname(), socket: null };
    writeFileSync(path, JSON.stringify({ ...base, pid: await deadPid(), procStart: null }));
    expect(readLiveLock(dir)).toBeNull();
    acquireDataDirLock(dir, 'gateway').release();
    if (existsSync('/proc/self/stat')) {
      // our own pid, but recorded with another start time: the pid was reused
      writeFileSync(path, JSON.stringify({ ...base, pid: process.pid, procStart: '1' }));
      expect(readLiveLock(dir)).toBeNull();
      acquireDataDirLock(dir, 'gateway').release();
    }
    writeFileSync(path, 'not json');
    acquireDataDirLock(dir, 'gateway').release();
  });
});

describe('the gateway socket shares one PGlite safely', () => {
  it('socket clients and in-process queries and transactions interleave without mixing results', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'veil-sock-'));
    const db = await PGlite.create();
    const served = await serveDataDirSocket(db, dir);
    const client = new pg.Pool({ host: dir, port: SOCKET_PORT, user: 'postgres', database: 'postgres', max: 3 }); // concurrent clients
    try {
      expect(served).not.toBeNull();
      await db.exec('create table t (n int primary key)');
      const remote = Array.from({ length: 150 }, async (_, i) => {
        const r = await client.query<{ v: string; n: number }>('select $1::text as v, $2::int as n', [`r${i}`, i]);
        expect(r.rows).toEqual([{ v: `r${i}`, n: i }]);
      });
      const local = Array.from({ length: 150 }, async (_, i) => {
        if (i % 10 === 0) {
          // a gateway transaction: a socket statement landing inside it would be rolled back with it
          await db
            .transaction(async (tx) => {
              await tx.query('insert into t values ($1)', [1000 + i]);
              await new Promise((r) => setTimeout(r, 2));
              throw new Error('rollback');
            })
            .catch(() => {});
          return;
        }
        const r = await db.query<{ v: string }>('select $1::text as v', [`l${i}`]);
        expect(r.rows).toEqual([{ v: `l${i}` }]);
      });
      // A long gateway transaction that is rolled back, with socket writes sent while it is open:
      // they must wait for it, not run inside it (and be rolled back with it).
      let opened!: () => void;
      const isOpen = new Promise<void>((r) => (opened = r));
      const longTx = db
        .transaction(async (tx) => {
          await tx.query('insert into t values (-1)');
          opened();
          await new Promise((r) => setTimeout(r, 400));
          throw new Error('rollback');
        })
        .catch(() => {});
      await isOpen;
      const writes = (async () => {
        for (let i = 0; i < 30; i++) await client.query('insert into t values ($1)', [i]);
      })();
      await Promise.all([longTx, writes, ...remote, ...local]);
      // every socket insert committed; every rolled-back local one is gone
      expect((await db.query<{ c: number }>('select count(*)::int as c from t')).rows[0]!.c).toBe(30);

      // A socket client's own transaction: gateway statements wait for its COMMIT, never join it.
      const c = await client.connect();
      await c.query('begin');
      await c.query('insert into t values (100)');
      const during = db.query('insert into t values (200)');
      await new Promise((r) => setTimeout(r, 50));
      await c.query('rollback');
      await during;
      c.release();
      expect((await db.query<{ n: number }>('select n from t where n >= 100 order by n')).rows).toEqual([{ n: 200 }]);

      // A client that disconnects inside a transaction: rolled back, and the gateway goes on.
      const lost = new pg.Client({ host: dir, port: SOCKET_PORT, user: 'postgres', database: 'postgres' });
      lost.on('error', () => {});
      await client.end();
      await lost.connect();
      await lost.query('begin');
      await lost.query('insert into t values (300)');
      (lost as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      const t0 = Date.now();
      expect((await db.query<{ n: number }>('select n from t where n >= 100 order by n')).rows).toEqual([{ n: 200 }]);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(db.isInTransaction()).toBe(false);
    } finally {
      await client.end().catch(() => {});
      await served?.close();
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('CLI and gateway on one PGlite data directory (real processes)', () => {
  let up: FakeUpstream;
  let dir: string;
  const masterKey = Buffer.alloc(32, 3).toString('base64');
  const running: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    up = await startFakeUpstream();
    dir = mkdtempSync(join(tmpdir(), 'veil-dd-'));
  });
  afterAll(async () => {
    for (const p of running) await p.stop();
    await up?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const gatewayEnv = (port: number, extra: Record<string, string> = {}) => ({
    PORT: String(port),
    HOST: '127.0.0.1',
    VEIL_DATA_DIR: dir,
    VEIL_MASTER_KEY: masterKey,
    DATABASE_URL: '',
    VEIL_NER: 'off',
    VEIL_UPSTREAM_URL: up.url,
    VEIL_LOG_LEVEL: 'info',
    ...extra,
  });
  async function gateway(extra: Record<string, string> = {}) {
    const port = await freePort();
    return spawnGateway(port, gatewayEnv(port, extra), (g) => running.push(g), 90_000);
  }
  async function cli(...argv: string[]) {
    // the gateway's master key: admin commands are audited, and the CLI verifies it like the gateway
    const env = { ...process.env, VEIL_DATA_DIR: dir, DATABASE_URL: '', VEIL_UPSTREAM_API_KEY: 'sk-up', VEIL_MASTER_KEY: masterKey };
    return exec(process.execPath, ['--import', 'tsx', join(ROOT, 'src/runtime/node/cli/index.ts'), ...argv], { env, cwd: ROOT }).then(
      (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
    );
  }
  const chat = (url: string, apiKey: string, content: string) =>
    new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 }).chat.completions.create({ model: 'm', messages: [{ role: 'user', content }] });

  it('a key issued while the gateway runs works at once and after restarts; a second gateway refuses; no upstream key is reported', async () => {
    // 1. gateway with an upstream key; the CLI works through it
    const g1 = await gateway({ VEIL_UPSTREAM_API_KEY: 'sk-up' });
    const created = await cli('tenants', 'create', 'Acme');
    expect(created).toMatchObject({ code: 0 });
    const tenantId = /created tenant (ten_[0-9a-z]{16})/.exec(created.out)![1]!;
    const issued = await cli('keys', 'issue', '--tenant', tenantId, '--name', 'app', '--role', 'admin', '--json');
    expect(issued.code).toBe(0);
    expect(issued.err).not.toMatch(/VEIL_UPSTREAM_API_KEY/);
    const key = JSON.parse(issued.out).key as string;
    // at once: for its own tenant (not as open mode), values masked upstream and restored
    const r = await chat(g1.url, key, 'mail ada.dd@example.org now');
    expect(r.choices[0]!.message.content).toBe('You said: mail ada.dd@example.org now');
    expect(up.allRaw()).not.toContain('ada.dd@example.org');
    await expect(chat(g1.url, 'vk_' + 'A'.repeat(43), 'hi')).rejects.toMatchObject({ status: 401 });
    expect((await cli('keys', 'list', '--json')).out).toContain(tenantId);
    expect((await cli('migrate')).out).toContain(`by the running gateway, pid ${g1.child.pid}`);

    // 2. a second gateway on the same folder refuses and names the holder
    const port2 = await freePort();
    const second = await exec(process.execPath, ['--import', 'tsx', join(ROOT, 'src/runtime/node/main.ts')], {
      env: { ...process.env, ...gatewayEnv(port2, { VEIL_UPSTREAM_API_KEY: 'sk-up' }) },
      cwd: ROOT,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((second as { code: number }).code).toBe(1);
    expect((second as { stderr: string }).stderr).toContain(`is in use by process ${g1.child.pid} (veil gateway`);
    expect((await chat(g1.url, key, 'still ok')).choices[0]!.message.content).toBe('You said: still ok');
    await g1.stop();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);

    // 3. restarted without VEIL_UPSTREAM_API_KEY: said at start, in /readyz, and by `keys issue`
    const g2 = await gateway({ VEIL_UPSTREAM_API_KEY: '' });
    const ready = await fetch(`${g2.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not_ready', reason: 'upstream_api_key_missing' });
    expect(g2.log()).toMatch(/API keys exist but VEIL_UPSTREAM_API_KEY is not set: every request with a Veil key is refused with 500 veil_misconfigured/);
    await expect(chat(g2.url, key, 'hi')).rejects.toMatchObject({ status: 500, code: 'veil_misconfigured' });
    const noUp = await exec(process.execPath, ['--import', 'tsx', join(ROOT, 'src/runtime/node/cli/index.ts'), 'keys', 'issue', '--tenant', tenantId, '--name', 'other', '--role', 'user'], {
      env: { ...process.env, VEIL_DATA_DIR: dir, DATABASE_URL: '', VEIL_UPSTREAM_API_KEY: '', VEIL_MASTER_KEY: masterKey },
      cwd: ROOT,
    });
    expect(noUp.stderr).toMatch(/WARNING: VEIL_UPSTREAM_API_KEY is not set .* 500 veil_misconfigured/);
    await g2.stop();

    // 4. a wrong master key stops the start-up and says so
    const wrong = await exec(process.execPath, ['--import', 'tsx', join(ROOT, 'src/runtime/node/main.ts')], {
      env: { ...process.env, ...gatewayEnv(port2, { VEIL_UPSTREAM_API_KEY: 'sk-up', VEIL_MASTER_KEY: Buffer.alloc(32, 4).toString('base64') }) },
      cwd: ROOT,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((wrong as { code: number }).code).toBe(1);
    expect((wrong as { stderr: string }).stderr).toMatch(/cannot start: wrong master key: the configured master key \(local:[0-9a-f]{16}\)/);

    // 5. the key survives the restarts, and the CLI works directly while no gateway runs
    expect((await cli('keys', 'list')).out).toMatch(/app .*admin/);
    const g3 = await gateway({ VEIL_UPSTREAM_API_KEY: 'sk-up' });
    expect((await chat(g3.url, key, 'mail ada.dd@example.org again')).choices[0]!.message.content).toBe('You said: mail ada.dd@example.org again');
    await g3.stop();
  }, 300_000);
});
