import { describe, expect, it } from 'vitest';
import { createCompositeDetector } from './composite.js';
import { createPatternDetector } from './patterns/index.js';
import type { Detector, Span } from './types.js';

/**
 * The composite only sees the Detector interface. Next to the real pattern detector these
 * tests use small in-test Detector implementations (a word-list "NER" detector, one that
 * fails) to drive the fan-out, threshold and fail-closed paths deterministically.
 */
function wordDetector(words: Record<string, [Span['type'], number]>, log: string[] = []): Detector {
  return {
    name: 'words',
    async detect(texts) {
      log.push('detect');
      return texts.map((t) => {
        const out: Span[] = [];
        for (const [w, [type, score]] of Object.entries(words)) {
          for (let i = t.indexOf(w); i !== -1; i = t.indexOf(w, i + 1)) out.push({ start: i, end: i + w.length, type, score, source: 'ner' });
        }
        return out.sort((a, b) => a.start - b.start);
      });
    },
    async ready() {
      log.push('ready');
    },
    async close() {
      log.push('close');
    },
  };
}

const failing = (msg = 'model crashed'): Detector => ({
  name: 'failing',
  detect: () => Promise.reject(new Error(msg)),
  ready: () => Promise.reject(new Error('not ready')),
  close: () => Promise.reject(new Error('close failed')),
});

describe('createCompositeDetector', () => {
  it('runs all detectors on the batch and merges per text', async () => {
    const d = createCompositeDetector([createPatternDetector(), wordDetector({ 'Jane Doe': ['PERSON', 0.95], jane: ['PERSON', 0.6] })]);
    const texts = ['Jane Doe <jane@example.com> SSN 123-45-6789', 'no pii', 'Jane Doe'];
    const r = await d.detect(texts);
    expect(r.map((spans, i) => spans.map((s) => [s.type, texts[i]!.slice(s.start, s.end), s.source]))).toEqual([
      [
        ['PERSON', 'Jane Doe', 'ner'],
        ['EMAIL', 'jane@example.com', 'pattern'], // the NER "jane" inside the email is dropped
        ['SSN', '123-45-6789', 'pattern'],
      ],
      [],
      [['PERSON', 'Jane Doe', 'ner']],
    ]);
  });

  it('drops spans under the per-type minimum score', async () => {
    const words = wordDetector({ Oslo: ['LOCATION', 0.4], Jane: ['PERSON', 0.4] });
    const d = createCompositeDetector([words], { minScore: { LOCATION: 0.5 } });
    const [spans] = await d.detect(['Jane in Oslo']);
    expect(spans).toEqual([{ start: 0, end: 4, type: 'PERSON', score: 0.4, source: 'ner' }]);
  });

  it('fails closed: rejects when any detector rejects', async () => {
    const d = createCompositeDetector([createPatternDetector(), failing()]);
    await expect(d.detect(['SSN 123-45-6789'])).rejects.toThrow('model crashed');
    await expect(d.ready!()).rejects.toThrow('not ready');
  });

  it('fails closed: rejects when a detector answers for the wrong number of texts', async () => {
    const short: Detector = { name: 'short', detect: async () => [[]] };
    const d = createCompositeDetector([createPatternDetector(), short]);
    await expect(d.detect(['a', 'b'])).rejects.toThrow('detector short returned 1 span lists for 2 texts');
  });

  it('starts all detectors before any finishes (parallel)', async () => {
    let releaseA!: () => void;
    const aWaits = new Promise<void>((r) => (releaseA = r));
    const order: string[] = [];
    const a: Detector = {
      name: 'a',
      async detect(texts) {
        order.push('a start');
        await aWaits; // only released by b, so a sequential composite would hang
        order.push('a end');
        return texts.map(() => []);
      },
    };
    const b: Detector = {
      name: 'b',
      async detect(texts) {
        order.push('b start');
        releaseA();
        return texts.map(() => []);
      },
    };
    await createCompositeDetector([a, b]).detect(['x']);
    expect(order).toEqual(['a start', 'b start', 'a end']);
  });

  it('rejects on an aborted signal', async () => {
    const ac = new AbortController();
    ac.abort(new Error('client left'));
    await expect(createCompositeDetector([createPatternDetector()]).detect(['x'], ac.signal)).rejects.toThrow('client left');
  });

  it('ready() and close() fan out; close() calls every detector even when one fails', async () => {
    const log1: string[] = [];
    const log2: string[] = [];
    const ok = createCompositeDetector([wordDetector({}, log1), createPatternDetector(), wordDetector({}, log2)]);
    await ok.ready!();
    await ok.close!();
    expect([log1, log2]).toEqual([['ready', 'close'], ['ready', 'close']]);
    const log3: string[] = [];
    const bad = createCompositeDetector([failing(), wordDetector({}, log3)]);
    await expect(bad.close!()).rejects.toThrow('close failed');
    expect(log3).toEqual(['close']);
  });
});
