/**
 * Admin actions through the real `veil` CLI (in-process, on a real PGlite and, with
 * TEST_DATABASE_URL, a real PostgreSQL): every tenant / key / policy change writes its event to
 * the tenant's chain first — with ids, never the API key — the chain verifies, and when the audit
 * cannot be written nothing changes (exit 1). A wrong master key is refused before anything is
 * written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/runtime/node/cli/index.js';
import { DRIVERS, type Harness } from '../helpers/db.js';

const MASTER = Buffer.alloc(32, 11).toString('base64');

describe.each(DRIVERS)('audited admin commands on $name', (driver) => {
  let h: Harness;
  let files: string;
  beforeAll(async () => {
    h = await driver.open();
    files = mkdtempSync(join(tmpdir(), 'veil-admin-'));
  }, 120_000);
  afterAll(async () => {
    await h?.cleanup();
    if (files) rmSync(files, { recursive: true, force: true });
  });
  async function run(env: Record<string, string>, ...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { env, db: h.db, out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  const env = { VEIL_MASTER_KEY: MASTER, VEIL_UPSTREAM_API_KEY: 'sk-up' };
  const events = async (tenant: string) => {
    const r = await run(env, 'audit', 'export', '--tenant', tenant);
    expect(r.code).toBe(0);
    return r.out ? r.out.split('\n').map((l) => JSON.parse(l) as { seq: number; event: Record<string, unknown> & { detail?: Record<string, unknown> } }) : [];
  };

  it('tenants, keys and policy changes are recorded in order, with ids only, and the chain verifies', async () => {
    const tenantId = JSON.parse((await run(env, 'tenants', 'create', 'Acme', '--json')).out).id as string;
    const issued = await run(env, 'keys', 'issue', '--tenant', tenantId, '--name', 'chat-app', '--role', 'user', '--json');
    expect(issued.code).toBe(0);
    const { id: keyId, key } = JSON.parse(issued.out) as { id: string; key: string };
    expect((await run(env, 'keys', 'revoke', keyId)).code).toBe(0);
    expect((await run(env, 'tenants', 'disable', tenantId)).code).toBe(0);
    expect((await run(env, 'tenants', 'enable', tenantId)).code).toBe(0);
    const policy = join(files, 'p.json');
    writeFileSync(policy, JSON.stringify({ detectType: { EMAIL: 'pass' } }));
    expect((await run(env, 'policy', 'set', tenantId, '--file', policy)).code).toBe(0);
    expect((await run(env, 'policy', 'reset', tenantId)).code).toBe(0);
    // refused requests record nothing
    expect((await run(env, 'keys', 'revoke', keyId)).code).toBe(1);
    expect((await run(env, 'tenants', 'disable', 'ten_missing')).code).toBe(1);
    expect((await run(env, 'policy', 'set', 'ten_missing', '--file', policy)).code).toBe(1);

    const got = await events(tenantId);
    expect(got.map((e) => [e.seq, e.event.kind])).toEqual([
      [1, 'tenant.created'],
      [2, 'key.issued'],
      [3, 'key.revoked'],
      [4, 'tenant.disabled'],
      [5, 'tenant.enabled'],
      [6, 'policy.changed'],
      [7, 'policy.changed'],
    ]);
    for (const e of got) {
      expect(e.event).toMatchObject({ tenant: tenantId, endpoint: 'cli' });
      expect(e.event.principal).toMatch(/^os:/);
    }
    expect(got[1]!.event.detail).toEqual({ key_id: keyId, name: 'chat-app', role: 'user' });
    expect(got[2]!.event.detail).toEqual({ key_id: keyId });
    expect(got[5]!.event.detail).toMatchObject({ action: 'set', override: '{"detectType":{"EMAIL":"pass"}}' });
    expect(got[5]!.event.detail!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(got[6]!.event.detail).toEqual({ action: 'reset' });
    const all = (await run(env, 'audit', 'export', '--tenant', tenantId)).out;
    expect(all).not.toContain(key); // never the API key
    expect(all).not.toContain(key.slice(3, 20));
    const v = await run(env, 'audit', 'verify', '--tenant', tenantId);
    expect(v).toMatchObject({ code: 0 });
    expect(v.out).toContain(`ok    ${tenantId}: 7 events (1..7)`);
  });

  it('when the audit cannot be written, nothing changes and the command fails', async () => {
    const tenantId = JSON.parse((await run(env, 'tenants', 'create', 'Beta', '--json')).out).id as string;
    const before = (await run(env, 'keys', 'list', '--tenant', tenantId, '--json')).out;
    // The audit table refuses writes (a stand-in for a failing audit store; the rest of the database works).
    await h.db.query(
      `create or replace function veil_test_refuse() returns trigger language plpgsql as $$ begin raise exception 'audit refused'; end $$`,
      [],
    );
    await h.db.query('create trigger veil_test_refuse before insert on audit_events for each row execute function veil_test_refuse()', []);
    try {
      const issued = await run(env, 'keys', 'issue', '--tenant', tenantId, '--name', 'x', '--role', 'admin');
      expect(issued.code).toBe(1);
      expect(issued.err).toMatch(/audit/i);
      expect(issued.out).not.toMatch(/vk_/);
      expect((await run(env, 'keys', 'list', '--tenant', tenantId, '--json')).out).toBe(before);
      expect((await run(env, 'tenants', 'disable', tenantId)).code).toBe(1);
      expect(JSON.parse((await run(env, 'tenants', 'list', '--json')).out).find((t: { id: string }) => t.id === tenantId).status).toBe('active');
      const policy = join(files, 'q.json');
      writeFileSync(policy, JSON.stringify({ detect: { contextual: 'pass' } }));
      expect((await run(env, 'policy', 'set', tenantId, '--file', policy)).code).toBe(1);
      expect(JSON.parse((await run(env, 'policy', 'show', tenantId)).out).override).toBeNull();
    } finally {
      await h.db.query('drop trigger veil_test_refuse on audit_events', []);
    }
    expect((await events(tenantId)).map((e) => e.event.kind)).toEqual(['tenant.created']);
  });

  it('a CLI with another master key is refused before it writes anything', async () => {
    const other = { ...env, VEIL_MASTER_KEY: Buffer.alloc(32, 12).toString('base64') };
    const r = await run(other, 'tenants', 'create', 'Gamma');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/wrong master key/);
    expect((await run(env, 'tenants', 'list', '--json')).out).not.toContain('Gamma');
  });
  it('veil audit verify exits 1 naming the first bad event: a deleted event, reordered events', async () => {
    const tenants: string[] = [];
    for (const name of ['Del', 'Reo']) {
      const t = JSON.parse((await run(env, 'tenants', 'create', name, '--json')).out).id as string;
      for (let i = 0; i < 3; i++) expect((await run(env, 'keys', 'issue', '--tenant', t, '--name', `k${i}`, '--role', 'user')).code).toBe(0);
      tenants.push(t);
    }
    const [del, reo] = tenants as [string, string];
    expect((await run(env, 'audit', 'verify', '--tenant', del)).code).toBe(0);
    await h.db.query('delete from audit_events where tenant_id = $1 and seq = 3', [del]);
    const d = await run(env, 'audit', 'verify', '--tenant', del);
    expect(d.code).toBe(1);
    expect(d.out).toContain(`FAIL  ${del}: event 3: event 3 is missing (deleted); the chain jumps to 4`);
    // swap events 2 and 3 (rows intact, order changed)
    await h.db.query('update audit_events set seq = -1 where tenant_id = $1 and seq = 2', [reo]);
    await h.db.query('update audit_events set seq = 2 where tenant_id = $1 and seq = 3', [reo]);
    await h.db.query('update audit_events set seq = 3 where tenant_id = $1 and seq = -1', [reo]);
    const r = await run(env, 'audit', 'verify');
    expect(r.code).toBe(1);
    expect(r.out).toContain(`FAIL  ${reo}: event 2: event 2 does not match the chain (edited, reordered or inserted)`);
    expect(r.out).toMatch(/2 of \d+ audit chains FAILED verification/);
    // clean up for the other tests of this file (their chains stay intact)
    await h.db.query('delete from audit_events where tenant_id = any($1::text[])', [[del, reo]]);
    await h.db.query('delete from audit_heads where tenant_id = any($1::text[])', [[del, reo]]);
  });
});
