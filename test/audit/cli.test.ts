/**
 * `veil audit verify | export | tail | prune` in-process against a fresh PGlite data dir (and a
 * fresh PostgreSQL database with TEST_DATABASE_URL), with events written by the real store
 * under the same master key (VEIL_MASTER_KEY) the CLI loads.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditStore } from '../../src/audit/store.js';
import { loadConfig } from '../../src/core/config.js';
import { openDatabase } from '../../src/db/open.node.js';
import { randomBytes, toBase64 } from '../../src/keys/crypto.js';
import { createLocalProvider } from '../../src/keys/local.js';
import { runCli } from '../../src/runtime/node/cli/index.js';
import { cliTargets, runCliCaptured } from '../helpers/db.js';

describe.each(cliTargets('veil-audit-cli-'))('veil audit ($name)', (target) => {
  it('verify, export (time window), tail, prune; tampering exits 1 naming the event', async () => {
    const { env: base, done } = await target.env();
    const master = randomBytes(32);
    const env = { ...base, VEIL_MASTER_KEY: toBase64(master) };
    const outDir = mkdtempSync(join(tmpdir(), 'veil-audit-out-'));
    try {
      let t = Date.parse('2026-03-01T00:00:00Z');
      const db = await openDatabase(loadConfig(env));
      const store = createAuditStore({ db, provider: createLocalProvider(master), checkpointEvery: 3, now: () => t });
      for (let i = 1; i <= 5; i++) {
        await store.append('acme', [{ kind: 'reveal', tenantId: 'acme', requestId: `r${i}`, tokens: [{ token: 'EMAIL_7QX2M4AB', type: 'EMAIL', outcome: 'revealed' }] }]);
        t += 86_400_000;
      }
      await store.append('beta', [{ kind: 'key.issued', tenantId: 'beta', detail: { key_id: 'key_1' } }]);
      await db.close();

      const ok = await runCliCaptured(env, 'audit', 'verify');
      expect(ok.code).toBe(0);
      expect(ok.out).toContain('ok    acme: 5 events (1..5), 1 checkpoints');
      expect(ok.out).toContain('all 2 audit chains intact');

      const exp = await runCliCaptured(env, 'audit', 'export', '--tenant', 'acme', '--since', '2026-03-02', '--until', '2026-03-04T00:00:00Z');
      expect(exp.code).toBe(0);
      const lines = exp.out.split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.seq, l.event.request])).toEqual([
        [2, 'r2'],
        [3, 'r3'],
      ]);
      expect(lines[0].hash).toMatch(/^[0-9a-f]{64}$/);
      const file = join(outDir, 'acme.jsonl');
      expect((await runCliCaptured(env, 'audit', 'export', '--tenant', 'acme', '--out', file)).code).toBe(0);
      expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(5);

      // tail: follows events appended after it starts
      const tailOut: string[] = [];
      const tail = runCli(['audit', 'tail', '--tenant', 'acme', '--limit', '2', '--interval-ms', '50'], { env, out: (l) => tailOut.push(l), err: () => {} });
      if (target.name === 'postgres') {
        await new Promise((r) => setTimeout(r, 300));
        const db2 = await openDatabase(loadConfig(env));
        const s2 = createAuditStore({ db: db2, provider: createLocalProvider(master) });
        await s2.append('acme', [{ kind: 'reveal', tenantId: 'acme', requestId: 'r6' }, { kind: 'reveal', tenantId: 'acme', requestId: 'r7' }]);
        await db2.close();
        expect(await tail).toBe(0);
        expect(tailOut.map((l) => JSON.parse(l).event.request)).toEqual(['r6', 'r7']);
      } else {
        // PGlite is owned by one process at a time: tail cannot share it with a writer here
        // (interrupt it like Ctrl-C, as often as needed until it has started and stops)
        let settled = false;
        void tail.finally(() => (settled = true));
        for (let i = 0; i < 300 && !settled; i++) {
          await new Promise((r) => setTimeout(r, 200));
          if (!settled) process.emit('SIGINT');
        }
        expect(await tail).toBe(0);
        expect(tailOut).toEqual([]);
      }

      const pr = await runCliCaptured(env, 'audit', 'prune', '--tenant', 'acme', '--before', '2026-03-03T00:00:00Z');
      expect(pr.code).toBe(0);
      expect(pr.out).toContain('acme: pruned 2 events (through 2)');
      expect((await runCliCaptured(env, 'audit', 'verify', '--tenant', 'acme')).code).toBe(0);

      const db3 = await openDatabase(loadConfig(env));
      await db3.query(`update audit_events set body = replace(body, '"r4"', '"r9"') where tenant_id = 'acme'`, []);
      await db3.close();
      const bad = await runCliCaptured(env, 'audit', 'verify');
      expect(bad.code).toBe(1);
      expect(bad.out).toContain('FAIL  acme: event 4: event 4 does not match the chain');
      expect(bad.out).toContain('ok    beta');

      expect((await runCliCaptured(env, 'audit', 'export')).code).toBe(2);
      expect((await runCliCaptured(env, 'audit', 'export', '--tenant', 'acme', '--since', 'yesterday')).code).toBe(2);
      expect((await runCliCaptured(env, 'audit', 'frobnicate')).code).toBe(2);
      expect((await runCliCaptured(env, 'audit', 'prune')).err).toContain('retention is off');
    } finally {
      rmSync(outDir, { recursive: true, force: true });
      await done();
    }
  }, 120_000);
});
