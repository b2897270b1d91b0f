/**
 * `veil collections migrate --tenant <id> --collection <name> --file <export.jsonl> [--batch 100]
 *  [--re-embed --model <embedding-model>] [--encrypt-field <name>]...`: migrates a JSONL export
 * into an encrypted collection (src/rag/migrate.node.ts) with a progress bar (rate, ETA), using
 * the same database, master key, detection (patterns + NER per VEIL_NER) and tenant policy as
 * the gateway. Resumable: run the same command again after a stop or a kill. Exit codes: 0 done,
 * 1 failure (message names the line, never its content), 2 usage.
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
import { createPgVectorStore } from '../../../rag/store.js';

export const COLLECTIONS_HELP = `veil collections migrate --tenant <id> --collection <name> --file <export.jsonl>
       [--batch <n>] [--re-embed --model <embedding-model>] [--encrypt-field <field>]...
  One JSON record per line: {"id", "text", "metadata": {…}, "embedding": [...]}. Texts are
  sanitized, PII metadata sealed; embeddings are kept unless --re-embed (recommended: vectors of
  raw text can be inverted back to it). Progress is saved after every batch: run the same
  command again to resume after a stop or a kill.`;

export interface CollectionsIo {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
  db?: Db;
  /** Show the progress bar (default: when stderr is a TTY). */
  progress?: boolean;
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
  if (!v.tenant || !v.collection || !v.file || !Number.isInteger(batch) || batch < 1 || batch > 256 || !/^[A-Za-z0-9_.-]{1,64}$/.test(v.collection) || (v['re-embed'] && !v.model)) {
    io.err(`error: missing or invalid option\n\n${COLLECTIONS_HELP}`);
    return 2;
  }

  const config = loadConfig(io.env);
  let db: Db | undefined;
  let detector: Detector | undefined;
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
    const r = await migrateJsonl(db, rag, ctx, { detector, vault, policy, detectTimeoutMs: config.VEIL_DETECT_TIMEOUT_MS }, client ? (t) => embed(client, v.model!, t) : null, {
      file: v.file,
      collection: v.collection,
      batchSize: batch,
      reEmbed: v['re-embed'],
      encryptFields: v['encrypt-field'] ?? [],
      onProgress: (done, total) => {
        if (!bar) return;
        if (from < 0) {
          from = done;
          bar.start(total, done, { rate: 0 });
          return;
        }
        const secs = (performance.now() - t0) / 1000;
        bar.update(done, { rate: secs > 0 ? Math.round((done - from) / secs) : 0 });
      },
    });
    bar?.stop();
    const secs = (performance.now() - t0) / 1000;
    io.out(`migrated ${r.done - r.startedAt} chunks into "${v.collection}" (${r.done}/${r.total} done${r.startedAt > 0 ? `, resumed at ${r.startedAt}` : ''}; ${secs > 0 ? Math.round((r.done - r.startedAt) / secs) : 0} chunks/s)`);
    return 0;
  } catch (e) {
    io.err(`error: ${(e as Error).message}`);
    return 1;
  } finally {
    await detector?.close?.().catch(() => {});
    if (!io.db) await db?.close().catch(() => {});
  }
}
