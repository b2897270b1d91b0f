/**
 * The NER detector: a pool of worker threads, each holding the model once, fed by a fair
 * scheduler. Node-only. Pieces: ./request-queue.ts (segments, fair jobs, the bound, aborts),
 * ./worker-pool.ts (threads, restarts, close); this file gathers calls into jobs and wires them.
 *
 * - Each text is cut into overlapping segments of ≈2,000 characters (src/detect/ner/segment.ts).
 *   A worker job takes segments round-robin from every waiting request (≤ `maxBatch` segments,
 *   ≤ `jobChars` characters), so a small request waits for at most one job per worker, never
 *   behind all of a huge one, and one huge text is spread over every worker.
 * - A call that finds a worker idle is dispatched at once. Calls that arrive while every worker
 *   is busy are gathered for ≤ `batchWindowMs` (2 ms) or until `maxBatch` segments are waiting.
 * - The queue is bounded (`maxQueuedChars` of not-yet-started segments): beyond it detect()
 *   rejects at once with 503 `veil_detection_busy`. A request alone in the queue is always
 *   admitted, so a body of the largest allowed size still passes.
 * - An aborted signal (client gone, deadline passed) rejects with an AbortError (or the
 *   signal's reason) and drops the request's queued segments.
 * - A worker failure (crash, OOM, exit, inference error) rejects the affected detect() calls
 *   with `veil_detection_unavailable` (the gateway fails closed) and the worker is restarted.
 * - close() lets in-flight jobs finish (≤ `closeTimeoutMs`), asks each worker to release its
 *   ONNX session and exit, and terminates only a worker that does not.
 */
import { availableParallelism } from 'node:os';
import { abortError, detectionBusy, detectionUnavailable } from '../../../core/errors.js';
import { type EntityType, type Logger, silentLogger } from '../../../core/types.js';
import {
  DEFAULT_LABEL_MAP,
  DEFAULT_SEGMENT_CHARS,
  DEFAULT_SEGMENT_OVERLAP,
  type LabelMap,
  type MinScore,
  parseLabelMap,
} from '../../../detect/ner/index.js';
import type { Detector } from '../../../detect/types.js';
import { locateModel } from './model.js';
import { createRequestQueue, type JobItem, plan } from './request-queue.js';
import { createWorkerPool } from './worker-pool.js';

/**
 * The worker's entry: compiled (dist/, `npm start`) it is the emitted worker.js, loaded by plain
 * Node; from source (tsx, vitest) the bootstrap that registers tsx in the thread first.
 */
export const WORKER_ENTRY = import.meta.url.endsWith('.js') ? new URL('./worker.js', import.meta.url) : new URL('./worker-bootstrap.mjs', import.meta.url);

export { NerModelError, NerRuntime, locateModel } from './model.js';

export interface NerDetectorOptions {
  /** Model directory, e.g. `models/veil-ner` (VEIL_NER_MODEL). */
  readonly modelDir: string;
  /** Worker threads (VEIL_NER_WORKERS), each with one intra-op thread; default 1. */
  readonly workers?: number;
  /** Model entity name → Veil type (VEIL_NER_LABEL_MAP merged over the defaults). */
  readonly labelMap?: Record<string, EntityType | null>;
  /** Minimum entity score, global or per type (VEIL_NER_MIN_SCORE); default 0.5. */
  readonly minScore?: number | Partial<Record<EntityType, number>>;
  /** Most segments per worker job and most sequences per model call; default 16. */
  readonly maxBatch?: number;
  /** Most characters per worker job (default 8,000: ≈ 60 ms of one core). */
  readonly jobChars?: number;
  /** Segment length and overlap in characters (default 2,000 / 200). */
  readonly segmentChars?: number;
  readonly segmentOverlap?: number;
  /** Most characters of queued (not yet started) segments (VEIL_NER_MAX_QUEUED_CHARS); default 4,000,000. */
  readonly maxQueuedChars?: number;
  /** How long to gather concurrent requests; default 2 ms. */
  readonly batchWindowMs?: number;
  /** Content tokens per model window (default 254) and window overlap (default 32). */
  readonly windowTokens?: number;
  readonly overlap?: number;
  /** How long close() waits for in-flight jobs before terminating workers; default 5 s. */
  readonly closeTimeoutMs?: number;
  readonly logger?: Logger;
}

/** Default worker count: one per core the process may use, at most 8 (each holds the model, ~300 MB). */
export function defaultNerWorkers(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

/**
 * The detector. `workerEntry` is the worker script, {@link WORKER_ENTRY} unless a test runs a
 * stand-in that wraps it (test/helpers/ner-crash-worker.mjs: a worker that dies on cue).
 */
export function createNerDetector(opts: NerDetectorOptions, workerEntry: URL = WORKER_ENTRY): Detector {
  const log = opts.logger ?? silentLogger;
  const maxBatch = Math.max(1, opts.maxBatch ?? 16);
  const segChars = Math.max(64, opts.segmentChars ?? DEFAULT_SEGMENT_CHARS);
  const segOverlap = Math.max(0, opts.segmentOverlap ?? DEFAULT_SEGMENT_OVERLAP);
  const windowMs = opts.batchWindowMs ?? 2;
  const labelMap: LabelMap = opts.labelMap ? { ...DEFAULT_LABEL_MAP, ...upper(opts.labelMap) } : DEFAULT_LABEL_MAP;
  const minScore: MinScore = opts.minScore ?? 0.5;
  const workerData = {
    modelDir: opts.modelDir,
    labelMap,
    minScore,
    maxBatch,
    threads: 1,
    ...(opts.windowTokens !== undefined ? { windowTokens: opts.windowTokens } : {}),
    ...(opts.overlap !== undefined ? { overlap: opts.overlap } : {}),
  };

  const queue = createRequestQueue({
    maxBatch,
    jobChars: Math.max(1, opts.jobChars ?? 8_000),
    maxQueuedChars: Math.max(1, opts.maxQueuedChars ?? 4_000_000),
  });
  const pool = createWorkerPool<JobItem>(
    {
      entry: workerEntry,
      workerData,
      size: Math.max(1, opts.workers ?? 1),
      modelDir: opts.modelDir,
      closeTimeoutMs: opts.closeTimeoutMs ?? 5_000,
      log,
    },
    {
      onFree: () => pump(),
      onResult: (items, spans) => items.forEach((it, k) => queue.deliver(it, spans[k] ?? [])),
      onJobFailed: (items, err) => queue.fail(items, () => detectionUnavailable(err)),
      onFatal: (err) => queue.failAll(() => detectionUnavailable(err)),
    },
  );
  let closed = false;
  /** the micro-batching window: while set, jobs wait for more calls to gather */
  let timer: ReturnType<typeof setTimeout> | null = null;

  // Fail fast on a missing model, before any thread starts.
  let located: Error | null = null;
  try {
    locateModel(opts.modelDir);
  } catch (e) {
    located = e as Error;
  }

  function pump(): void {
    if (timer) return;
    pool.dispatch(
      () => (queue.queuedUnits === 0 ? null : queue.takeJob()),
      (items) => items.map((it) => queue.textOf(it)),
    );
  }

  /**
   * Dispatches at once when a full job is waiting or a worker is idle (nothing to gather with: a
   * lone request never pays the window), else after the gathering window; calls that arrive
   * while every worker is busy gather in the queue anyway.
   */
  function schedule(): void {
    if (queue.queuedUnits >= maxBatch || pool.hasIdle) {
      if (timer) clearTimeout(timer);
      timer = null;
      pump();
      return;
    }
    if (!timer) {
      timer = setTimeout(() => {
        timer = null;
        pump();
      }, windowMs);
    }
  }

  function ensureStarted(): void {
    if (!located) pool.start();
  }

  return {
    name: 'ner',
    async ready() {
      if (located) throw located;
      ensureStarted();
      if (pool.fatal) throw pool.fatal;
      await pool.ready();
    },
    detect(texts, signal) {
      if (closed) return Promise.reject(detectionUnavailable(new Error('NER detector is closed')));
      if (located) return Promise.reject(detectionUnavailable(located));
      if (pool.fatal) return Promise.reject(detectionUnavailable(pool.fatal));
      if (signal?.aborted) return Promise.reject(abortError(signal));
      if (texts.length === 0) return Promise.resolve([]);
      const request = plan(texts, segChars, segOverlap);
      if (request.units.length === 0) return Promise.resolve(texts.map(() => []));
      // bounded queue: a request that would overflow it is refused at once (one alone is admitted)
      if (!queue.admits(request.chars)) {
        log.warn('ner queue full', { queuedChars: queue.queuedChars, requestChars: request.chars });
        return Promise.reject(detectionBusy());
      }
      ensureStarted();
      const answer = queue.add(request, signal);
      schedule();
      return answer;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      queue.failAll(() => detectionUnavailable(new Error('NER detector closed')));
      await pool.close((items) => queue.fail(items, () => detectionUnavailable(new Error('NER detector closed'))));
    },
  };
}

function upper(m: Record<string, EntityType | null>): Record<string, EntityType | null> {
  const out: Record<string, EntityType | null> = {};
  for (const [k, v] of Object.entries(m)) out[k.toUpperCase()] = v;
  return out;
}

/** Builds the detector from the validated configuration (VEIL_NER_* variables). */
export function nerDetectorFromConfig(
  config: {
    VEIL_NER_MODEL: string;
    VEIL_NER_LABEL_MAP?: string | undefined;
    VEIL_NER_WORKERS?: number | undefined;
    VEIL_NER_MIN_SCORE: number;
    VEIL_NER_MAX_QUEUED_CHARS?: number | undefined;
  },
  logger?: Logger,
): Detector {
  return createNerDetector({
    modelDir: config.VEIL_NER_MODEL,
    workers: config.VEIL_NER_WORKERS ?? defaultNerWorkers(),
    ...(config.VEIL_NER_MAX_QUEUED_CHARS !== undefined ? { maxQueuedChars: config.VEIL_NER_MAX_QUEUED_CHARS } : {}),
    labelMap: { ...parseLabelMap(config.VEIL_NER_LABEL_MAP) },
    minScore: config.VEIL_NER_MIN_SCORE,
    ...(logger ? { logger } : {}),
  });
}
