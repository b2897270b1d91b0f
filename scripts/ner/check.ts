/**
 * Verifies the exported model folder with the real runtime libraries and measures it.
 *
 * Usage: npx tsx scripts/ner/check.ts [modelsDir=models] [checkJson=scripts/ner/out/check.json]
 *  1. transformers.js (allowRemoteModels=false) loads tokenizer + AutoModelForTokenClassification
 *     from <modelsDir>/veil-ner; token ids must equal the Python training tokenizer's ids and
 *     logits must match the torch logits written by train.py (max abs diff < 1e-3).
 *  2. onnxruntime-node, one intra-op thread: p50/p90 latency per 1,000 characters, load time, RSS.
 * Prints one JSON object; exits 1 on any mismatch.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const modelsDir = path.resolve(process.argv[2] ?? 'models');
const checkJson = process.argv[3] ?? 'scripts/ner/out/check.json';

type Sample = { text: string; ids: number[]; logits: number[][] };

async function main(): Promise<void> {
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const tf = await import('@huggingface/transformers');
  tf.env.allowRemoteModels = false;
  tf.env.allowLocalModels = true;
  tf.env.localModelPath = modelsDir + '/';
  const tokenizer = await tf.AutoTokenizer.from_pretrained('veil-ner');
  const model = await tf.AutoModelForTokenClassification.from_pretrained('veil-ner', { dtype: 'fp32' });
  const loadMs = performance.now() - t0;
  const labels = (model.config as unknown as { id2label: Record<string, string> }).id2label;

  const samples = JSON.parse(readFileSync(checkJson, 'utf8')) as Sample[];
  const vocab = (JSON.parse(readFileSync(path.join(modelsDir, 'veil-ner', 'tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number> };
  }).model.vocab;
  const inv: string[] = [];
  for (const [t, i] of Object.entries(vocab)) inv[i] = t;
  let idMismatch = 0;
  let maxDiff = 0;
  const decoded: string[][] = [];
  for (const s of samples) {
    const enc = tokenizer(s.text);
    const ids = Array.from(enc.input_ids.data as BigInt64Array, (x) => Number(x));
    if (JSON.stringify(ids) !== JSON.stringify(s.ids)) {
      idMismatch++;
      console.error('id mismatch', { js: ids, py: s.ids });
    }
    const out = await model(enc);
    const logits = out.logits as { data: Float32Array; dims: number[] };
    const [, seq, nl] = logits.dims as [number, number, number];
    const tags: string[] = [];
    for (let i = 0; i < seq; i++) {
      let best = 0;
      for (let j = 0; j < nl; j++) {
        const v = logits.data[i * nl + j]!;
        if (ids.length === s.ids.length) maxDiff = Math.max(maxDiff, Math.abs(v - s.logits[i]![j]!));
        if (v > logits.data[i * nl + best]!) best = j;
      }
      tags.push(labels[String(best)]!);
    }
    const toks = ids.map((i) => inv[i] ?? '?');
    decoded.push(toks.map((t, i) => (tags[i] === 'O' ? t : `${t}/${tags[i]}`)));
  }
  const rssAfterLoad = process.memoryUsage().rss;

  // latency with onnxruntime-node directly, one thread
  const ort = await import('onnxruntime-node');
  const t1 = performance.now();
  const session = await ort.InferenceSession.create(path.join(modelsDir, 'veil-ner', 'onnx', 'model.onnx'), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const ortLoadMs = performance.now() - t1;
  const para =
    'Hi team, this is Maria Gonzalez from Northwind Traders. Our customer, Dr. Kenji Watanabe, moved to 1450 Elm Street, Apt 3B, ' +
    'Springfield, IL 62704 and asked us to update his billing address before the next invoice. He also mentioned that his ' +
    'colleague Aisha Rahman in Toronto will take over the account from March. Please call me back at the office in Boston ' +
    'or reply to this ticket. The previous order shipped from our Rotterdam warehouse was damaged, and the courier, ' +
    'FastFreight Logistics, has not responded yet. Thanks, Maria. P.S. Tell Will that the price list for Summer is ready.';
  const text = (para + ' ').repeat(3).slice(0, 1000);
  const ids = Array.from(tokenizer(text).input_ids.data as BigInt64Array);
  const n = ids.length;
  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids), [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
  };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < 40; i++) {
    const a = performance.now();
    await session.run(feeds);
    times.push(performance.now() - a);
  }
  times.sort((a, b) => a - b);
  const tokT: number[] = [];
  for (let i = 0; i < 40; i++) {
    const a = performance.now();
    tokenizer(text);
    tokT.push(performance.now() - a);
  }
  tokT.sort((a, b) => a - b);
  const result = {
    samples: samples.length,
    idMismatch,
    maxAbsLogitDiff: maxDiff,
    transformersJsLoadMs: Math.round(loadMs),
    ortLoadMs: Math.round(ortLoadMs),
    chars: text.length,
    tokens: n,
    p50MsPer1000Chars: +((times[20]! * 1000) / text.length).toFixed(2),
    p90MsPer1000Chars: +((times[36]! * 1000) / text.length).toFixed(2),
    tokenizerP50Ms: +tokT[20]!.toFixed(2),
    rssMbStart: Math.round(rss0 / 2 ** 20),
    rssMbAfterTransformersJs: Math.round(rssAfterLoad / 2 ** 20),
    rssMbEnd: Math.round(process.memoryUsage().rss / 2 ** 20),
    tagged: decoded.map((d) => d.join(' ')),
  };
  console.log(JSON.stringify(result, null, 2));
  writeFileSync(path.join(path.dirname(checkJson), 'check_result.json'), JSON.stringify(result, null, 2));
  if (idMismatch > 0 || maxDiff > 1e-3) process.exit(1);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
