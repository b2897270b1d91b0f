/**
 * `npm run eval:pii [-- --data FILE] [-- --show-leaks] [-- --doc ID] [-- --no-presidio] [-- --out FILE]`
 *
 * Runs the PII dev set (default ../shared/pii-dev/dev.jsonl, or PII_DEV_FILE) through the
 * gateway's own path: the detector built by `buildDetector` (patterns + NER model + every
 * request-level pass) and `sanitizeRequest` on a chat request per document, with a memory
 * vault and the default policy. Prints the per-type table and the headline
 * `SENSITIVE protected X% (n/N), collateral Y%` as ../shared/pii-dev/score.mjs defines them
 * (scripts/eval/pii-score.ts is an exact port; when score.mjs is present it is run on the same
 * outputs and both must agree). Then the Presidio synthetic set (NER_DATA_DIR) as span F1 at
 * IoU ≥ 0.5. `--show-leaks` prints, per document, the leaked gold spans and the ordinary words
 * that were masked (error analysis; local use only: it prints dev values). Skips cleanly, exit
 * 0, when the data is missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/core/config.js';
import { OPEN_PRINCIPAL, type RequestContext, silentLogger } from '../src/core/types.js';
import type { Detector, Span } from '../src/detect/types.js';
import { sanitizeRequest } from '../src/sanitize/sanitize.js';
import { buildDetector } from '../src/runtime/node/services.js';
import { DEFAULT_POLICY } from '../src/policy/index.js';
import { createMemoryVault } from '../src/vault/memory.js';
import { dataDir, loadPresidio } from './eval/datasets.js';
import { iouScores, type PredSpan } from './eval/metrics.js';
import { formatScore, type GoldDoc, headline, scorePii } from './eval/pii-score.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

async function pool<T>(n: number, items: readonly T[], f: (x: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        await f(items[i]!, i);
      }
    }),
  );
}

async function evalDev(detector: Detector, file: string): Promise<void> {
  const gold = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as GoldDoc);
  const vault = createMemoryVault();
  const ctx: RequestContext = { principal: OPEN_PRINCIPAL, requestId: 'eval-pii' };
  const out = new Map<string, string>();
  const t = performance.now();
  await pool(8, gold, async (g) => {
    const body = { model: 'eval', messages: [{ role: 'user', content: g.text }] };
    const r = await sanitizeRequest('chat', body, { detector, vault, policy: DEFAULT_POLICY }, ctx);
    out.set(g.id, r.body.messages[0]!.content);
  });
  const ms = performance.now() - t;
  const chars = gold.reduce((n, g) => n + g.text.length, 0);
  const s = scorePii(gold, out);
  console.log(`## PII dev set: ${path.relative(process.cwd(), file)} (${gold.length} documents, ${chars} characters, ${(ms / 1000).toFixed(1)} s)\n`);
  console.log(formatScore(s).join('\n'));

  const score = path.join(path.dirname(file), 'score.mjs');
  const outFile = arg('out');
  const tmp = outFile ? null : mkdtempSync(path.join(os.tmpdir(), 'veil-eval-pii-'));
  const outputs = outFile ?? path.join(tmp!, 'outputs.jsonl');
  writeFileSync(outputs, gold.map((g) => JSON.stringify({ id: g.id, sanitized: out.get(g.id) })).join('\n') + '\n');
  try {
    if (existsSync(score)) {
      const ref = execFileSync(process.execPath, [score, file, outputs], { encoding: 'utf8' }).trim().split('\n').at(-1);
      if (ref !== headline(s)) {
        console.error(`\nscore.mjs disagrees with the port: ${ref}`);
        process.exitCode = 1;
      } else console.log('(score.mjs on the same outputs agrees)');
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }

  if (flag('show-leaks') || arg('doc')) {
    const only = arg('doc');
    console.log('\n### Leaks and collateral per document\n');
    for (const d of s.docs) {
      if (only && d.id !== only) continue;
      if (!only && d.leaked.length === 0 && d.lost.length === 0) continue;
      console.log(`${d.id}:`);
      for (const l of d.leaked) console.log(`  LEAK ${l.type.padEnd(14)} ${JSON.stringify(l.value)}`);
      if (d.lost.length) {
        // which span took each lost word (one extra detection per document, analysis only)
        const g = gold.find((x) => x.id === d.id)!;
        const [spans] = await detector.detect([g.text]);
        const by = (w: string) =>
          (spans ?? [])
            .filter((sp) => g.text.slice(sp.start, sp.end).toLowerCase().includes(w))
            .map((sp) => `${sp.type}:${JSON.stringify(g.text.slice(sp.start, sp.end))}`)[0] ?? '?';
        console.log(`  LOST ${d.lost.map(([w, n]) => `${n > 1 ? `${w}×${n}` : w} ← ${by(w)}`).join(' · ')}`);
      }
      if (only) console.log(`  --- sanitized ---\n${out.get(d.id)}`);
    }
  }
}

async function evalPresidio(detector: Detector): Promise<void> {
  const f = path.join(dataDir(), 'presidio-research', 'synth_dataset_v2.json');
  if (!existsSync(f)) {
    console.log(`\nPresidio synthetic set not found at ${f}: skipped.`);
    return;
  }
  const ds = loadPresidio();
  const texts = ds.docs.map((d) => d.text);
  const preds: Span[][] = new Array(texts.length);
  const t = performance.now();
  const batches: number[] = [];
  for (let i = 0; i < texts.length; i += 16) batches.push(i);
  await pool(4, batches, async (i) => {
    const r = await detector.detect(texts.slice(i, i + 16));
    r.forEach((x, k) => (preds[i + k] = x));
  });
  const ms = performance.now() - t;
  const m = iouScores(ds.docs, preds as PredSpan[][], ds.types, ds.ignore, 0.5);
  const f3 = (x: number) => x.toFixed(3);
  console.log(`\n## ${ds.name}: ${texts.length} sentences, ${(ms / 1000).toFixed(1)} s — span F1 at IoU ≥ 0.5\n`);
  console.log('| type | support | P | R | F1 |\n|---|---|---|---|---|');
  for (const label of [...ds.types, 'micro']) {
    const p = m.get(label)!;
    console.log(`| ${label} | ${p.support} | ${f3(p.p)} | ${f3(p.r)} | ${f3(p.f1)} |`);
  }
  console.log(`\nPresidio span F1 (IoU ≥ 0.5, micro): ${f3(m.get('micro')!.f1)}  (published: Presidio 0.574, GLiNER-PII 0.618, gliner-pii-large 0.633)`);
}

async function main(): Promise<void> {
  const file = path.resolve(arg('data') ?? process.env['PII_DEV_FILE'] ?? path.join(repo, '../shared/pii-dev/dev.jsonl'));
  if (!existsSync(file)) {
    console.log(`eval:pii: no PII dev set at ${file} (set --data FILE or PII_DEV_FILE): skipped.`);
    return;
  }
  const t0 = performance.now();
  const config = loadConfig({ ...process.env, VEIL_VAULT: 'memory' });
  const detector = buildDetector(config, silentLogger);
  try {
    await detector.ready?.();
    console.log(`# PII evaluation (${new Date().toISOString().slice(0, 10)}, model ${config.VEIL_NER ? config.VEIL_NER_MODEL : 'off'})\n`);
    await evalDev(detector, file);
    if (!flag('no-presidio')) await evalPresidio(detector);
  } finally {
    await detector.close?.();
  }
  console.log(`\nwall time ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
