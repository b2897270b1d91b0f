/**
 * `npm run bench`: every benchmark in one run, printed as markdown tables (paste into
 * bench/RESULTS.md with the machine and date). Each table compares against a baseline measured
 * in the same run where one exists (the upstream called directly).
 *
 *   BENCH_ONLY=gateway,vault,compliance,ner,bigprompt   run a subset (or `npm run bench -- bigprompt`; `rag` runs only alone)
 *   BENCH_RAG_CHUNKS=1000 BENCH_RAG_QUERIES=200   size of the RAG bench
 *   BENCH_BIG_RUNS=3               requests per size in the big-prompt bench
 *   BENCH_COMPLIANCE_ROWS=100000   mappings for the backup/restore bench
 *   BENCH_DURATION=10              seconds per gateway load phase
 *   BENCH_VAULT_ROWS=100000        stored mappings for the vault bench
 *   TEST_DATABASE_URL / BENCH_DATABASE_URL   also bench the vault on PostgreSQL
 */
import os from 'node:os';
import { benchBigPrompt } from './bigprompt.js';
import { benchGateway } from './gateway.js';
import { benchNer, formatNerBench } from './ner.js';
import { benchVault } from './vault.js';
import { benchCompliance } from './compliance.js';
import { table } from './lib.js';
import { benchRotation } from './rotation.js';
import { benchRag } from './rag.js';

const only = new Set((process.argv[2] ?? process.env.BENCH_ONLY ?? 'gateway,vault,compliance,ner,bigprompt').split(','));
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`# Veil benchmarks — ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`);

if (only.has('gateway')) {
  console.log('## Gateway overhead (pattern detection, PGlite vault)\n');
  console.log(await benchGateway({ duration: Number(process.env.BENCH_DURATION ?? 10), connections: 100 }));
}
if (only.has('vault')) {
  console.log('## Vault\n');
  const rows = await benchVault({ log: (s) => process.stderr.write(s + '\n') });
  console.log(
    table(
      'Vault operations (AES-256-GCM rows, HMAC blind index)',
      ['driver', 'operation', 'n', 'unit', 'per s', 'p50 ms', 'p99 ms'],
      rows.map((r) => [r.driver, r.bench, r.n, r.unit, r.perSec, r.p50Ms, r.p99Ms]),
    ),
  );
}
if (only.has('rotation')) {
  // Not in the default set: run alone with `npm run bench -- rotation`.
  console.log('## Key rotation\n');
  const r = await benchRotation((s) => process.stderr.write(s + '\n'));
  console.log(table('DEK rotation', ['driver', 'rows', 'runners', 'batch', 'seed s', 'rotate s', 'rows/s', 'sampled rows restored'], [[r.driver, r.rows, r.runners, r.batch, r.seedS.toFixed(1), r.rotateS.toFixed(1), r.rowsPerS, r.verified]]));
  const w = (x: typeof r.before) => (x ? [x.requests, x.failed, x.p50, x.p99] : ['–', '–', '–', '–']);
  console.log(table('Live chat requests (gateway process, 5 PII values each)', ['window', 'requests', 'failed', 'p50 ms', 'p99 ms'], [['before', ...w(r.before)], ['during rotation', ...w(r.during)]]));
  console.log(table('Master-key rotation', ['driver', 'tenants', 're-wrap s', 'keys/s'], [[r.driver, r.masterTenants, r.masterS.toFixed(1), r.masterS > 0 ? Math.round(r.masterTenants / r.masterS) : '–']]));
}
if (only.has('rag')) {
  console.log('## RAG path\n');
  console.log(await benchRag({ chunks: Number(process.env.BENCH_RAG_CHUNKS ?? 1000), queries: Number(process.env.BENCH_RAG_QUERIES ?? 200), log: (s) => process.stderr.write(s + '\n') }));
}
if (only.has('bigprompt')) {
  console.log('## Big prompts\n');
  console.log(await benchBigPrompt({ runs: Number(process.env.BENCH_BIG_RUNS ?? 3), log: (s) => process.stderr.write(s + '\n') }));
}
if (only.has('compliance')) {
  console.log('## Compliance (audit, reveal, backup)\n');
  const rows = await benchCompliance({ log: (s) => process.stderr.write(s + '\n') });
  console.log(table('Audit, reveal and backups', ['driver', 'benchmark', 'n', 'result'], rows.map((r) => [r.driver, r.bench, r.n, r.result])));
}
if (only.has('ner')) {
  console.log('## NER model\n');
  console.log(formatNerBench(await benchNer()));
}
process.exit(0);
