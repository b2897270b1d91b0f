/**
 * Big prompts (issue 7): time per request for 1, 16, 64 and 256 KB prompts with an e-mail
 * every ~25 characters, through the real Node entry (NER off and on), and /healthz latency
 * measured while the 256 KB request is in flight. The upstream is the instant loopback one
 * (bench/upstream-server.ts), which echoes every placeholder it got, so restoration is real work.
 *
 *   npm run bench -- bigprompt            (or BENCH_ONLY=bigprompt, or npx tsx bench/bigprompt.ts)
 *   BENCH_BIG_RUNS=3                      requests per size (median reported)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { emailPrompt, freePort, percentile, startProcess, table } from './lib.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SIZES_KB = [1, 16, 64, 256];

interface Config {
  readonly name: string;
  readonly env: Record<string, string>;
}

const CONFIGS: Config[] = [
  { name: 'NER off, memory vault', env: { VEIL_NER: 'off', VEIL_VAULT: 'memory' } },
  { name: 'NER off, PGlite vault', env: { VEIL_NER: 'off' } },
  // the default 30 s detection deadline is raised so the slowest size is measured, not refused
  { name: 'NER on, memory vault', env: { VEIL_NER: 'on', VEIL_VAULT: 'memory', VEIL_DETECT_TIMEOUT_MS: '600000' } },
  { name: 'NER on, PGlite vault', env: { VEIL_NER: 'on', VEIL_DETECT_TIMEOUT_MS: '600000' } },
];

const PRELOAD = fileURLToPath(new URL('./loop-delay.preload.mjs', import.meta.url));

/** The gateway's largest event-loop delay (ms) since the last call (bench/loop-delay.preload.mjs). */
function loopDelayReader(child: ChildProcess): () => Promise<{ max: number; p99: number }> {
  let buf = '';
  const waiting: ((v: { max: number; p99: number }) => void)[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let m = /LOOPDELAY ([\d.]+) ([\d.]+)\n/.exec(buf); m; m = /LOOPDELAY ([\d.]+) ([\d.]+)\n/.exec(buf)) {
      buf = buf.slice(m.index + m[0].length);
      waiting.shift()?.({ max: Number(m[1]), p99: Number(m[2]) });
    }
    if (buf.length > 10_000) buf = buf.slice(-1000);
  });
  return () =>
    new Promise((resolve) => {
      waiting.push(resolve);
      child.kill('SIGUSR2');
    });
}

async function post(url: string, content: string): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
    body: JSON.stringify({ model: 'bench', messages: [{ role: 'user', content }] }),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`status ${r.status}: ${text.slice(0, 200)}`);
  return performance.now() - t0;
}

export async function benchBigPrompt(opts: { runs?: number; log?: (s: string) => void } = {}): Promise<string> {
  const runs = opts.runs ?? 3;
  const log = opts.log ?? (() => {});
  const upstream = await startProcess(join(ROOT, 'bench/upstream-server.ts'), { PORT: '0' }, { line: /READY (\d+)/ });
  const upUrl = `http://127.0.0.1:${upstream.match![1]}/v1`;
  const timeRows: (string | number)[][] = [];
  const healthRows: (string | number)[][] = [];
  try {
    for (const cfg of CONFIGS) {
      const dataDir = mkdtempSync(join(tmpdir(), 'veil-bench-big-'));
      const port = await freePort();
      const veil = await startProcess(
        join(ROOT, 'src/runtime/node/main.ts'),
        {
          PORT: String(port),
          HOST: '127.0.0.1',
          VEIL_UPSTREAM_URL: upUrl,
          VEIL_UPSTREAM_API_KEY: 'sk-bench',
          VEIL_LOG_LEVEL: 'error',
          VEIL_DATA_DIR: dataDir,
          VEIL_MAX_BODY_BYTES: String(2 * 1024 * 1024),
          NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${PRELOAD}`.trim(),
          ...cfg.env,
        },
        { url: `http://127.0.0.1:${port}/healthz` },
      );
      const url = `http://127.0.0.1:${port}/v1`;
      const healthz = `http://127.0.0.1:${port}/healthz`;
      const loopDelay = loopDelayReader(veil.child);
      try {
        await post(url, emailPrompt(4 * 1024, 99_000_000)); // warm-up
        const row: (string | number)[] = [cfg.name];
        for (const kb of SIZES_KB) {
          const times: number[] = [];
          // fresh values each run (a different offset), so the vault does real inserts
          for (let r = 0; r < runs; r++) times.push(await post(url, emailPrompt(kb * 1024, (kb * 10 + r) * 100_000)));
          times.sort((a, b) => a - b);
          row.push(Math.round(percentile(times, 50)));
          log(`${cfg.name}: ${kb} KB ${times.map((t) => Math.round(t)).join(', ')} ms`);
        }
        timeRows.push(row);
        // /healthz every 10 ms while one 256 KB request is in flight
        let inFlight = true;
        const probes: number[] = [];
        let failed = 0;
        await loopDelay(); // reset
        const prober = (async () => {
          while (inFlight) {
            const t0 = performance.now();
            try {
              await (await fetch(healthz)).text();
              probes.push(performance.now() - t0);
            } catch {
              // e.g. a kept-alive socket closed by the server's keep-alive timer after a long stall
              failed++;
            }
            await new Promise((r) => setTimeout(r, 10));
          }
        })();
        const big = await post(url, emailPrompt(256 * 1024, 90_000_000));
        inFlight = false;
        await prober;
        const stall = await loopDelay();
        probes.sort((a, b) => a - b);
        healthRows.push([cfg.name, Math.round(big), probes.length, failed, percentile(probes, 50), percentile(probes, 99), probes.at(-1) ?? NaN, stall.max]);
      } finally {
        await veil.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  } finally {
    await upstream.stop();
  }
  return (
    table(
      `Time per request (median of ${runs}), prompt with an e-mail every ~25 characters (1 KB ≈ 40 e-mails, 256 KB ≈ 10k)`,
      ['', ...SIZES_KB.map((k) => `${k} KB ms`)],
      timeRows,
    ) +
    '\n' +
    table('/healthz every 10 ms while one 256 KB request is in flight', ['', '256 KB request ms', 'probes', 'failed', 'p50 ms', 'p99 ms', 'max ms', 'longest loop stall ms'], healthRows)
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchBigPrompt({ runs: Number(process.env.BENCH_BIG_RUNS ?? 3), log: (s) => process.stderr.write(s + '\n') }).then((t) => {
    console.log(t);
    process.exit(0);
  });
}
