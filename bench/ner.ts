/**
 * NER benchmark: `npx tsx bench/ner.ts [--model DIR] [--runs N]` or `benchNer()` from bench/run.ts.
 * Measures model load time, latency per 1,000 characters on one worker (one intra-op thread),
 * batched throughput with concurrent requests, process RSS with the model loaded, model files.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createCompositeDetector } from '../src/detect/composite.js';
import { withNamePasses } from '../src/detect/names/index.js';
import { createPatternDetector } from '../src/detect/patterns/index.js';
import { createNerDetector } from '../src/runtime/node/ner/index.js';

export interface NerBenchResult {
  model: string;
  loadMs: number;
  latencyPer1kChars: { p50: number; p99: number; runs: number };
  /** the gateway's whole detector: patterns + NER + the request-level name passes */
  fullLatencyPer1kChars: { p50: number; p99: number; runs: number };
  throughput: { concurrent: number; requests: number; charsPerRequest: number; requestsPerSec: number; charsPerSec: number };
  rssMb: { before: number; withModel: number };
  files: { file: string; mb: number }[];
}

const PARAGRAPH =
  'Hi team, I spoke with Priya Raghunathan from Acme Logistics yesterday about the shipment to Rotterdam. ' +
  'She asked that we send the revised contract to Mohammed Al-Farsi before Friday, and copy José María García. ' +
  'The meeting in Berlin moved to the office at Hauptstraße 5, 10115 Berlin, on the third floor. ' +
  'Let me know if Siobhán O\'Connor can join; otherwise Zhang Wei will present the numbers for the quarter. ';

function textOf(chars: number): string {
  let t = '';
  while (t.length < chars) t += PARAGRAPH;
  return t.slice(0, chars).replace(/\s+\S*$/, '');
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function listFiles(dir: string): { file: string; mb: number }[] {
  const out: { file: string; mb: number }[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p).map((f) => ({ ...f, file: path.join(e.name, f.file) })));
    else out.push({ file: e.name, mb: statSync(p).size / 1e6 });
  }
  return out;
}

export async function benchNer(opts: { modelDir?: string; runs?: number; concurrent?: number } = {}): Promise<NerBenchResult> {
  const modelDir = path.resolve(opts.modelDir ?? process.env['VEIL_NER_MODEL'] ?? 'models/veil-ner');
  const runs = opts.runs ?? 100;
  const concurrent = opts.concurrent ?? 64;
  const before = process.memoryUsage().rss / 1e6;
  const t0 = performance.now();
  const det = createNerDetector({ modelDir, workers: 1 });
  try {
    await det.ready!();
    const loadMs = performance.now() - t0;
    const text = textOf(1000);
    for (let i = 0; i < 5; i++) await det.detect([text]); // warm-up
    const lat: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await det.detect([text]);
      lat.push(((performance.now() - t) * 1000) / text.length);
    }
    // the whole detector the gateway runs (same NER worker)
    const full = withNamePasses(createCompositeDetector([createPatternDetector(), det]));
    await full.ready!();
    for (let i = 0; i < 5; i++) await full.detect([text]);
    const fullLat: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await full.detect([text]);
      fullLat.push(((performance.now() - t) * 1000) / text.length);
    }
    const short = textOf(200);
    const requests = concurrent * 4;
    const t1 = performance.now();
    for (let r = 0; r < 4; r++) await Promise.all(Array.from({ length: concurrent }, () => det.detect([short])));
    const secs = (performance.now() - t1) / 1000;
    const withModel = process.memoryUsage().rss / 1e6;
    return {
      model: modelDir,
      loadMs,
      latencyPer1kChars: { p50: pct(lat, 50), p99: pct(lat, 99), runs },
      fullLatencyPer1kChars: { p50: pct(fullLat, 50), p99: pct(fullLat, 99), runs },
      throughput: { concurrent, requests, charsPerRequest: short.length, requestsPerSec: requests / secs, charsPerSec: (requests * short.length) / secs },
      rssMb: { before, withModel },
      files: listFiles(modelDir),
    };
  } finally {
    await det.close!();
  }
}

export function formatNerBench(r: NerBenchResult): string {
  const rows = [
    ['model', r.model],
    ['model load (worker ready)', `${r.loadMs.toFixed(0)} ms`],
    [`latency per 1,000 chars, 1 worker × 1 thread (p50 / p99, ${r.latencyPer1kChars.runs} runs)`, `${r.latencyPer1kChars.p50.toFixed(1)} / ${r.latencyPer1kChars.p99.toFixed(1)} ms`],
    [`full detector (patterns + NER + name passes) per 1,000 chars (p50 / p99)`, `${r.fullLatencyPer1kChars.p50.toFixed(1)} / ${r.fullLatencyPer1kChars.p99.toFixed(1)} ms`],
    [`throughput, ${r.throughput.concurrent} concurrent ${r.throughput.charsPerRequest}-char requests (micro-batched)`, `${r.throughput.requestsPerSec.toFixed(0)} req/s, ${(r.throughput.charsPerSec / 1000).toFixed(0)}k chars/s`],
    ['process RSS before / with model loaded', `${r.rssMb.before.toFixed(0)} / ${r.rssMb.withModel.toFixed(0)} MB`],
    ...r.files.map((f) => [`file ${f.file}`, `${f.mb.toFixed(2)} MB`]),
  ];
  return ['| NER benchmark | value |', '|---|---|', ...rows.map(([a, b]) => `| ${a} | ${b} |`)].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--model');
  const j = process.argv.indexOf('--runs');
  benchNer({ ...(i > 0 ? { modelDir: process.argv[i + 1]! } : {}), ...(j > 0 ? { runs: Number(process.argv[j + 1]) } : {}) })
    .then((r) => console.log(formatNerBench(r)))
    .catch((e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    });
}
