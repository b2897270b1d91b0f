/**
 * `withNamePasses(detector)`: the request-level name passes (refine.ts) on top of a detector.
 * `detect(texts)` gets every text of one request (sanitizeRequest batches all slots), so a name
 * found in one message is masked in every other one. Same contract as any Detector: sorted,
 * non-overlapping spans per text; rejects when the inner detector rejects or `signal` aborts.
 * Large texts are handled in segments of at most 32 K characters with an event-loop turn
 * between them, so a big request never freezes the gateway. Pure; Workers-safe.
 */
import { abortError } from '../../core/errors.js';
import type { Detector } from '../types.js';
import { refineNames, refineNamesAsync } from './refine.js';

export { refineNames, refineNamesAsync } from './refine.js';

export function withNamePasses(inner: Detector): Detector {
  return {
    name: `names(${inner.name})`,
    async detect(texts, signal) {
      const spans = await inner.detect(texts, signal);
      if (signal?.aborted) throw abortError(signal);
      // gives the event loop a turn between segments of large texts
      return refineNamesAsync(texts, spans, signal);
    },
    async ready() {
      await inner.ready?.();
      refineNames(['Warm-up: Ann Lee'], [[]]); // decode the word lists now, not on the first request
    },
    async close() {
      await inner.close?.();
    },
  };
}
