/**
 * `npm run eval:ner [-- --limit N] [-- --model DIR]`: scores the shipped NER model (through the
 * real worker-thread detector) and the compromise baseline on UNER EWT test, WNUT-17 test,
 * BTC section h, and the full detector (patterns + NER) on the Presidio synthetic set.
 * Prints one run's tables and whether the goals are met.
 * Env: NER_DATA_DIR (default ../shared/ner-data), VEIL_NER_MODEL (default models/veil-ner),
 * VEIL_NER_LABEL_MAP, VEIL_NER_MIN_SCORE.
 */
import path from 'node:path';
import type { EntityType } from '../src/core/types.js';
import { parseLabelMap } from '../src/detect/ner/labels.js';
import type { Detector, Span } from '../src/detect/types.js';
import { createNerDetector } from '../src/runtime/node/ner/index.js';
import { compromiseSpans } from './eval/baseline.js';
import { type Dataset, dataDir, loadBtc, loadPresidio, loadUner, loadWnut } from './eval/datasets.js';
import { type PredSpan, type Prf, entityScores, tokenScores } from './eval/metrics.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const NER_ROWS = new Set(['PERSON', 'LOCATION', 'ORGANIZATION', 'ADDRESS', 'micro']);
const f2 = (x: number) => x.toFixed(3).replace(/^0/, '');

async function runDetector(det: Detector, texts: readonly string[], chunk = 16, concurrency = 4): Promise<Span[][]> {
  const out: Span[][] = new Array(texts.length);
  let next = 0;
  const lane = async () => {
    while (next < texts.length) {
      const i = next;
      next += chunk;
      const res = await det.detect(texts.slice(i, i + chunk));
      res.forEach((r, k) => (out[i + k] = r));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return out;
}

/** Patterns + NER: the composite detector when it exists, else the pattern spans winning overlaps. */
async function fullDetector(ner: Detector): Promise<{ det: Detector; how: string }> {
  const pat = (await import('../src/detect/patterns/index.js')) as { createPatternDetector: () => Detector };
  const patterns = pat.createPatternDetector();
  try {
    const comp = (await import('../src/detect/composite.js' as string)) as {
      createCompositeDetector?: (...a: unknown[]) => Detector;
    };
    if (comp.createCompositeDetector) {
      for (const build of [() => comp.createCompositeDetector!([patterns, ner]), () => comp.createCompositeDetector!({ patterns, ner })]) {
        try {
          const det = build();
          const probe = await det.detect(['Mail jane@example.com please']);
          if (probe[0]?.some((s) => s.type === 'EMAIL')) return { det, how: 'createCompositeDetector (patterns + NER)' };
        } catch {
          /* try the next signature */
        }
      }
    }
  } catch {
    /* composite not written yet */
  }
  const det: Detector = {
    name: 'patterns+ner',
    async detect(texts, signal) {
      const [a, b] = await Promise.all([patterns.detect(texts, signal), ner.detect(texts, signal)]);
      return a.map((ps, i) => {
        const ns = (b[i] ?? []).filter((n) => ps.every((p) => n.end <= p.start || p.end <= n.start));
        return [...ps, ...ns].sort((x, y) => x.start - y.start);
      });
    },
  };
  return { det, how: 'local merge (patterns win overlaps): src/detect/composite.ts not available' };
}

function table(rows: { label: string; m: Prf; b?: Prf }[], withBaseline: boolean): string {
  const head = withBaseline
    ? '| type | support | model P | model R | model F1 | baseline P | baseline R | baseline F1 | beats baseline |\n|---|---|---|---|---|---|---|---|---|'
    : '| type | support | P | R | F1 |\n|---|---|---|---|---|';
  const lines = rows.map(({ label, m, b }) =>
    withBaseline && b
      ? `| ${label} | ${m.support} | ${f2(m.p)} | ${f2(m.r)} | ${f2(m.f1)} | ${f2(b.p)} | ${f2(b.r)} | ${f2(b.f1)} | ${m.support === 0 ? 'n/a' : !NER_ROWS.has(label) ? '(same patterns)' : m.f1 > b.f1 ? 'yes' : 'NO'} |`
      : `| ${label} | ${m.support} | ${f2(m.p)} | ${f2(m.r)} | ${f2(m.f1)} |`,
  );
  return [head, ...lines].join('\n');
}

async function main(): Promise<void> {
  const limitArg = arg('limit');
  const limit = limitArg !== undefined ? Number(limitArg) : undefined;
  const modelDir = path.resolve(arg('model') ?? process.env['VEIL_NER_MODEL'] ?? 'models/veil-ner');
  const minScore = process.env['VEIL_NER_MIN_SCORE'] !== undefined ? Number(process.env['VEIL_NER_MIN_SCORE']) : 0.5;
  const t0 = performance.now();
  const ner = createNerDetector({ modelDir, labelMap: { ...parseLabelMap(process.env['VEIL_NER_LABEL_MAP']) }, minScore, workers: 1 });
  await ner.ready!();
  const cfg = (await import('node:fs')).readFileSync(path.join(modelDir, 'config.json'), 'utf8');
  const version = (JSON.parse(cfg) as { veil?: { version?: string } }).veil?.version ?? 'unknown';
  console.log(`# NER evaluation\n\nmodel: ${modelDir} (version ${version}), min score ${minScore}; data: ${dataDir()}${limit !== undefined ? `; --limit ${limit}` : ''}\n`);

  const goals: { goal: string; value: string; met: boolean | null }[] = [];
  const beat: boolean[] = [];
  for (const ds of [loadUner(limit), loadWnut(limit), loadBtc(limit)] as Dataset[]) {
    const t = performance.now();
    const texts = ds.docs.map((d) => d.text);
    const model = (await runDetector(ner, texts)) as PredSpan[][];
    const ms = performance.now() - t;
    const base = texts.map(compromiseSpans);
    const m = entityScores(ds.docs, model, ds.types, ds.ignore);
    const b = entityScores(ds.docs, base, ds.types, ds.ignore);
    const gold = ds.docs.reduce((n, d) => n + d.gold.filter((g) => ds.types.includes(g.type as EntityType)).length, 0);
    console.log(`## ${ds.name}: ${ds.docs.length} sentences, ${gold} gold entities, model ${(ms / 1000).toFixed(1)} s\n`);
    const rows = [...ds.types, 'micro'].map((label) => ({ label, m: m.get(label)!, b: b.get(label)! }));
    console.log(table(rows, true) + '\n');
    for (const r of rows) if (r.m.support > 0) beat.push(r.m.f1 > r.b.f1);
    if (ds.name.startsWith('UNER')) {
      const p = m.get('PERSON')!;
      goals.push({ goal: 'UNER EWT test: PERSON recall ≥ .90 at precision ≥ .85', value: `R ${f2(p.r)} P ${f2(p.p)}`, met: p.r >= 0.9 && p.p >= 0.85 });
    }
  }

  // Presidio: the full detector (patterns + NER); baseline = the same patterns + compromise
  const ds = loadPresidio(limit);
  const { det, how } = await fullDetector(ner);
  const t = performance.now();
  const texts = ds.docs.map((d) => d.text);
  const full = (await runDetector(det, texts)) as PredSpan[][];
  const ms = performance.now() - t;
  const patOnly = (await import('../src/detect/patterns/index.js')) as { findPatternSpans: (t: string) => Span[] };
  const base = texts.map((tx) => {
    const ps = patOnly.findPatternSpans(tx) as PredSpan[];
    const cs = compromiseSpans(tx).filter((n) => ps.every((p) => n.end <= p.start || p.end <= n.start));
    return [...ps, ...cs];
  });
  const m = entityScores(ds.docs, full, ds.types, ds.ignore);
  const b = entityScores(ds.docs, base, ds.types, ds.ignore);
  console.log(`## ${ds.name}: ${ds.docs.length} sentences, full detector = ${how}, ${(ms / 1000).toFixed(1)} s\n`);
  console.log('Entity level, exact span match (baseline = same patterns + compromise):\n');
  const rows = [...ds.types, 'micro'].map((label) => ({ label, m: m.get(label)!, b: b.get(label)! }));
  console.log(table(rows, true) + '\n');
  const nerTypes = new Set(['PERSON', 'LOCATION', 'ORGANIZATION', 'ADDRESS']);
  for (const r of rows) if (nerTypes.has(r.label) && r.m.support > 0) beat.push(r.m.f1 > r.b.f1);
  const tm = tokenScores(ds.docs, full, ds.types);
  const tb = tokenScores(ds.docs, base, ds.types);
  console.log('Token level overlap (Presidio labels addresses in pieces; ANY = token masked as any scored type):\n');
  console.log(table(['ADDRESS', 'PERSON', 'LOCATION', 'ORGANIZATION', 'ANY'].map((label) => ({ label, m: tm.get(label)!, b: tb.get(label)! })), true) + '\n');
  for (const ty of ['PERSON', 'CARD', 'PHONE', 'EMAIL', 'IBAN', 'SSN', 'IP']) {
    const p = m.get(ty)!;
    goals.push({ goal: `Presidio: ${ty} recall ≥ .95`, value: `R ${f2(p.r)} (n=${p.support})`, met: p.support === 0 ? null : p.r >= 0.95 });
  }
  goals.push({ goal: 'beat the baseline (F1) on every NER row', value: `${beat.filter(Boolean).length}/${beat.length} rows`, met: beat.every(Boolean) });

  console.log('## Goals\n\n| goal | value | met |\n|---|---|---|');
  for (const g of goals) console.log(`| ${g.goal} | ${g.value} | ${g.met === null ? 'n/a' : g.met ? 'yes' : 'NO'} |`);
  console.log(`\nwall time ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await ner.close!();
  await det.close?.();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
