/**
 * `veil collections migrate` through runCli (in process) on PGlite + pgvector with the real
 * vault under a local master key: keeps the export's vectors by default; `--re-embed` sends the
 * sanitized text (never a value) to the loopback upstream (test/fakes/upstream.ts, the only
 * fake) and stores its vectors. Usage errors exit 2; a bad record exits 1 naming its line only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Db } from '../../src/db/client.js';
import { fromPglite } from '../../src/db/open.node.js';
import { randomBytes, toBase64 } from '../../src/keys/crypto.js';
import { runCli } from '../../src/runtime/node/cli/index.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { embeddingUpstream } from './embedding-upstream.js';

const dir = mkdtempSync(join(tmpdir(), 'veil-rag-cli-'));
let client: PGlite;
let db: Db;
let up: FakeUpstream;
let env: Record<string, string>;

beforeAll(async () => {
  client = await PGlite.create({ extensions: { vector } });
  db = fromPglite(client);
  await db.migrate();
  up = await startFakeUpstream(embeddingUpstream);
  env = { VEIL_DATA_DIR: dir, VEIL_MASTER_KEY: toBase64(randomBytes(32)), VEIL_NER: 'false', VEIL_UPSTREAM_URL: up.url, VEIL_UPSTREAM_API_KEY: 'sk-up' };
}, 120_000);
afterAll(async () => {
  await up?.close();
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['collections', ...args], { env, out: (l) => out.push(l), err: (l) => err.push(l), db });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

it('migrates a JSONL export (kept vectors, then --re-embed), sanitized and sealed', async () => {
  const file = join(dir, 'a.jsonl');
  writeFileSync(file, [0, 1, 2, 3, 4].map((i) => JSON.stringify({ id: `k${i}`, text: `Ask ann${i}@example.com`, metadata: { owner: `ann${i}@example.com` }, embedding: [i + 1, 1] })).join('\n'));
  const r = await cli(['migrate', '--tenant', 't1', '--collection', 'kb', '--file', file, '--batch', '2']);
  expect(r.code, r.err).toBe(0);
  expect(r.out).toMatch(/^migrated 5 chunks into "kb" \(5\/5 done; \d+ chunks\/s\)$/);
  expect(up.received).toHaveLength(0);
  const again = await cli(['migrate', '--tenant', 't1', '--collection', 'kb', '--file', file]);
  expect(again.out).toMatch(/^migrated 0 chunks into "kb" \(5\/5 done, resumed at 5;/);

  const r2 = await cli(['migrate', '--tenant', 't1', '--collection', 'kb2', '--file', file, '--re-embed', '--model', 'emb']);
  expect(r2.code, r2.err).toBe(0);
  expect(up.received.length).toBeGreaterThan(0);
  expect(up.allRaw()).not.toContain('@example.com');
  const rows = (await client.query<{ collection: string; text: string; dims: number; sealed: any }>("select collection, text, dims, sealed from veil_rag_chunks where tenant_id = 't1' order by collection, id")).rows;
  expect(rows.map((x) => `${x.collection}:${x.dims}`)).toEqual([...Array(5).fill('kb:2'), ...Array(5).fill('kb2:64')]);
  for (const x of rows) {
    expect(x.text).toMatch(/^Ask \[EMAIL_[0-9A-Z]{8}\]$/);
    expect(Object.keys(x.sealed)).toEqual(['owner']);
  }
}, 120_000);

it('usage errors exit 2; a bad record exits 1 naming the line, not its content', async () => {
  expect((await cli(['migrate', '--tenant', 't1'])).code).toBe(2);
  expect((await cli(['migrate', '--tenant', 't1', '--collection', 'kb', '--file', 'x', '--re-embed'])).code).toBe(2);
  const file = join(dir, 'bad.jsonl');
  writeFileSync(file, `${JSON.stringify({ id: 'ok', text: 'fine', embedding: [1, 2] })}\n{"id": "secret-bob@example.com", "text":\n`);
  const r = await cli(['migrate', '--tenant', 't1', '--collection', 'bad', '--file', file]);
  expect(r.code).toBe(1);
  expect(r.err).toBe('error: record 2 is not valid JSON');
}, 120_000);

it('a database error that quotes a value (SQLSTATE 22, e.g. a bad cast in the source table) is named by its code, never echoed', async () => {
  // the source table's embedding column holds text that PostgreSQL cannot read as real[]:
  // its error message is `malformed array literal: "carol.secret@example.com"`
  await client.exec(`create table legacy_bad (doc_id text primary key, body text, emb text);
    insert into legacy_bad values ('d1', 'hello', 'carol.secret@example.com');`);
  const r = await cli(['migrate', '--tenant', 't1', '--collection', 'badcast', '--from-table', 'legacy_bad', '--id-col', 'doc_id', '--text-col', 'body', '--embedding-col', 'emb']);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/^error: the database refused a value \(SQLSTATE 22[0-9A-Z]{3}\)$/);
  expect(r.err + r.out).not.toContain('carol.secret');
}, 120_000);
