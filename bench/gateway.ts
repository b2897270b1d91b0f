/**
 * Gateway overhead: the same load against the instant loopback upstream directly and through
 * Veil (pattern detection only, NER off), measured in one run. Plain chat with autocannon;
 * streamed chat with a custom loop that records time to first token.
 */
import autocannon from 'autocannon';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, percentile, startProcess, table } from './lib.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** ~1 KB of support-ticket text with 5 PII values (email, phone, card, SSN, IBAN). */
export const BENCH_PROMPT = (
  'Hello support team, I am writing about the refund that was promised last week for order 88412. ' +
  'You can reach me at jane.roe@example.com or on +1 415 555 2671 during business hours. ' +
  'The original payment went through card 4111 1111 1111 1111 and my SSN 123-45-6789 was asked for at checkout, ' +
  'which I found odd. Please send the refund to IBAN GB82 WEST 1234 5698 7654 32 instead. ' +
  'I have attached the receipt and the delivery note; the parcel arrived damaged, the box was crushed on one side, ' +
  'and two of the three items inside were broken. I would appreciate a quick answer because this is the third time ' +
  'I am contacting you about the same problem and nobody has replied so far. Thank you for your help, and have a good day. ' +
  'P.S. The courier also left the parcel outside in the rain, which did not help.'
);

/**
 * What the upstream receives from Veil for BENCH_PROMPT (same length, same five placeholders),
 * so the direct baseline asks the upstream for exactly the same work: the instant upstream
 * echoes the placeholders it sees, and a longer reply would mean more chunks.
 */
export const DIRECT_PROMPT = BENCH_PROMPT.replace('jane.roe@example.com', '[EMAIL_AAAAAAAA]')
  .replace('+1 415 555 2671', '[PHONE_AAAAAAAA]')
  .replace('4111 1111 1111 1111', '[CARD_AAAAAAAA]')
  .replace('123-45-6789', '[SSN_AAAAAAAA]')
  .replace('GB82 WEST 1234 5698 7654 32', '[IBAN_AAAAAAAA]');

const promptFor = (url: string, veilUrl: string) => (url === veilUrl ? BENCH_PROMPT : DIRECT_PROMPT);
let VEIL_URL = '';

interface PlainResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function cannon(url: string, connections: number, duration: number): Promise<PlainResult> {
  const body = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: promptFor(url, VEIL_URL) }] });
  const r = await autocannon({
    url: `${url}/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
    body,
    connections,
    duration,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

/**
 * Open-loop load at an even pace (one request every 1000/rate ms, not autocannon's bursts),
 * over a keep-alive agent with up to `connections` sockets; latency from send to full body.
 */
async function paced(url: string, rate: number, seconds: number, connections: number): Promise<PlainResult> {
  const body = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: promptFor(url, VEIL_URL) }] });
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const u = new URL(`${url}/chat/completions`);
  const lat: number[] = [];
  let errors = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) lat.push(performance.now() - t0);
            else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const total = Math.floor(rate * seconds);
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(one());
  }
  await Promise.all(pending);
  agent.destroy();
  lat.sort((a, b) => a - b);
  return { rps: lat.length / ((performance.now() - start) / 1000), p50: percentile(lat, 50), p99: percentile(lat, 99), errors };
}

interface StreamResult {
  streams: number;
  ttft50: number;
  ttft99: number;
  total50: number;
  total99: number;
  errors: number;
}

async function streams(url: string, concurrency: number, seconds: number, delayMs: number): Promise<StreamResult> {
  const body = JSON.stringify({ model: 'bench', stream: true, x_bench_delay_ms: delayMs, messages: [{ role: 'user', content: promptFor(url, VEIL_URL) }] });
  const ttft: number[] = [];
  const total: number[] = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const dec = new TextDecoder();
  // Streams start staggered over one stream's length (~60 chunks), so the 100 streams are in
  // steady state rather than 100 requests arriving in the same millisecond every wave.
  const worker = async (w: number) => {
    await new Promise((r) => setTimeout(r, ((w * 37) % concurrency) * ((delayMs * 60) / concurrency)));
    while (performance.now() < until) {
      const t0 = performance.now();
      try {
        const res = await fetch(`${url}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
          body,
        });
        if (!res.ok || !res.body) {
          errors++;
          await res.body?.cancel();
          continue;
        }
        let first = -1;
        let seen = '';
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (first < 0) {
            seen += dec.decode(chunk, { stream: true });
            if (/"content":"[^"]/.test(seen)) first = performance.now() - t0;
          }
        }
        ttft.push(first < 0 ? performance.now() - t0 : first);
        total.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  ttft.sort((a, b) => a - b);
  total.sort((a, b) => a - b);
  return {
    streams: total.length / seconds,
    ttft50: percentile(ttft, 50),
    ttft99: percentile(ttft, 99),
    total50: percentile(total, 50),
    total99: percentile(total, 99),
    errors,
  };
}

export async function benchGateway(opts: { duration?: number; connections?: number; vault?: string; chunkDelayMs?: number } = {}): Promise<string> {
  const duration = opts.duration ?? 10;
  const connections = opts.connections ?? 100;
  const dataDir = mkdtempSync(join(tmpdir(), 'veil-bench-'));
  const upstream = await startProcess(join(ROOT, 'bench/upstream-server.ts'), { PORT: '0' }, { line: /READY (\d+)/ });
  const upUrl = `http://127.0.0.1:${upstream.match![1]}/v1`;
  const port = await freePort();
  const veil = await startProcess(
    join(ROOT, 'src/runtime/node/main.ts'),
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      VEIL_UPSTREAM_URL: upUrl,
      VEIL_UPSTREAM_API_KEY: 'sk-bench',
      VEIL_NER: 'off',
      VEIL_LOG_LEVEL: 'error',
      VEIL_DATA_DIR: dataDir,
      ...(opts.vault ? { VEIL_VAULT: opts.vault } : {}),
    },
    { url: `http://127.0.0.1:${port}/healthz` },
  );
  const veilUrl = `http://127.0.0.1:${port}/v1`;
  VEIL_URL = veilUrl;
  try {
    // warm-up: JIT, connection pools, vault rows for the 5 values
    await cannon(upUrl, 10, 2);
    await cannon(veilUrl, 10, 2);
    const direct = await cannon(upUrl, connections, duration);
    const through = await cannon(veilUrl, connections, duration);
    const added = (a: number, b: number) => `${b - a >= 0 ? '+' : ''}${(b - a).toFixed(2)} ms`;
    const rate = Math.max(50, Math.floor(through.rps * 0.5));
    const directRate = await paced(upUrl, rate, duration, connections);
    const throughRate = await paced(veilUrl, rate, duration, connections);
    const delays = opts.chunkDelayMs !== undefined ? [opts.chunkDelayMs] : [40, 10];
    const streamTables: string[] = [];
    for (const delay of delays) {
      const sDirect = await streams(upUrl, connections, duration, delay);
      const sThrough = await streams(veilUrl, connections, duration, delay);
      const streamRows = [
        ['direct', sDirect.streams, sDirect.ttft50, sDirect.ttft99, sDirect.total50, sDirect.total99, sDirect.errors],
        ['through Veil', sThrough.streams, sThrough.ttft50, sThrough.ttft99, sThrough.total50, sThrough.total99, sThrough.errors],
        ['Veil − direct', `${(sThrough.streams / sDirect.streams).toFixed(2)}×`, added(sDirect.ttft50, sThrough.ttft50), added(sDirect.ttft99, sThrough.ttft99), added(sDirect.total50, sThrough.total50), added(sDirect.total99, sThrough.total99), ''],
      ];
      streamTables.push(
        table(`Chat, streamed — ${connections} concurrent streams, one ~3-character chunk every ${delay} ms (${Math.round((connections * 1000) / delay)} chunks/s in all), ${duration} s`, ['', 'streams/s', 'TTFT p50 ms', 'TTFT p99 ms', 'total p50 ms', 'total p99 ms', 'errors'], streamRows),
      );
    }

    const ratio = (a: number, b: number) => `${(b / a).toFixed(2)}×`;
    const plainRows = [
      ['direct', direct.rps, direct.p50, direct.p99, direct.errors],
      ['through Veil', through.rps, through.p50, through.p99, through.errors],
      ['Veil / direct', ratio(direct.rps, through.rps), added(direct.p50, through.p50), added(direct.p99, through.p99), ''],
    ];
    const rateRows = [
      ['direct', directRate.rps, directRate.p50, directRate.p99, directRate.errors],
      ['through Veil', throughRate.rps, throughRate.p50, throughRate.p99, throughRate.errors],
      ['Veil − direct', '', added(directRate.p50, throughRate.p50), added(directRate.p99, throughRate.p99), ''],
    ];
    return (
      table(`Chat, plain, saturated — ${connections} connections, ${duration} s, 1 KB prompt with 5 PII values (autocannon)`, ['', 'req/s', 'p50 ms', 'p99 ms', 'errors'], plainRows) +
      '\n' +
      table(`Chat, plain, paced at ${rate} req/s (half of Veil's saturated rate, evenly spaced, open loop)`, ['', 'req/s', 'p50 ms', 'p99 ms', 'errors'], rateRows) +
      '\n' +
      streamTables.join('\n')
    );
  } finally {
    await veil.stop();
    await upstream.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchGateway({ duration: Number(process.env.BENCH_DURATION ?? 10) }).then((t) => console.log(t));
}
