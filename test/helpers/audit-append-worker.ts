/**
 * Child process for the cross-process audit test: appends EVENTS events (one per simulated
 * request, many requests in flight at once) to TENANT's chain on the PostgreSQL database URL,
 * starting at a shared instant. Env: URL, MASTER (base64 of 32 bytes), TENANT, EVENTS, START.
 */
import { createAuditStore } from '../../src/audit/store.js';
import { fromBase64 } from '../../src/keys/crypto.js';
import { createLocalProvider } from '../../src/keys/local.js';
import { createPool, fromPool } from '../../src/db/open.node.js';

const env = process.env;
const db = fromPool(createPool({ VEIL_DATA_DIR: '/nonexistent', DATABASE_URL: env.URL!, VEIL_DB_POOL_SIZE: 4, VEIL_DB_TIMEOUT_MS: 20_000 }));
await db.migrate();
const store = createAuditStore({ db, provider: createLocalProvider(fromBase64(env.MASTER!)), checkpointEvery: 7, timeoutMs: 20_000 });
const n = Number(env.EVENTS);
const wait = Number(env.START) - Date.now();
if (wait > 0) await new Promise((r) => setTimeout(r, wait));
await Promise.all(
  Array.from({ length: n }, (_, i) =>
    store.append(env.TENANT!, [{ kind: 'restore', tenantId: env.TENANT!, requestId: `${process.pid}-${i}`, tokens: [{ token: 'PERSON_7QX2M4AB', type: 'PERSON', outcome: 'revealed' }] }]),
  ),
);
await db.close();
process.stdout.write(JSON.stringify({ ok: n }) + '\n');
