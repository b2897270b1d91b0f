/**
 * The NER detector with the REAL model from models/veil-ner, run in real worker threads
 * (this file also proves the worker bootstrap works under vitest; the child-process test
 * proves it under tsx). Skipped, with a message, only when the model folder is absent.
 *
 * Recall expectations reflect what the shipped model does today: cases it misses are listed
 * in KNOWN_MISSES and only checked for precision (no wrong or misplaced span).
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVeilError } from '../../../core/errors.js';
import type { Detector, Span } from '../../../detect/types.js';
import { createNerDetector } from './index.js';

const MODEL = path.resolve('models/veil-ner');
const HAVE_MODEL = existsSync(path.join(MODEL, 'onnx', 'model.onnx')) || existsSync(path.join(MODEL, 'onnx', 'model_quantized.onnx'));
if (!HAVE_MODEL) console.warn(`[test/ner] skipping model tests: no model at ${MODEL} (train one or set it up first)`);
/** Recall assertions need a trained model; an early placeholder (version "…v0…") only gets the mechanics and precision checks. */
const VERSION = HAVE_MODEL ? ((JSON.parse(readFileSync(path.join(MODEL, 'config.json'), 'utf8')) as { veil?: { version?: string } }).veil?.version ?? '') : '';
const QUALITY = HAVE_MODEL && !/v0|placeholder/i.test(VERSION);
if (HAVE_MODEL && !QUALITY) console.warn(`[test/ner] model ${VERSION} is a placeholder: recall assertions skipped`);

/** Names / addresses the current model does not find (see the runtime report). */
const KNOWN_MISSES = new Set<string>([]);
/** Spans the shipped model wrongly finds outside an address, kept visible here (1.0.0 and 1.1.0: 'Notre';
 *  1.2.0: 'Adresse', a capitalised German noun taken for a name — see the model card's limits). */
const KNOWN_FALSE_POSITIVES = new Set<string>(['Adresse']);

function at(text: string, value: string): [number, number] {
  const i = text.indexOf(value);
  if (i < 0) throw new Error('test bug: value not in text');
  return [i, i + value.length];
}

const show = (text: string, spans: readonly Span[]) => spans.map((s) => [text.slice(s.start, s.end), s.type]);

function checkSpans(text: string, spans: readonly Span[]): void {
  let last = 0;
  for (const s of spans) {
    expect(s.start).toBeGreaterThanOrEqual(last);
    expect(s.end).toBeGreaterThan(s.start);
    expect(s.end).toBeLessThanOrEqual(text.length);
    expect(s.source).toBe('ner');
    expect(s.score).toBeGreaterThanOrEqual(0.5);
    expect(s.score).toBeLessThanOrEqual(1);
    const v = text.slice(s.start, s.end);
    expect(v).toBe(v.trim());
    last = s.end;
  }
}

describe.skipIf(!HAVE_MODEL)('NER detector (real model, worker threads)', () => {
  let ner: Detector;
  beforeAll(async () => {
    ner = createNerDetector({ modelDir: MODEL, workers: 1 });
    await ner.ready!();
  });
  afterAll(async () => {
    await ner?.close?.();
  });

  const NAMES: [string, string][] = [
    ["Siobhán O'Connor will join the call tomorrow.", "Siobhán O'Connor"],
    ['Please forward the file to Nguyễn Văn An.', 'Nguyễn Văn An'],
    ['Oluwaseun Adeyemi signed the contract.', 'Oluwaseun Adeyemi'],
    ['I spoke with Priya Raghunathan yesterday.', 'Priya Raghunathan'],
    ['José María García sent the invoice.', 'José María García'],
    ['Zhang Wei is our new manager.', 'Zhang Wei'],
    ['Mohammed Al-Farsi arrives on Friday.', 'Mohammed Al-Farsi'],
    ['Ólafur Ragnarsson booked the room.', 'Ólafur Ragnarsson'],
    ['can you email john smith about it', 'john smith'],
    ['Rose Hunter called this morning.', 'Rose Hunter'],
  ];

  it('finds names from many cultures, with spans inside the name and nowhere else', async () => {
    const res = await ner.detect(NAMES.map(([t]) => t));
    let found = 0;
    NAMES.forEach(([text, name], i) => {
      const spans = res[i]!;
      checkSpans(text, spans);
      const [ns, ne] = at(text, name);
      // precision: every span of this sentence is a PERSON inside the name
      for (const s of spans) {
        expect({ v: text.slice(s.start, s.end), type: s.type, inside: s.start >= ns && s.end <= ne }).toEqual({
          v: text.slice(s.start, s.end),
          type: 'PERSON',
          inside: true,
        });
      }
      const hit = spans.some((s) => s.start < ne && ns < s.end);
      if (QUALITY && !KNOWN_MISSES.has(name)) expect({ name, hit }).toEqual({ name, hit: true });
      if (hit) found++;
    });
    if (QUALITY) expect(found).toBeGreaterThanOrEqual(NAMES.length - [...KNOWN_MISSES].filter((n) => NAMES.some(([, x]) => x === n)).length);
  });

  it.skipIf(!QUALITY)('gives exact character offsets for a name it finds whole', async () => {
    const text = 'I spoke with Priya Raghunathan yesterday.';
    const [s] = await ner.detect([text]);
    expect(show(text, s!)).toEqual([['Priya Raghunathan', 'PERSON']]);
    expect(s![0]!.start).toBe(13);
    expect(s![0]!.end).toBe(30);
  });

  it('tells a name that is a common word from the word', async () => {
    const [a, b] = await ner.detect(['Rose Hunter called this morning.', 'We walked through the rose garden after lunch.']);
    if (QUALITY) expect(a!.some((s) => s.type === 'PERSON')).toBe(true);
    checkSpans('Rose Hunter called this morning.', a!);
    expect(b).toEqual([]);
  });

  it('flags nothing in text without PII', async () => {
    const texts = [
      'The weather is nice today.',
      'Please summarize the attached quarterly report in three bullet points.',
      'What is the time complexity of a binary search?',
      'Our revenue grew by ten percent last year.',
      '',
      '   \n\t ',
    ];
    expect(await ner.detect(texts)).toEqual(texts.map(() => []));
  });

  it('addresses in several countries: no span leaves the address, types are ADDRESS or LOCATION', async () => {
    const cases: [string, string][] = [
      ['Send it to 1600 Pennsylvania Ave NW, Washington, DC 20500 please.', '1600 Pennsylvania Ave NW, Washington, DC 20500'],
      ['He lives at 221B Baker Street, London NW1 6XE.', '221B Baker Street, London NW1 6XE'],
      ['Die Adresse ist Hauptstraße 5, 10115 Berlin.', 'Hauptstraße 5, 10115 Berlin'],
      ['Notre bureau est au 12 rue de la Paix, 75002 Paris.', '12 rue de la Paix, 75002 Paris'],
    ];
    const res = await ner.detect(cases.map(([t]) => t));
    cases.forEach(([text, addr], i) => {
      checkSpans(text, res[i]!);
      const [as, ae] = at(text, addr);
      const hit = res[i]!.some((s) => (s.type === 'ADDRESS' || s.type === 'LOCATION') && s.start < ae && as < s.end);
      if (QUALITY && !KNOWN_MISSES.has(addr)) expect({ addr, hit }).toEqual({ addr, hit: true });
      for (const s of res[i]!) {
        if (KNOWN_FALSE_POSITIVES.has(text.slice(s.start, s.end))) continue;
        expect({ span: text.slice(s.start, s.end), inside: s.start >= as && s.end <= ae && (s.type === 'ADDRESS' || s.type === 'LOCATION') }).toEqual({ span: text.slice(s.start, s.end), inside: true });
      }
    });
  });

  it('long text (> 5,000 chars, many windows): spans exact, each name at most once, none misplaced', async () => {
    // The window merge itself is tested model-independently in src/detect/ner/ner.test.ts; here the real
    // model runs over > 20 windows (default 254 tokens, and tiny 32-token windows).
    const sentence = 'I spoke with Priya Raghunathan yesterday.';
    const text = Array.from({ length: 125 }, () => sentence).join(' ');
    expect(text.length).toBeGreaterThan(5000);
    const names: [number, number][] = [];
    for (let i = text.indexOf('Priya'); i >= 0; i = text.indexOf('Priya', i + 1)) names.push([i, i + 'Priya Raghunathan'.length]);
    const small = createNerDetector({ modelDir: MODEL, windowTokens: 32, overlap: 8 });
    try {
      for (const det of [ner, small]) {
        const [spans] = await det.detect([text]);
        checkSpans(text, spans!); // sorted, non-overlapping: nothing found twice
        if (QUALITY) expect(spans!.length).toBeGreaterThanOrEqual(1);
        for (const s of spans!) {
          expect(s.type).toBe('PERSON');
          // every span is (part of) one name occurrence: offsets did not drift
          expect(names.some(([a, b]) => s.start >= a && s.end <= b)).toBe(true);
          expect(['Priya Raghunathan', 'Priya', 'Raghunathan']).toContain(text.slice(s.start, s.end));
        }
      }
    } finally {
      await small.close!();
    }
  });

  it('50 concurrent calls give the same results as sequential calls', async () => {
    const texts = NAMES.map(([t]) => t);
    const seq: Span[][][] = [];
    for (let i = 0; i < 50; i++) seq.push(await ner.detect([texts[i % texts.length]!, texts[(i * 7) % texts.length]!]));
    const conc = await Promise.all(Array.from({ length: 50 }, (_, i) => ner.detect([texts[i % texts.length]!, texts[(i * 7) % texts.length]!])));
    const round = (r: Span[][][]) => r.map((a) => a.map((b) => b.map((s) => ({ ...s, score: Math.round(s.score * 1e4) }))));
    expect(round(conc)).toEqual(round(seq));
  });

  it('a call that finds a worker idle is dispatched at once, not after the gathering window; calls that queue behind a busy worker still gather', async () => {
    // a 30 s window: before the fix every call waited for it (the window was paid by a lone request)
    const det = createNerDetector({ modelDir: MODEL, workers: 1, batchWindowMs: 30_000 });
    try {
      await det.ready!();
      const t0 = performance.now();
      const [alone] = await det.detect(['I spoke with Priya Raghunathan yesterday.']);
      expect(alone!.map((s) => s.type)).toEqual(['PERSON']);
      // ≥ 16 segments waiting make a full job, which never waits for the window either
      const many = await Promise.all(Array.from({ length: 17 }, () => det.detect(['Zhang Wei met Olga Petrova.'])));
      expect(many.every(([spans]) => spans!.length === 2)).toBe(true);
      expect(performance.now() - t0).toBeLessThan(20_000);
    } finally {
      await det.close!();
    }
  }, 60_000);

  it('an aborted signal rejects', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(ner.detect(['Zhang Wei'], ac.signal)).rejects.toThrow(/abort/i);
  });

  it('a label map can switch a type off (swappable models)', async () => {
    const det = createNerDetector({ modelDir: MODEL, labelMap: { PERSON: null } });
    try {
      const [s] = await det.detect(['I spoke with Priya Raghunathan yesterday.']);
      expect(s).toEqual([]);
    } finally {
      await det.close!();
    }
  });

  it('a worker that dies fails the pending calls closed (503 error) and is restarted', async () => {
    const det = createNerDetector({ modelDir: MODEL }, new URL('../../../../test/helpers/ner-crash-worker.mjs', import.meta.url));
    try {
      await det.ready!();
      const err = await det.detect(['__crash__']).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isVeilError(err) && err.status === 503 && err.code === 'veil_detection_unavailable').toBe(true);
      // the restarted worker answers, and exactly like a healthy detector
      const texts = NAMES.map(([t]) => t);
      expect(await det.detect(texts)).toEqual(await ner.detect(texts));
    } finally {
      await det.close!();
    }
  });

  it('works when started under tsx in a plain Node process', async () => {
    const script = path.resolve('test/helpers/run-ner-detector.ts');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, MODEL, 'I spoke with Priya Raghunathan yesterday.'], {
      timeout: 60_000,
    });
    const [mine] = await ner.detect(['I spoke with Priya Raghunathan yesterday.']);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual([mine!.map(({ start, end, type, source }) => ({ start, end, type, source }))]);
  });
});

describe('NER detector errors', () => {
  it('a missing model dir gives a clear error from ready() and fails detect() closed', async () => {
    const det = createNerDetector({ modelDir: '/nonexistent/veil-ner' });
    await expect(det.ready!()).rejects.toThrow(/NER model not found at \/nonexistent\/veil-ner .*VEIL_NER_MODEL/);
    const err = await det.detect(['x']).catch((e: unknown) => e);
    expect(isVeilError(err) && err.code === 'veil_detection_unavailable' && err.status === 503).toBe(true);
    await det.close!();
  });

  it.skipIf(!HAVE_MODEL)('a corrupt ONNX file gives a clear error from ready()', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'veil-ner-corrupt-'));
    const copy = path.join(dir, 'veil-ner');
    try {
      cpSync(MODEL, copy, { recursive: true, filter: (src) => !src.endsWith('.onnx') });
      writeFileSync(path.join(copy, 'onnx', 'model.onnx'), Buffer.from('this is not an onnx model'.repeat(100)));
      const det = createNerDetector({ modelDir: copy });
      await expect(det.ready!()).rejects.toThrow(new RegExp(`NER model at ${copy.replace(/[/\\]/g, '.')} could not be loaded: .+`));
      const err = await det.detect(['x']).catch((e: unknown) => e);
      expect(isVeilError(err) && err.code === 'veil_detection_unavailable').toBe(true);
      await det.close!();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
