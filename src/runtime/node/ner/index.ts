/**
 * The NER detector: a pool of worker threads, each holding the model once, fed by a fair
 * scheduler. Node-only.
 *
 * - Each text is cut into overlapping segments of ≈2,000 characters (src/detect/ner/segment.ts).
 *   A worker job takes segments round-robin from every waiting request (≤ `maxBatch` segments,
 *   ≤ `jobChars` characters), so a small request waits for at most one job per worker, never
 *   behind all of a huge one, and one huge text is spread over every worker.
 * - Concurrent detect() calls are gathered for ≤ `batchWindowMs` (2 ms) or until `maxBatch`
 *   segments are waiting.
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
import { Worker } from 'node:worker_threads';
import { abortError, detectionBusy, detectionUnavailable } from '../../../core/errors.js';
import { type EntityType, type Logger, silentLogger } from '../../../core/types.js';
import {
  DEFAULT_LABEL_MAP,
  DEFAULT_SEGMENT_CHARS,
  DEFAULT_SEGMENT_OVERLAP,
  joinSegmentSpans,
  type LabelMap,
  type MinScore,
  parseLabelMap,
  type Segment,
  segmentText,
} from '../../../detect/ner/index.js';
import type { Detector, Span } from '../../../detect/types.js';
import { NerModelError, locateModel } from './model.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

/**
 * The worker's entry: compiled (dist/, `npm start`) it is the emitted worker.js, loaded by plain
 * Node; from source (tsx, vitest) the bootstrap that registers tsx in the thread first.
 */
const WORKER_ENTRY = import.meta.url.endsWith('.js') ? new URL('./worker.js', import.meta.url) : new URL('./worker-bootstrap.mjs', import.meta.url);

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

/** Hooks for tests only; never built from configuration. */
export interface NerTestHooks {
  /** A worker receiving this exact text (segment) exits (to test fail-closed + restart). */
  readonly crashOnText?: string;
}

/** One detect() call: its segments, their results, and where the scheduler is in it. */
interface Pending {
  readonly texts: readonly string[];
  /** per text, its segments */
  readonly segments: Segment[][];
  /** flat list of (text, segment) in scheduling order */
  readonly units: { text: number; seg: number; chars: number }[];
  /** next unit to hand to a worker */
  next: number;
  /** units not yet answered */
  remaining: number;
  /** per text, per segment: spans (relative to the segment) */
  readonly results: Span[][][];
  /** characters of units not yet handed out */
  queuedChars: number;
  resolve: (spans: Span[][]) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  settled: boolean;
}

interface JobItem {
  readonly p: Pending;
  readonly unit: number;
}

interface Slot {
  index: number;
  worker: Worker | null;
  ready: Promise<void>;
  isReady: boolean;
  busy: { id: number; items: JobItem[] } | null;
  generation: number;
  /** resolves when the worker exits (set while it runs) */
  exited: Promise<void>;
}


/** Default worker count: one per core the process may use, at most 8 (each holds the model, ~300 MB). */
export function defaultNerWorkers(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

export function createNerDetector(opts: NerDetectorOptions, testHooks: NerTestHooks = {}): Detector {
  const log = opts.logger ?? silentLogger;
  const nWorkers = Math.max(1, opts.workers ?? 1);
  const maxBatch = Math.max(1, opts.maxBatch ?? 16);
  const jobChars = Math.max(1, opts.jobChars ?? 8_000);
  const segChars = Math.max(64, opts.segmentChars ?? DEFAULT_SEGMENT_CHARS);
  const segOverlap = Math.max(0, opts.segmentOverlap ?? DEFAULT_SEGMENT_OVERLAP);
  const maxQueuedChars = Math.max(1, opts.maxQueuedChars ?? 4_000_000);
  const windowMs = opts.batchWindowMs ?? 2;
  const closeTimeoutMs = opts.closeTimeoutMs ?? 5_000;
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
    ...(testHooks.crashOnText !== undefined ? { crashOnText: testHooks.crashOnText } : {}),
  };

  let closed = false;
  let nextId = 1;
  /** requests with units not yet handed out, in arrival order; served round-robin */
  let active: Pending[] = [];
  let rr = 0;
  let queuedChars = 0;
  let queuedUnits = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let fatal: Error | null = null;
  /** resolves when no job is in flight (for close()) */
  let idleWaiters: (() => void)[] = [];

  // Fail fast on a missing model, before any thread starts.
  let located: Error | null = null;
  try {
    locateModel(opts.modelDir);
  } catch (e) {
    located = e as Error;
  }

  const slots: Slot[] = [];

  function start(slot: Slot): void {
    const gen = ++slot.generation;
    const t0 = performance.now();
    const w = new Worker(WORKER_ENTRY, { workerData });
    slot.worker = w;
    slot.isReady = false;
    slot.exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    slot.ready = new Promise<void>((resolve, reject) => {
      let loaded = false;
      w.on('message', (m: WorkerReply) => {
        if (slot.generation !== gen) return;
        if (m.type === 'ready') {
          loaded = true;
          slot.isReady = true;
          log.info('ner model loaded', { worker: slot.index, loadMs: Math.round(m.loadMs), startMs: Math.round(performance.now() - t0), version: m.version });
          resolve();
          pump();
        } else if (m.type === 'load-error') {
          fatal = new NerModelError(m.message);
          reject(fatal);
          failAll(fatal);
        } else if (m.type === 'result' || m.type === 'error') {
          const job = slot.busy;
          if (!job || job.id !== m.id) return;
          slot.busy = null;
          if (m.type === 'result') {
            job.items.forEach((it, k) => deliver(it, m.spans[k] ?? []));
          } else {
            // the error's name only: a runtime's message could quote its input
            log.error('ner inference failed', { worker: slot.index, error: m.message.split(':')[0] });
            for (const it of job.items) settle(it.p, detectionUnavailable(new Error(m.message)));
          }
          jobDone();
        }
      });
      const onDeath = (why: string, err?: unknown) => {
        if (slot.generation !== gen) return;
        slot.worker = null;
        slot.isReady = false;
        const job = slot.busy;
        slot.busy = null;
        if (job) for (const it of job.items) settle(it.p, detectionUnavailable(err ?? new Error(`NER worker ${why}`)));
        if (job) jobDone();
        if (!loaded) {
          const e = fatal ?? new NerModelError(`NER worker ${slot.index} ${why} while loading the model at ${opts.modelDir}`);
          reject(e);
          if (!fatal) fatal = e;
          failAll(e);
          return;
        }
        if (closed) return;
        log.warn('ner worker died; restarting', { worker: slot.index, reason: why });
        start(slot);
        slot.ready.catch(() => {});
      };
      w.on('error', (err) => onDeath('failed', err));
      w.on('exit', (code) => onDeath(`exited with code ${code}`));
    });
    slot.ready.catch(() => {});
  }

  function jobDone(): void {
    if (slots.every((s) => !s.busy)) {
      const ws = idleWaiters;
      idleWaiters = [];
      for (const f of ws) f();
    }
    pump();
  }

  function deliver(it: JobItem, spans: Span[]): void {
    const p = it.p;
    if (p.settled) return;
    const u = p.units[it.unit]!;
    p.results[u.text]![u.seg] = spans;
    if (--p.remaining > 0) return;
    // every segment answered: put each text back together (linear)
    settle(p, null, p.texts.map((_, t) => joinSegmentSpans(p.segments[t]!, p.results[t]!)));
  }

  /** Removes what is still queued of `p` from the scheduler's counts. */
  function dequeue(p: Pending): void {
    queuedChars -= p.queuedChars;
    queuedUnits -= p.units.length - p.next;
    p.queuedChars = 0;
    p.next = p.units.length;
  }

  function settle(p: Pending, err: unknown, spans?: Span[][]): void {
    if (p.settled) return;
    p.settled = true;
    dequeue(p);
    if (p.signal && p.onAbort) p.signal.removeEventListener('abort', p.onAbort);
    if (err) p.reject(err);
    else p.resolve(spans!);
  }

  function failAll(e: unknown): void {
    for (const p of active) settle(p, detectionUnavailable(e));
    active = [];
  }

  /** The next job: one unit from each waiting request in turn, within the job's limits. */
  function takeJob(): JobItem[] {
    const items: JobItem[] = [];
    let chars = 0;
    while (items.length < maxBatch && active.length > 0) {
      if (rr >= active.length) rr = 0;
      const p = active[rr]!;
      if (p.settled || p.next >= p.units.length) {
        active.splice(rr, 1);
        continue;
      }
      const u = p.units[p.next]!;
      if (items.length > 0 && chars + u.chars > jobChars) break;
      items.push({ p, unit: p.next });
      p.next++;
      p.queuedChars -= u.chars;
      queuedChars -= u.chars;
      queuedUnits--;
      chars += u.chars;
      rr++;
    }
    return items;
  }

  function pump(): void {
    if (timer) return;
    for (const slot of slots) {
      if (queuedUnits === 0) return;
      if (!slot.isReady || slot.busy || !slot.worker) continue;
      const items = takeJob();
      if (items.length === 0) continue;
      const id = nextId++;
      slot.busy = { id, items };
      const texts = items.map(({ p, unit }) => {
        const u = p.units[unit]!;
        const seg = p.segments[u.text]![u.seg]!;
        const text = p.texts[u.text]!;
        return seg.start === 0 && seg.end === text.length ? text : text.slice(seg.start, seg.end);
      });
      const msg: WorkerRequest = { type: 'detect', id, texts };
      slot.worker.postMessage(msg);
    }
  }

  function schedule(): void {
    if (queuedUnits >= maxBatch) {
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
    if (slots.length > 0 || located) return;
    for (let i = 0; i < nWorkers; i++) {
      const slot: Slot = { index: i, worker: null, ready: Promise.resolve(), isReady: false, busy: null, generation: 0, exited: Promise.resolve() };
      slots.push(slot);
      start(slot);
    }
  }

  return {
    name: 'ner',
    async ready() {
      if (located) throw located;
      ensureStarted();
      if (fatal) throw fatal;
      await Promise.all(slots.map((s) => s.ready));
    },
    detect(texts, signal) {
      if (closed) return Promise.reject(detectionUnavailable(new Error('NER detector is closed')));
      if (located) return Promise.reject(detectionUnavailable(located));
      if (fatal) return Promise.reject(detectionUnavailable(fatal));
      if (signal?.aborted) return Promise.reject(abortError(signal));
      if (texts.length === 0) return Promise.resolve([]);
      const segments = texts.map((t) => (t.length === 0 ? [] : segmentText(t, segChars, segOverlap)));
      const units: Pending['units'] = [];
      let chars = 0;
      segments.forEach((segs, t) =>
        segs.forEach((s, k) => {
          units.push({ text: t, seg: k, chars: s.end - s.start });
          chars += s.end - s.start;
        }),
      );
      if (units.length === 0) return Promise.resolve(texts.map(() => []));
      // bounded queue: a request that would overflow it is refused at once (one alone is admitted)
      if (queuedChars > 0 && queuedChars + chars > maxQueuedChars) {
        log.warn('ner queue full', { queuedChars, requestChars: chars });
        return Promise.reject(detectionBusy());
      }
      ensureStarted();
      return new Promise<Span[][]>((resolve, reject) => {
        const p: Pending = {
          texts,
          segments,
          units,
          next: 0,
          remaining: units.length,
          results: segments.map((segs) => segs.map(() => [])),
          queuedChars: chars,
          resolve,
          reject,
          settled: false,
        };
        queuedChars += chars;
        queuedUnits += units.length;
        if (signal) {
          p.signal = signal;
          p.onAbort = () => settle(p, abortError(signal));
          signal.addEventListener('abort', p.onAbort, { once: true });
        }
        active.push(p);
        schedule();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      failAll(new Error('NER detector closed'));
      // in-flight jobs finish (their callers get their answers), bounded
      if (slots.some((s) => s.busy)) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, closeTimeoutMs);
          idleWaiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      await Promise.all(
        slots.map(async (s) => {
          const w = s.worker;
          if (!w) return;
          const exited = s.exited;
          if (s.busy) for (const it of s.busy.items) settle(it.p, detectionUnavailable(new Error('NER detector closed')));
          s.busy = null;
          // ask the worker to release its ONNX session and leave; terminating a thread inside
          // native code is what crashed the process on SIGTERM
          const msg: WorkerRequest = { type: 'close' };
          w.postMessage(msg);
          const left = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), closeTimeoutMs).unref())]);
          s.generation++;
          s.worker = null;
          if (!left) await w.terminate();
        }),
      );
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
