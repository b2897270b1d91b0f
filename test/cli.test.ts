/** The `veil` CLI against a real PGlite data dir and (with TEST_DATABASE_URL) real PostgreSQL. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiKeyStore } from '../src/tenants/api-keys.js';
import { openDatabase } from '../src/db/open.node.js';
import { loadConfig } from '../src/core/config.js';
import { cliTargets, runCliCaptured } from './helpers/db.js';

const run = runCliCaptured;
const targets = cliTargets('veil-cli-');

describe.each(targets)('veil CLI on $name', (target) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('migrates, manages tenants and keys, and the issued key authenticates', async () => {
    const { env, done } = await target.env();
    cleanups.push(done);
    expect(await run(env, 'migrate')).toMatchObject({ code: 0 });
    expect((await run(env, 'migrate')).code).toBe(0); // idempotent
    expect((await run(env, 'tenants', 'list')).out).toBe('no tenants');

    const created = await run(env, 'tenants', 'create', 'Acme', 'Corp');
    expect(created.code).toBe(0);
    const tenantId = /created tenant (ten_[0-9a-z]{16}) \(Acme Corp\)/.exec(created.out)![1]!;
    const listed = await run(env, 'tenants', 'list', '--json');
    expect(JSON.parse(listed.out).map((t: { id: string; name: string }) => [t.id, t.name])).toEqual([[tenantId, 'Acme Corp']]);

    const issued = await run(env, 'keys', 'issue', '--tenant', tenantId, '--name', 'chat-app', '--role', 'user');
    expect(issued.code).toBe(0);
    expect(issued.err).toMatch(/shown only once/);
    const [, keyId, key] = /issued key (key_[0-9a-z]{16}) .*\n\n {2}(vk_[A-Za-z0-9_-]{43})/.exec(issued.out)!;

    const keys = await run(env, 'keys', 'list', '--tenant', tenantId);
    expect(keys.code).toBe(0);
    expect(keys.out).toContain(keyId);
    expect(keys.out).toContain(key!.slice(0, 9) + '…');
    expect(keys.out).not.toContain(key);

    // tenants disable / enable (issue 8): the status is stored and listed; an unknown id is exit 1
    expect((await run(env, 'tenants', 'disable', tenantId)).code).toBe(0);
    expect(JSON.parse((await run(env, 'tenants', 'list', '--json')).out)[0].status).toBe('disabled');
    expect((await run(env, 'tenants', 'enable', tenantId)).code).toBe(0);
    expect(JSON.parse((await run(env, 'tenants', 'list', '--json')).out)[0].status).toBe('active');
    expect((await run(env, 'tenants', 'disable', 'ten_missing')).code).toBe(1);

    // The key works against the same database, then stops working once revoked.
    const config = loadConfig(env);
    const db = await openDatabase(config);
    try {
      const store = createApiKeyStore(db, { cacheTtlMs: 1 });
      expect(await store.authenticate(key!)).toMatchObject({ kind: 'key', principal: { tenantId, role: 'user', keyId } });
      if (target.name === 'pglite') await db.close(); // PGlite: one process at a time on a data dir
      expect(await run(env, 'keys', 'revoke', keyId!)).toMatchObject({ code: 0 });
      expect(await run(env, 'keys', 'revoke', keyId!)).toMatchObject({ code: 1 });
      if (target.name === 'postgres') {
        await new Promise((r) => setTimeout(r, 5));
        expect(await store.authenticate(key!)).toEqual({ kind: 'denied', reason: 'revoked' });
      }
    } finally {
      await db.close();
    }
    expect((await run(env, 'keys', 'list', '--json')).out).toContain('"revokedAt":"');
  }, 180_000); // each command opens PGlite: slow on a busy machine

  it('reports usage errors with exit code 2 and failures with 1', async () => {
    const { env, done } = await target.env();
    cleanups.push(done);
    expect((await run(env, 'help')).out).toContain('keys issue --tenant');
    expect((await run(env)).code).toBe(0);
    expect(await run(env, 'frobnicate')).toMatchObject({ code: 2 });
    expect(await run(env, 'keys', 'issue', '--tenant', 'x', '--name', 'y')).toMatchObject({ code: 2 });
    expect(await run(env, 'keys', 'issue', '--tenant', 'x', '--name', 'y', '--role', 'root')).toMatchObject({ code: 2 });
    expect(await run(env, 'keys', 'list', '--bogus')).toMatchObject({ code: 2 });
    const missing = await run(env, 'keys', 'issue', '--tenant', 'ten_nope', '--name', 'y', '--role', 'user');
    expect(missing).toMatchObject({ code: 1 });
    expect(missing.err).toContain('No tenant with id ten_nope');
    expect(await run({ ...env, VEIL_DB_POOL_SIZE: 'lots' }, 'migrate')).toMatchObject({ code: 1 });
  }, 180_000);
});

describe('veil CLI as a process', () => {
  it('runs through tsx with exit codes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'veil-cli-proc-'));
    try {
      const exec = promisify(execFile);
      const env = { ...process.env, VEIL_DATA_DIR: dir, DATABASE_URL: '' };
      const ok = await exec(process.execPath, ['--import', 'tsx', 'src/runtime/node/cli/index.ts', 'tenants', 'create', 'Proc'], { env });
      expect(ok.stdout).toMatch(/^created tenant ten_/);
      const bad = await exec(process.execPath, ['--import', 'tsx', 'src/runtime/node/cli/index.ts', 'nope'], { env }).catch((e: { code: number; stderr: string }) => e);
      expect((bad as { code: number }).code).toBe(2);
      expect((bad as { stderr: string }).stderr).toContain('unknown command "nope"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
