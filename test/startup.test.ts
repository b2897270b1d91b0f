/**
 * Clear failures and clean exits of the real Node entry (issue 7, "clear failures, clean
 * exits"): a port in use, a database role without privileges, and `npm start` stopped by
 * SIGTERM. Real processes; the upstream is the loopback fake (the network stand-in), and the
 * PostgreSQL part runs only with TEST_DATABASE_URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/lib.js';
import { startFakeUpstream, type FakeUpstream } from './fakes/upstream.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = fileURLToPath(new URL('../src/runtime/node/main.ts', import.meta.url));
const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

let up: FakeUpstream | undefined;
afterAll(async () => up?.close());

function run(cmd: string, args: string[], env: Record<string, string>, opts: { detached?: boolean } = {}) {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  child.stdout!.on('data', (d) => (stdout += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, stderr: () => stderr, stdout: () => stdout };
}

const baseEnv = (port: number) => ({
  PORT: String(port),
  HOST: '127.0.0.1',
  VEIL_NER: 'off',
  VEIL_VAULT: 'memory',
  VEIL_UPSTREAM_URL: 'http://127.0.0.1:9/v1',
  VEIL_UPSTREAM_API_KEY: 'sk-up',
  VEIL_LOG_LEVEL: 'info',
});

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
  } catch {
    return false;
  }
}

it('port in use → exit 1 with "EADDRINUSE: port N on 127.0.0.1 is in use", no uncaught exception', async () => {
  const port = await freePort();
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  try {
    const p = run(process.execPath, ['--import', 'tsx', MAIN], baseEnv(port));
    const { code } = await p.exited;
    expect(code).toBe(1);
    expect(p.stderr()).toContain(`veil: EADDRINUSE: port ${port} on 127.0.0.1 is in use`);
    expect(p.stdout() + p.stderr()).not.toMatch(/uncaught exception/i);
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
}, 60_000);

it('npm start + SIGTERM to npm ends the server too (no orphan)', async () => {
  up = await startFakeUpstream();
  const port = await freePort();
  // its own process group, so that whatever is left over can be cleaned up after the test
  const p = run('npm', ['start', '--silent'], { ...baseEnv(port), VEIL_UPSTREAM_URL: up.url }, { detached: true });
  try {
    // `npm start` builds first (tsc, incremental): a cold build on a busy machine takes a minute
    const deadline = Date.now() + 180_000;
    while (!(await healthy(port))) {
      if (Date.now() > deadline || p.child.exitCode !== null) throw new Error(`did not start: ${p.stderr()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    p.child.kill('SIGTERM'); // to npm only, as a process manager or a terminal's kill does
    await p.exited;
    // whatever npm ran must be gone too: the port stops answering (graceful stop takes < 10 s)
    await expect.poll(() => healthy(port), { timeout: 15_000, interval: 200 }).toBe(false);
    await new Promise((r) => setTimeout(r, 500));
    expect(await healthy(port)).toBe(false);
  } finally {
    try {
      process.kill(-p.child.pid!, 'SIGKILL'); // an orphan keeps the group id
    } catch {
      // group already empty
    }
  }
}, 240_000);

describe.runIf(TEST_DATABASE_URL)('PostgreSQL without privileges', () => {
  it('start-up says which statement failed and why (SQLSTATE and message), exit 1', async () => {
    const suffix = randomBytes(5).toString('hex');
    const dbName = `veil_priv_${suffix}`;
    const role = `veil_noprivs_${suffix}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`create database ${dbName}`);
      await admin.query(`create role ${role} login password 'pw'`);
      // no CREATE on the database or its public schema: the first migration statement fails
      await admin.query(`revoke create on database ${dbName} from public`);
      const url = new URL(TEST_DATABASE_URL!);
      url.username = role;
      url.password = 'pw';
      url.pathname = `/${dbName}`;
      const port = await freePort();
      const env = { ...baseEnv(port), VEIL_VAULT: 'db', DATABASE_URL: url.toString(), VEIL_MASTER_KEY: randomBytes(32).toString('base64') };
      const p = run(process.execPath, ['--import', 'tsx', MAIN], env);
      const { code } = await p.exited;
      expect(code).toBe(1);
      const err = p.stderr();
      expect(err).toMatch(/database migration failed: statement `CREATE SCHEMA[^`]*` failed: PostgreSQL error 42501: permission denied for database/);
      expect(err).toMatch(/lacks a privilege/);
    } finally {
      await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {});
      await admin.query(`drop role if exists ${role}`).catch(() => {});
      await admin.end();
    }
  }, 60_000);
});
