/**
 * `migrateJsonl` (src/rag/migrate.node.ts) and `migrateTable` (src/rag/migrate.ts): a JSONL export,
 * and the same records in a pgvector table, migrated into an encrypted collection
 * on an on-disk PGlite + pgvector with the real DB vault, in a child process that is SIGKILLed
 * mid-run and started again: the second run resumes from the persisted progress (it does not
 * start over), every record ends up stored exactly once, sanitized, with the PII metadata
 * sealed. No fakes (embeddings are kept from the export, so no upstream is involved).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, expect, it } from 'vitest';
import { randomBytes, toHex } from '../../src/keys/crypto.js';

const N = 120;
const dir = mkdtempSync(join(tmpdir(), 'veil-rag-mig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runChild(env: Record<string, string>, killAtDone?: number): Promise<{ out: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'migrate-child.ts')], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let killed = false;
    child.stdout.on('data', (d) => {
      out += d;
      const m = [...out.matchAll(/progress (\d+) /g)].at(-1);
      if (killAtDone !== undefined && !killed && m && Number(m[1]) >= killAtDone) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (killed || code === 0 ? resolve({ out, killed }) : reject(new Error(`child exit ${code}: ${err.slice(-2000)}`))));
  });
}

it.each([
  { source: 'JSONL export', table: undefined },
  { source: 'pgvector table', table: 'legacy_chunks' },
])('$source: resumes after SIGKILL from the persisted progress; every record stored once, sanitized and sealed', async ({ table }) => {
  const file = join(dir, 'export.jsonl');
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    lines.push(JSON.stringify({ id: `c${i}`, text: `Chunk ${i}: contact user${i}@example.com about order ${i}.`, metadata: { owner: `user${i}@example.com`, n: i }, embedding: [1, i + 1, 0.5] }));
  }
  writeFileSync(file, lines.join('\n') + '\n');
  const env = { MIG_DATA: join(dir, `pglite-${table ?? 'jsonl'}`), MIG_FILE: file, MIG_KEY: toHex(randomBytes(32)), MIG_TENANT: 'tenant-m', ...(table ? { MIG_TABLE: table } : {}) };
  const first = await runChild(env, 10);
  expect(first.killed).toBe(true);
  const second = await runChild(env);
  const fin = /finished started=(\d+) done=(\d+) total=(\d+)/.exec(second.out);
  expect(fin, second.out).not.toBeNull();
  const started = Number(fin![1]);
  expect(started).toBeGreaterThanOrEqual(10); // resumed, not restarted
  expect(started).toBeLessThan(N); // the kill landed mid-run
  expect(Number(fin![2])).toBe(N);

  const client = await PGlite.create(env.MIG_DATA, { extensions: { vector } });
  try {
    const rows = (await client.query<{ id: string; text: string; metadata: any; sealed: any }>("select id, text, metadata, sealed from veil_rag_chunks where tenant_id = 'tenant-m' and collection = 'imported'")).rows;
    expect(rows.length).toBe(N);
    expect(new Set(rows.map((r) => r.id)).size).toBe(N);
    for (const r of rows) {
      expect(r.text).toMatch(/^Chunk \d+: contact \[EMAIL_[0-9A-Z]{8}\] about order \d+\.$/);
      expect(Object.keys(r.sealed)).toEqual(['owner']);
      expect(JSON.stringify(r)).not.toContain('@example.com');
    }
    const p = (await client.query<{ lines_done: string; finished: boolean }>('select lines_done, finished from veil_rag_migrations')).rows;
    expect(p).toEqual([{ lines_done: N, finished: true }].map((x) => ({ ...x, lines_done: expect.anything() })));
    expect(Number(p[0]!.lines_done)).toBe(N);
  } finally {
    await client.close();
  }
}, 240_000);
