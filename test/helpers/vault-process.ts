/**
 * Child process for the cross-process concurrency test: tokenizes the given values on the given
 * PostgreSQL database, starting at a shared instant, and prints `{"tokens": {value: token}}`.
 * Env: URL, MASTER (base64 of 32 bytes), TENANT, VALUES (JSON string[]), START (epoch ms).
 */
import { createLocalProvider } from '../../src/keys/local.js';
import { fromBase64 } from '../../src/keys/crypto.js';
import { createPool, fromPool } from '../../src/db/open.node.js';
import { createDbVault } from '../../src/vault/db-vault.js';

const env = process.env;
const db = fromPool(createPool({ VEIL_DATA_DIR: '/nonexistent', DATABASE_URL: env.URL!, VEIL_DB_POOL_SIZE: 4, VEIL_DB_TIMEOUT_MS: 10_000 }));
await db.migrate(); // concurrent start-ups: serialized by the advisory lock
const vault = createDbVault({ db, provider: createLocalProvider(fromBase64(env.MASTER!)), timeoutMs: 10_000, dekReserveBatch: 7 });
const values: string[] = JSON.parse(env.VALUES!);
const ctx = { principal: { tenantId: env.TENANT!, principalId: 'worker', role: 'admin' }, requestId: `worker-${process.pid}` };
const wait = Number(env.START) - Date.now();
if (wait > 0) await new Promise((r) => setTimeout(r, wait));
const tokens: Record<string, string> = {};
// Several concurrent requests of 10 values each, as a gateway would see them.
const batches: string[][] = [];
for (let i = 0; i < values.length; i += 10) batches.push(values.slice(i, i + 10));
await Promise.all(
  batches.map(async (b) => {
    const t = await vault.tokenize(ctx, b.map((value) => ({ type: 'EMAIL' as const, value })));
    b.forEach((v, i) => (tokens[v] = t[i]!));
  }),
);
await vault.close();
await db.close();
process.stdout.write(JSON.stringify({ tokens }) + '\n');
