/**
 * Added latency of a 1 KB prompt with NER on, for one or more checkouts in the same run.
 *
 * Usage: npx tsx bench/gateway-ner.ts [label=root:entry[@K=V,...] ...]
 *   default: this checkout (src/runtime/node/main.ts). To compare with an older commit:
 *   git worktree add --detach /tmp/old 19833a7 && cp -a node_modules /tmp/old/
 *   npx tsx bench/gateway-ner.ts old=/tmp/old:src/node/main.ts new=.:src/runtime/node/main.ts
 *
 * Each gateway runs with its own defaults (NER on, embedded PGlite vault) against the same
 * instant loopback upstream. Requests are sequential (one in flight, as a user feels it): the
 * added p50 is p50(through Veil) − p50(direct) over the same number of requests. Rounds
 * alternate between the checkouts so drift in machine load hits each of them alike.
 * On Linux it also reports the gateway's CPU time per request through it (main thread, and its
 * other threads: NER workers, GC, compilers) from /proc: less sensitive to other load than
 * wall-clock latency on a shared machine.
 */
import http from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_PROMPT, DIRECT_PROMPT } from './gateway.js';
import { freePort, percentile, startProcess, table } from './lib.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const PER_ROUND = Number(process.env.BENCH_REQUESTS ?? 100);

interface Target {
  label: string;
  root: string;
  entry: string;
  env: Record<string, string>;
}

function parseTargets(argv: string[]): Target[] {
  if (argv.length === 0) return [{ label: 'this checkout', root: ROOT, entry: 'src/runtime/node/main.ts', env: {} }];
  return argv.map((a) => {
    // label=root:entry[@K=V,K=V] (extra environment for that gateway only)
    const m = /^([^=]+)=([^:]+):([^@]+)(?:@(.*))?$/.exec(a);
    if (!m) throw new Error(`expected label=root:entry[@K=V,...], got ${a}`);
    const env = Object.fromEntries((m[4] ?? '').split(',').filter(Boolean).map((kv) => kv.split('=', 2) as [string, string]));
    return { label: m[1]!, root: resolve(m[2]!), entry: m[3]!, env };
  });
}

/** CPU ms used so far by a process: its main thread (tid = pid) and all its other threads. */
function cpuMs(pid: number | undefined): { main: number; other: number } | null {
  if (pid === undefined) return null;
  try {
    const out = { main: 0, other: 0 };
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
      if (Number(tid) === pid) out.main += ms;
      else out.other += ms;
    }
    return out;
  } catch {
    return null; // not Linux, or the thread list changed under us
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function post(url: string, body: string): Promise<number> {
  const u = new URL(`${url}/chat/completions`);
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? done(performance.now() - t0) : fail(new Error(`status ${res.statusCode}`))));
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

async function sequential(url: string, prompt: string, n: number): Promise<number[]> {
  const body = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: prompt }] });
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await post(url, body));
  return out;
}

async function main() {
  const targets = parseTargets(process.argv.slice(2));
  const upstream = await startProcess(join(ROOT, 'bench/upstream-server.ts'), { PORT: '0' }, { line: /READY (\d+)/ });
  const upUrl = `http://127.0.0.1:${upstream.match![1]}/v1`;
  const gateways: { t: Target; url: string; dir: string; pid: number | undefined; stop(): Promise<void>; direct: number[]; through: number[]; cpu: { main: number; other: number } | null }[] = [];
  try {
    for (const t of targets) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'veil-bench-ner-'));
      const p = await startProcess(
        join(t.root, t.entry),
        { PORT: String(port), HOST: '127.0.0.1', VEIL_UPSTREAM_URL: upUrl, VEIL_UPSTREAM_API_KEY: 'sk-bench', VEIL_NER: 'on', VEIL_LOG_LEVEL: 'error', VEIL_DATA_DIR: dir, ...t.env },
        { url: `http://127.0.0.1:${port}/healthz` },
      );
      const url = `http://127.0.0.1:${port}/v1`;
      await sequential(url, BENCH_PROMPT, 30); // warm-up: model, JIT, vault rows
      gateways.push({ t, url, dir, pid: p.child.pid, stop: p.stop, direct: [], through: [], cpu: { main: 0, other: 0 } });
    }
    await sequential(upUrl, DIRECT_PROMPT, 30);
    for (let r = 0; r < ROUNDS; r++) {
      for (const g of gateways) {
        g.direct.push(...(await sequential(upUrl, DIRECT_PROMPT, PER_ROUND)));
        const c0 = cpuMs(g.pid);
        g.through.push(...(await sequential(g.url, BENCH_PROMPT, PER_ROUND)));
        const c1 = cpuMs(g.pid);
        if (!c0 || !c1 || !g.cpu) g.cpu = null;
        else g.cpu = { main: g.cpu.main + c1.main - c0.main, other: g.cpu.other + c1.other - c0.other };
      }
    }
    const rows = gateways.map((g) => {
      const d = [...g.direct].sort((a, b) => a - b);
      const v = [...g.through].sort((a, b) => a - b);
      const added = percentile(v, 50) - percentile(d, 50);
      const cpu = g.cpu ? `${(g.cpu.main / v.length).toFixed(2)} / ${(g.cpu.other / v.length).toFixed(2)}` : 'n/a';
      return [g.t.label, d.length, percentile(d, 50).toFixed(2), percentile(v, 50).toFixed(2), percentile(v, 99).toFixed(2), `+${added.toFixed(2)}`, cpu];
    });
    const base = gateways.length > 1 ? percentile([...gateways[0]!.through].sort((a, b) => a - b), 50) - percentile([...gateways[0]!.direct].sort((a, b) => a - b), 50) : 0;
    if (gateways.length > 1) {
      for (let i = 0; i < rows.length; i++) {
        const g = gateways[i]!;
        const added = percentile([...g.through].sort((a, b) => a - b), 50) - percentile([...g.direct].sort((a, b) => a - b), 50);
        rows[i]!.push(`${(((added - base) / base) * 100).toFixed(1)} %`);
      }
    }
    console.log(
      table(
        `Chat, 1 KB prompt (5 PII values), NER on, default vault, one request at a time, ${ROUNDS} alternating rounds of ${PER_ROUND}`,
        ['gateway', 'requests', 'direct p50 ms', 'through Veil p50 ms', 'through Veil p99 ms', 'added p50 ms', 'CPU ms/request main / other threads', ...(gateways.length > 1 ? [`vs ${gateways[0]!.t.label}`] : [])],
        rows,
      ),
    );
  } finally {
    agent.destroy();
    for (const g of gateways) {
      await g.stop();
      rmSync(g.dir, { recursive: true, force: true });
    }
    await upstream.stop();
  }
}

await main();
