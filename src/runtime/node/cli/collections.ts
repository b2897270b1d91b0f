/**
 * `veil collections migrate --tenant <id> --collection <name> (--file <export.jsonl> |
 *  --from-table <table> --id-col c --text-col c --embedding-col c [--metadata-col c])
 *  [--batch 100] [--re-embed --model <embedding-model>] [--encrypt-field <name>]...`: migrates a
 * JSONL export (src/rag/migrate.node.ts) or a pgvector table in Veil's database (src/rag/migrate.ts)
 * into an encrypted collection with a progress bar (rate, ETA), using the same database, master
 * key, detection (patterns + NER per VEIL_NER) and tenant policy as the gateway. Ctrl-C (SIGINT)
 * pauses after the batch in progress; run the same command again to resume (also after a kill).
 * Exit codes: 0 done or paused, 1 failure (message names the record, never its content), 2 usage.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { createUpstreamFromConfig } from '../../../http/upstream.js';
import { loadConfig } from '../../../core/config.js';
import { silentLogger } from '../../../core/types.js';
import type { Db } from '../../../db/client.js';
import { openDatabaseForCli } from '../../../db/open.node.js';
import type { Detector } from '../../../detect/types.js';
import { createPolicyStore } from '../../../policy/store.js';
import { nodeVaultCrypto } from '../../../keys/crypto.node.js';
import { createDbVault } from '../../../vault/db-vault.js';
import { verifyMasterKey } from '../../../keys/key-check.js';
import { createNodeFetch } from '../http-fetch.js';
import { createMasterKeyProvider } from '../../../keys/master-key.node.js';
import { buildDetector } from '../services.js';
import { createCollections, embed } from '../../../rag/collections.js';
import { migrateJsonl } from '../../../rag/migrate.node.js';
import { MigrationError, migrateTable, type MigrateResult } from '../../../rag/migrate.js';
import { isVeilError } from '../../../core/errors.js';
import { describeCliError } from './common.js';
import { createPgVectorStore } from '../../../rag/store.js';

export const COLLECTIONS_HELP = `veil collections migrate --tenant <id> --collection <name> --file <export.jsonl>
veil collections migrate --tenant <id> --collection <name> --from-table <[schema.]table>
       --id-col <col> --text-col <col> --embedding-col <col> [--metadata-col <jsonb col>]
  common: [--batch <n>] [--re-embed --model <embedding-model>] [--encrypt-field <field>]...
  JSONL: one record per line, {"id", "text", "metadata": {…}, "embedding": [...]}. A table is
  read from Veil's own database, in id order, and left as it is; until the migration finishes,
  collection queries also return its not-yet-migrated rows, sanitized. Texts are sanitized, PII
  metadata sealed; embeddings are kept unless --re-embed (recommended: vectors of raw text can
  be inverted back to it). Progress is saved after every batch: Ctrl-C pauses, and running the
  same command again resumes (also after a kill).`;

export interface CollectionsIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
  db?: Db;
  /** Show the progress bar (default: when stderr is a TTY). */
  progress?: boolean;
  /** Pauses the migration after the batch in progress (default: SIGINT). */
  signal?: AbortSignal;
}

export async function runCollectionsCli(argv: string[], io: CollectionsIo): Promise<number> {
  let o;
  try {
    o = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        tenant: { type: 'string' },
        collection: { type: 'string' },
        file: { type: 'string' },
        'from-table': { type: 'string' },
        'id-col': { type: 'string' },
        'text-col': { type: 'string' },
        'metadata-col': { type: 'string' },
        'embedding-col': { type: 'string' },
        batch: { type: 'string', default: '100' },
        'encrypt-field': { type: 'string', multiple: true },
        're-embed': { type: 'boolean', default: false },
        model: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    io.err(`error: ${(e as Error).message}\n\n${COLLECTIONS_HELP}`);
    return 2;
  }
  const v = o.values;
  if (v.help || o.positionals[0] !== 'migrate') {
    (v.help ? io.out : io.err)(COLLECTIONS_HELP);
    return v.help ? 0 : 2;
  }
  const batch = Number(v.batch);
  const table = v['from-table'];
  const fromTable = table !== undefined && v['id-col'] && v['text-col'] && v['embedding-col'];
  if (!v.tenant || !v.collection || !(v.file === undefined ? fromTable : table === undefined) || !Number.isInteger(batch) || batch < 1 || batch > 256 || !/^[A-Za-z0-9_.-]{1,64}$/.test(v.collection) || (v['re-embed'] && !v.model)) {
    io.err(`error: missing or invalid option\n\n${COLLECTIONS_HELP}`);
    return 2;
  }

  const config = loadConfig(io.env);
  let db: Db | undefined;
  let detector: Detector | undefined;
  let onSigint: (() => void) | undefined;
  try {
    db = io.db ?? (await openDatabaseForCli(config, { logger: silentLogger })).db;
    const provider = await createMasterKeyProvider(config, silentLogger, io.env);
    await provider.check();
    await verifyMasterKey(db, provider, silentLogger);
    const vault = createDbVault({ db, provider, crypto: nodeVaultCrypto, timeoutMs: Math.max(config.VEIL_DB_TIMEOUT_MS, 30_000) });
    detector = buildDetector(config, silentLogger);
    await detector.ready?.();
    const policy = await createPolicyStore(db).policyFor(v.tenant);
    const rag = createCollections({ store: createPgVectorStore(db), keyring: vault.keyring, crypto: nodeVaultCrypto });
    const ctx = { principal: { tenantId: v.tenant, principalId: 'cli:collections-migrate', role: 'admin' }, requestId: 'cli-migrate' };
    const client = v['re-embed'] ? createUpstreamFromConfig(config, createNodeFetch()).client(null) : null;
    const bar = (io.progress ?? process.stderr.isTTY) ? new cliProgress.SingleBar({ format: 'migrating [{bar}] {value}/{total} chunks | {rate}/s | ETA {eta_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
    const t0 = performance.now();
    let from = -1;
    const onProgress = (done: number, total: number) => {
      if (!bar) return;
      if (from < 0) {
        from = done;
        bar.start(total, done, { rate: 0 });
        return;
      }
      const secs = (performance.now() - t0) / 1000;
      bar.setTotal(total);
      bar.update(done, { rate: secs > 0 ? Math.round((done - from) / secs) : 0 });
    };
    let signal = io.signal;
    if (!signal) {
      const ac = new AbortController();
      onSigint = () => ac.abort();
      process.once('SIGINT', onSigint);
      signal = ac.signal;
    }
    const upstream = client ? (t: string[]) => embed(client, v.model!, t) : null;
    const opts = { collection: v.collection, batchSize: batch, reEmbed: v['re-embed'], encryptFields: v['encrypt-field'] ?? [], signal, onProgress };
    const mask = { detector, vault, policy, detectTimeoutMs: config.VEIL_DETECT_TIMEOUT_MS };
    const r: MigrateResult = fromTable
      ? await migrateTable(db, rag, ctx, mask, upstream, { table: table!, idCol: v['id-col']!, textCol: v['text-col']!, embeddingCol: v['embedding-col']!, metadataCol: v['metadata-col'] ?? null }, opts)
      : await migrateJsonl(db, rag, ctx, mask, upstream, { ...opts, file: v.file! });
    bar?.stop();
    const secs = (performance.now() - t0) / 1000;
    io.out(`${r.paused ? 'paused: ' : ''}migrated ${r.done - r.startedAt} chunks into "${v.collection}" (${r.done}/${r.total} done${r.startedAt > 0 ? `, resumed at ${r.startedAt}` : ''}; ${secs > 0 ? Math.round((r.done - r.startedAt) / secs) : 0} chunks/s)${r.paused ? '; run the same command again to resume' : ''}`);
    return 0;
  } catch (e) {
    io.err(`error: ${e instanceof MigrationError || isVeilError(e) ? e.message : describeCliError(e)}`);
    return 1;
  } finally {
    if (onSigint) process.off('SIGINT', onSigint);
    await detector?.close?.().catch(() => {});
    if (!io.db) await db?.close().catch(() => {});
  }
}
