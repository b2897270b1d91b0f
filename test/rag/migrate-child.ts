/**
 * Child process for test/rag/migrate.test.ts: runs one JSONL migration on an on-disk PGlite
 * (+ pgvector) data directory with the real DB vault, printing `progress <done> <total>` after
 * every committed batch, so the parent can SIGKILL it mid-run and start it again.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { fromPglite } from '../../src/db/open.node.js';
import { createPatternDetector } from '../../src/detect/patterns/index.js';
import { fromHex } from '../../src/keys/crypto.js';
import { createLocalProvider } from '../../src/keys/local.js';
import { DEFAULT_POLICY } from '../../src/policy/index.js';
import { createCollections } from '../../src/rag/collections.js';
import { migrateJsonl } from '../../src/rag/migrate.node.js';
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
const r = await migrateJsonl(db, rag, ctx, { detector: createPatternDetector(), vault, policy: DEFAULT_POLICY }, null, {
  file: env.MIG_FILE!,
  collection: 'imported',
  batchSize: 2,
  reEmbed: false,
  onProgress: (done, total) => process.stdout.write(`progress ${done} ${total}\n`),
});
process.stdout.write(`finished started=${r.startedAt} done=${r.done} total=${r.total} batches=${r.batches}\n`);
await db.close();
