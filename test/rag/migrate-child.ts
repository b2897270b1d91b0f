/**
 * Child process for test/rag/migrate.test.ts: runs one migration — of the JSONL file MIG_FILE,
 * or with MIG_TABLE of that pgvector table (created from MIG_FILE's records on the first run) —
 * on an on-disk PGlite (+ pgvector) data directory with the real DB vault, printing
 * `progress <done> <total>` after every committed batch, so the parent can SIGKILL it mid-run and
 * start it again.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { fromPglite } from '../../src/db/open.node.js';
import { createPatternDetector } from '../../src/detect/patterns/index.js';
import { fromHex } from '../../src/keys/crypto.js';
import { createLocalProvider } from '../../src/keys/local.js';
import { DEFAULT_POLICY } from '../../src/policy/index.js';
import { createCollections } from '../../src/rag/collections.js';
import { readFileSync } from 'node:fs';
import { migrateJsonl } from '../../src/rag/migrate.node.js';
import { migrateTable } from '../../src/rag/migrate.js';
import { createPgVectorStore } from '../../src/rag/store.js';
import { nodeVaultCrypto } from '../../src/keys/crypto.node.js';
import { createDbVault } from '../../src/vault/db-vault.js';

const env = process.env;
const client = await PGlite.create(env.MIG_DATA!, { extensions: { vector } });
const db = fromPglite(client);
await db.migrate();
const vault = createDbVault({ db, provider: createLocalProvider(fromHex(env.MIG_KEY!)), crypto: nodeVaultCrypto, timeoutMs: 30_000 });
const rag = createCollections({ store: createPgVectorStore(db), keyring: vault.keyring, crypto: nodeVaultCrypto });
const ctx = { principal: { tenantId: env.MIG_TENANT!, principalId: 'migration', role: 'admin' }, requestId: 'migration' };
const mask = { detector: createPatternDetector(), vault, policy: DEFAULT_POLICY };
const opts = { collection: 'imported', batchSize: 2, reEmbed: false, onProgress: (done: number, total: number) => process.stdout.write(`progress ${done} ${total}\n`) };
const table = env.MIG_TABLE;
if (table) {
  const made = await db.query<{ t: string | null }>('select to_regclass($1)::text as t', [table]);
  if (!made[0]?.t) {
    await db.query('create extension if not exists vector', []);
    const records = readFileSync(env.MIG_FILE!, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    await db.query(`create table ${table} (id text primary key, body text, meta jsonb, emb vector(${records[0].embedding.length}))`, []);
    for (const x of records) await db.query(`insert into ${table} values ($1, $2, $3::jsonb, $4::vector)`, [x.id, x.text, JSON.stringify(x.metadata), `[${x.embedding.join(',')}]`]);
  }
}
const r = table
  ? await migrateTable(db, rag, ctx, mask, null, { table, idCol: 'id', textCol: 'body', metadataCol: 'meta', embeddingCol: 'emb' }, opts)
  : await migrateJsonl(db, rag, ctx, mask, null, { ...opts, file: env.MIG_FILE! });
process.stdout.write(`finished started=${r.startedAt} done=${r.done} total=${r.total} batches=${r.batches}\n`);
await db.close();
