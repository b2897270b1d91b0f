import { abortError } from '../core/errors.js';
import type { EntityType } from '../core/types.js';
import { resolveSpans } from './resolve.js';
import type { Detector, Span } from './types.js';

export interface CompositeOptions {
  /** Spans of a type scoring below its threshold are dropped before resolving (default: none). */
  readonly minScore?: Partial<Record<EntityType, number>>;
}

/**
 * Runs every detector on the same batch in parallel, drops spans under the per-type score
 * threshold and resolves the rest with {@link resolveSpans} (the one overlap rule). Fails
 * closed: if any detector rejects, or answers with the wrong number of span lists, the
 * composite rejects and no partial result is returned. `ready()` and `close()` fan out to
 * every detector.
 */
export function createCompositeDetector(detectors: readonly Detector[], opts: CompositeOptions = {}): Detector {
  const minScore = opts.minScore ?? {};
  const all = [...detectors];
  return {
    name: `composite(${all.map((d) => d.name).join(',')})`,
    async detect(texts, signal) {
      if (signal?.aborted) throw abortError(signal);
      const results = await Promise.all(all.map((d) => d.detect(texts, signal)));
      results.forEach((r, i) => {
        if (!Array.isArray(r) || r.length !== texts.length) {
          throw new Error(`detector ${all[i]!.name} returned ${Array.isArray(r) ? r.length : 'no'} span lists for ${texts.length} texts`);
        }
      });
      if (signal?.aborted) throw abortError(signal);
      return texts.map((text, t) => {
        const all: Span[] = results.flatMap((r) => r[t]!.filter((s) => s.score >= (minScore[s.type] ?? 0)));
        return resolveSpans(text, all);
      });
    },
    async ready() {
      await Promise.all(all.map((d) => d.ready?.()));
    },
    async close() {
      const rs = await Promise.allSettled(all.map((d) => d.close?.()));
      const failed = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
