/**
 * Real processes: a gateway (src/runtime/node/main.ts) serving chat requests that write restore
 * events while `veil` CLI processes issue keys and change the policy of the same tenant — on the
 * embedded PGlite (the CLI goes through the gateway's socket) and on PostgreSQL (with
 * TEST_DATABASE_URL). Both writers append to one chain: afterwards `veil audit verify` exits 0,
 * the sequence has no gap, and every admin event is in it. The upstream is a stand-in on
 * loopback speaking the OpenAI wire format (test/fakes/upstream.ts); everything else is real.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/lib.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { spawnGateway } from '../helpers/gateway-process.js';
import { createTestDatabase, TEST_DATABASE_URL } from '../helpers/db.js';

const exec = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
const MASTER = Buffer.alloc(32, 21).toString('base64');

interface Target {
  name: string;
  env(dir: string): Promise<{ env: Record<string, string>; done(): Promise<void> }>;
}
const TARGETS: Target[] = [{ name: 'pglite', env: async () => ({ env: { DATABASE_URL: '' }, done: async () => {} }) }];
if (TEST_DATABASE_URL) {
  TARGETS.push({
    name: 'postgres',
    async env() {
      const t = await createTestDatabase(TEST_DATABASE_URL!);
      return { env: { DATABASE_URL: t.url }, done: () => t.drop() };
    },
  });
}

describe.each(TARGETS)('admin events and restore events share one chain across processes ($name)', (target) => {
  let up: FakeUpstream;
  let dir: string;
  let base: Record<string, string>;
  let done: () => Promise<void>;
  const stops: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    up = await startFakeUpstream();
    dir = mkdtempSync(join(tmpdir(), 'veil-admin-proc-'));
    const t = await target.env(dir);
    done = t.done;
    base = { VEIL_DATA_DIR: dir, VEIL_MASTER_KEY: MASTER, VEIL_UPSTREAM_API_KEY: 'sk-up', ...t.env };
  }, 60_000);
  afterAll(async () => {
    for (const s of stops) await s();
    await up?.close();
    await done?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function cli(...argv: string[]) {
    return exec(process.execPath, ['--import', 'tsx', join(ROOT, 'src/runtime/node/cli/index.ts'), ...argv], { env: { ...process.env, ...base }, cwd: ROOT }).then(
      (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
    );
  }

  async function gateway() {
    const port = await freePort();
    return spawnGateway(port, { ...base, VEIL_NER: 'off', VEIL_UPSTREAM_URL: up.url, VEIL_LOG_LEVEL: 'warn' }, (g) => stops.push(() => g.stop()));
  }

  it('CLI admin commands during live traffic: one linear chain that verifies', async () => {
    const g = await gateway();
    const created = await cli('tenants', 'create', 'Acme', '--json');
    expect(created).toMatchObject({ code: 0 });
    const tenantId = JSON.parse(created.out).id as string;
    const issued = await cli('keys', 'issue', '--tenant', tenantId, '--name', 'app', '--role', 'admin', '--json');
    expect(issued.code).toBe(0);
    const key = JSON.parse(issued.out).key as string;
    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: key, maxRetries: 0 });

    // traffic on the tenant's chain until the CLI is done
    let cliDone = false;
    let chats = 0;
    const traffic = (async () => {
      while (!cliDone || chats < 6) {
        await Promise.all(
          [0, 1].map(async (i) => {
            const r = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `mail ann${chats}.${i}@example.org` }] });
            expect(r.choices[0]!.message.content).toBe(`You said: mail ann${chats}.${i}@example.org`);
          }),
        );
        chats++;
      }
    })();
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ restore: { user: { sensitive: 'masked' } } }));
    const admin = [
      await cli('policy', 'set', tenantId, '--file', policy),
      await cli('keys', 'issue', '--tenant', tenantId, '--name', 'second', '--role', 'user', '--json'),
      await cli('policy', 'reset', tenantId),
    ];
    cliDone = true;
    await traffic;
    for (const r of admin) expect(r).toMatchObject({ code: 0 });
    const secondKeyId = JSON.parse(admin[1]!.out).id as string;
    expect((await cli('keys', 'revoke', secondKeyId)).code).toBe(0);

    // verify and export while the gateway still runs (through its socket on PGlite)
    const v = await cli('audit', 'verify', '--tenant', tenantId);
    expect(v.code).toBe(0);
    const exported = await cli('audit', 'export', '--tenant', tenantId);
    expect(exported.code).toBe(0);
    const events = exported.out.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; event: { kind: string; detail?: Record<string, unknown> } });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1)); // no gap, no fork
    const kinds = events.map((e) => e.event.kind);
    expect(kinds.filter((k) => k === 'restore').length).toBe(chats * 2);
    expect(kinds.filter((k) => k !== 'restore')).toEqual(['tenant.created', 'key.issued', 'policy.changed', 'key.issued', 'policy.changed', 'key.revoked']);
    expect(events.find((e) => e.event.kind === 'key.revoked')!.event.detail).toEqual({ key_id: secondKeyId });
    expect(exported.out).not.toContain(key);

    // `veil audit tail` follows the live chain (through the socket on PGlite): traffic until it has printed one event
    const tail = cli('audit', 'tail', '--tenant', tenantId, '--limit', '1', '--interval-ms', '100');
    let tailed = false;
    void tail.finally(() => (tailed = true));
    for (let i = 0; !tailed && i < 600; i++) {
      await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `mail tail${i}@example.org` }] });
      await new Promise((r) => setTimeout(r, 200));
    }
    const t = await tail;
    expect(t.code).toBe(0);
    const line = JSON.parse(t.out.trim()) as { tenant: string; seq: number; event: { kind: string } };
    expect(line).toMatchObject({ tenant: tenantId, event: { kind: 'restore' } });
    expect(line.seq).toBeGreaterThan(events.length);
    await g.stop();
    // and after the gateway stopped, directly
    expect((await cli('audit', 'verify')).code).toBe(0);
  }, 400_000);
});
