/**
 * The NER scheduler with the REAL model (models/veil-ner) in real worker threads: fairness
 * between a huge and a small request, the bounded queue, aborts, and the detection deadline
 * over HTTP (openai client → Veil → the loopback fake upstream, the network stand-in).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVeilError } from '../../src/core/errors.js';
import { createCompositeDetector } from '../../src/detect/composite.js';
import { createPatternDetector } from '../../src/detect/patterns/index.js';
import type { Detector } from '../../src/detect/types.js';
import { createNerDetector } from '../../src/runtime/node/ner/index.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { startGateway } from '../helpers/gateway.js';

const MODEL = path.resolve('models/veil-ner');
const HAVE_MODEL = existsSync(path.join(MODEL, 'onnx', 'model.onnx')) || existsSync(path.join(MODEL, 'onnx', 'model_quantized.onnx'));
const SENTENCE = 'I spoke with Priya Raghunathan yesterday. ';

describe.skipIf(!HAVE_MODEL)('NER scheduler (real model)', () => {
  let ner: Detector;
  beforeAll(async () => {
    ner = createNerDetector({ modelDir: MODEL, workers: 1 });
    await ner.ready!();
  }, 60_000);
  afterAll(async () => ner?.close?.());

  it('a small request does not wait behind a huge one (one worker): answered while the huge one runs', async () => {
    const huge = SENTENCE.repeat(3000); // ~126k characters: seconds of model time
    let hugeDone = 0;
    const big = ner.detect([huge]).then((r) => {
      hugeDone = performance.now();
      return r;
    });
    await new Promise((r) => setTimeout(r, 100)); // the huge one is being served
    const t0 = performance.now();
    const [small] = await ner.detect(['Zhang Wei is our new manager.']);
    const smallDone = performance.now();
    const [bigSpans] = await big;
    expect(small!.map((s) => s.type)).toContain('PERSON');
    // before: the small one waited for all of the huge one (~1 s of model time per 125k chars and more)
    expect(hugeDone).toBeGreaterThan(smallDone);
    expect(smallDone - t0).toBeLessThan(5_000); // ~100 ms on a quiet machine; the huge one takes far longer
    // the huge text is still fully covered: names found all along it, offsets exact
    expect(bigSpans!.length).toBeGreaterThan(2000);
    for (const s of bigSpans!) expect(['Priya Raghunathan', 'Priya', 'Raghunathan']).toContain(huge.slice(s.start, s.end));
  }, 120_000);

  it('the queue is bounded: past maxQueuedChars a request is refused at once with 503 veil_detection_busy', async () => {
    const det = createNerDetector({ modelDir: MODEL, workers: 1, maxQueuedChars: 20_000 });
    try {
      await det.ready!();
      const first = det.detect([SENTENCE.repeat(1000)]); // 42k: admitted, alone
      const second = det.detect([SENTENCE.repeat(100)]).catch((e: unknown) => e);
      const err = await second;
      expect(isVeilError(err) && err.status === 503 && err.code === 'veil_detection_busy').toBe(true);
      expect((await first)[0]!.length).toBeGreaterThan(0);
      // once drained, requests are admitted again
      expect(await det.detect(['Zhang Wei is our new manager.'])).toHaveLength(1);
    } finally {
      await det.close!();
    }
  }, 120_000);

  it('an abort mid-way rejects with an AbortError (not veil_detection_unavailable) and drops its queued work', async () => {
    const ac = new AbortController();
    const p = ner.detect([SENTENCE.repeat(2000)], ac.signal).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    const err = (await p) as Error;
    expect(err.name).toBe('AbortError');
    expect(isVeilError(err)).toBe(false);
    // the worker is free again quickly: the dropped segments are not run
    const t0 = performance.now();
    await ner.detect(['Zhang Wei is our new manager.']);
    expect(performance.now() - t0).toBeLessThan(5_000);
  }, 60_000);
});

describe.skipIf(!HAVE_MODEL)('detection deadline over HTTP', () => {
  let up: FakeUpstream;
  const detector = createCompositeDetector([createPatternDetector(), createNerDetector({ modelDir: MODEL, workers: 1 })]);
  beforeAll(async () => {
    await detector.ready!();
    up = await startFakeUpstream();
  }, 60_000);
  afterAll(async () => {
    await up?.close();
    await detector.close?.();
  });

  it('detection past the deadline is a 503 veil_detection_timeout; nothing reaches the upstream', async () => {
    const gw = await startGateway(up.url, { detector, limits: { maxBodyBytes: 1024 * 1024, streamIdleTimeoutMs: 5_000, detectTimeoutMs: 300 } });
    try {
      const t0 = performance.now();
      const err = await gw
        .client()
        .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: SENTENCE.repeat(4000) }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
      expect((err as { error?: { code?: string } }).error?.code).toBe('veil_detection_timeout');
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(up.received).toHaveLength(0);
      // and the detector is free again for the next caller (through a gateway with the default deadline)
      const gw2 = await startGateway(up.url, { detector });
      const ok = await gw2
        .client().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Zhang Wei is our new manager.' }] });
      expect(ok.choices[0]!.message.content).toBe('You said: Zhang Wei is our new manager.');
      expect(up.allRaw()).not.toContain('Zhang Wei');
      await gw2.close();
    } finally {
      await gw.close();
    }
  }, 120_000);
});
