/**
 * The NER detector: a pool of worker threads, each holding the model once, fed by a
 * micro-batching queue. Node-only.
 *
 * - Concurrent detect() calls are gathered for ≤ `batchWindowMs` (2 ms) or until `maxBatch`
 *   texts are waiting, then sent to an idle worker as one job.
 * - A worker failure (crash, OOM, exit, inference error) rejects the affected detect() calls
 *   with `veil_detection_unavailable` (the gateway fails closed) and the worker is restarted.
 */
import { Worker } from 'node:worker_threads';
import { detectionUnavailable } from '../../core/errors.js';
import { type EntityType, type Logger, silentLogger } from '../../core/types.js';
import { DEFAULT_LABEL_MAP, type LabelMap, type MinScore, parseLabelMap } from '../../detect/ner/index.js';
import type { Detector, Span } from '../../detect/types.js';
import { NerModelError, locateModel } from './model.node.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

export { NerModelError, NerRuntime, locateModel } from './model.node.js';

export interface NerDetectorOptions {
  /** Model directory, e.g. `models/veil-ner` (VEIL_NER_MODEL). */
  readonly modelDir: string;
  /** Worker threads (VEIL_NER_WORKERS), each with one intra-op thread; default 1. */
  readonly workers?: number;
  /** Model entity name → Veil type (VEIL_NER_LABEL_MAP merged over the defaults). */
  readonly labelMap?: Record<string, EntityType | null>;
  /** Minimum entity score, global or per type (VEIL_NER_MIN_SCORE); default 0.5. */
  readonly minScore?: number | Partial<Record<EntityType, number>>;
  /** Most texts per worker job and most sequences per model call; default 16. */
  readonly maxBatch?: number;
  /** How long to gather concurrent requests; default 2 ms. */
  readonly batchWindowMs?: number;
  /** Content tokens per model window (default 254) and window overlap (default 32). */
  readonly windowTokens?: number;
  readonly overlap?: number;
  readonly logger?: Logger;
  /** Test hook: a worker receiving this exact text exits (to test fail-closed + restart). */
  readonly crashOnTextForTests?: string;
}

interface Pending {
  texts: readonly string[];
  resolve: (spans: Span[][]) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  settled: boolean;
}

interface Slot {
  index: number;
  worker: Worker | null;
  ready: Promise<void>;
  isReady: boolean;
  busy: { id: number; items: Pending[] } | null;
  generation: number;
}

const abortError = () => {
  const e = new Error('The operation was aborted.');
  e.name = 'AbortError';
  return e;
};

export function createNerDetector(opts: NerDetectorOptions): Detector {
  const log = opts.logger ?? silentLogger;
  const nWorkers = Math.max(1, opts.workers ?? 1);
  const maxBatch = Math.max(1, opts.maxBatch ?? 16);
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
    ...(opts.crashOnTextForTests !== undefined ? { crashOnText: opts.crashOnTextForTests } : {}),
  };

  let closed = false;
  let nextId = 1;
  const queue: Pending[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  let fatal: Error | null = null;

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
    const w = new Worker(new URL('./worker-bootstrap.mjs', import.meta.url), { workerData });
    slot.worker = w;
    slot.isReady = false;
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
            let off = 0;
            for (const p of job.items) {
              const part = m.spans.slice(off, off + p.texts.length);
              off += p.texts.length;
              settle(p, null, part);
            }
          } else {
            // the error's name only: a runtime's message could quote its input
            log.error('ner inference failed', { worker: slot.index, error: m.message.split(':')[0] });
            for (const p of job.items) settle(p, detectionUnavailable(new Error(m.message)));
          }
          pump();
        }
      });
      const onDeath = (why: string, err?: unknown) => {
        if (slot.generation !== gen) return;
        slot.worker = null;
        slot.isReady = false;
        const job = slot.busy;
        slot.busy = null;
        if (job) for (const p of job.items) settle(p, detectionUnavailable(err ?? new Error(`NER worker ${why}`)));
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

  function settle(p: Pending, err: unknown, spans?: Span[][]): void {
    if (p.settled) return;
    p.settled = true;
    if (p.signal && p.onAbort) p.signal.removeEventListener('abort', p.onAbort);
    if (err) p.reject(err);
    else p.resolve(spans!);
  }

  function failAll(e: unknown): void {
    while (queue.length) settle(queue.shift()!, detectionUnavailable(e));
  }

  function pump(): void {
    if (timer) return;
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (!slot.isReady || slot.busy || !slot.worker) continue;
      const items: Pending[] = [];
      let count = 0;
      while (queue.length && (items.length === 0 || count + queue[0]!.texts.length <= maxBatch)) {
        const p = queue.shift()!;
        if (p.settled) continue;
        items.push(p);
        count += p.texts.length;
      }
      if (items.length === 0) continue;
      const id = nextId++;
      slot.busy = { id, items };
      const texts: string[] = [];
      for (const p of items) texts.push(...p.texts);
      const msg: WorkerRequest = { type: 'detect', id, texts };
      slot.worker.postMessage(msg);
    }
  }

  function schedule(): void {
    const waiting = queue.reduce((n, p) => n + p.texts.length, 0);
    if (waiting >= maxBatch) {
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
      const slot: Slot = { index: i, worker: null, ready: Promise.resolve(), isReady: false, busy: null, generation: 0 };
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
      if (signal?.aborted) return Promise.reject(abortError());
      if (texts.length === 0) return Promise.resolve([]);
      ensureStarted();
      return new Promise<Span[][]>((resolve, reject) => {
        const p: Pending = { texts, resolve, reject, settled: false };
        if (signal) {
          p.signal = signal;
          p.onAbort = () => settle(p, abortError());
          signal.addEventListener('abort', p.onAbort, { once: true });
        }
        queue.push(p);
        schedule();
      });
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      failAll(new Error('NER detector closed'));
      await Promise.all(
        slots.map(async (s) => {
          const w = s.worker;
          s.generation++;
          s.worker = null;
          if (s.busy) for (const p of s.busy.items) settle(p, detectionUnavailable(new Error('NER detector closed')));
          s.busy = null;
          if (w) await w.terminate();
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
  config: { VEIL_NER_MODEL: string; VEIL_NER_LABEL_MAP?: string | undefined; VEIL_NER_WORKERS: number; VEIL_NER_MIN_SCORE: number },
  logger?: Logger,
): Detector {
  return createNerDetector({
    modelDir: config.VEIL_NER_MODEL,
    workers: config.VEIL_NER_WORKERS,
    labelMap: { ...parseLabelMap(config.VEIL_NER_LABEL_MAP) },
    minScore: config.VEIL_NER_MIN_SCORE,
    ...(logger ? { logger } : {}),
  });
}
