/**
 * The NER detector's worker threads: `size` slots, each running one worker (./worker.ts, the
 * model loaded once) with at most one job at a time. Node-only.
 *
 * - A worker that dies after loading (crash, OOM, exit, thread error) fails its job through
 *   `onJobFailed` and is restarted in the same slot; an inference error fails the job and keeps
 *   the worker. Replies of an older generation of a slot are ignored.
 * - A worker that fails while loading the model (or reports `load-error`) is fatal: `ready()`
 *   rejects and `onFatal` is called; the slot is not restarted.
 * - `close` lets in-flight jobs finish (≤ `closeTimeoutMs`), hands what is still running to
 *   `onAbandoned`, asks each worker to release its ONNX session and exit, and terminates only a
 *   worker that does not.
 * Job items are opaque here (`T`); the caller says which texts a job runs.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../../core/types.js';
import type { Span } from '../../../detect/types.js';
import { NerModelError } from './model.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

export interface WorkerPoolOptions {
  /** The worker script (./worker.js compiled, ./worker-bootstrap.mjs from source). */
  readonly entry: URL;
  readonly workerData: unknown;
  readonly size: number;
  /** For messages only. */
  readonly modelDir: string;
  readonly closeTimeoutMs: number;
  readonly log: Logger;
}

export interface WorkerPoolEvents<T> {
  /** A worker became free (loaded, or done with a job): more work may be dispatched. */
  onFree(): void;
  onResult(items: readonly T[], spans: Span[][]): void;
  onJobFailed(items: readonly T[], err: unknown): void;
  onFatal(err: Error): void;
}

export interface WorkerPool<T> {
  /** The error that ended loading, if any (no worker serves after it). */
  readonly fatal: Error | null;
  /** Starts the workers (once). */
  start(): void;
  /** Resolves when every worker has loaded the model; rejects with the fatal error. */
  ready(): Promise<void>;
  /**
   * Offers each free worker a job: `next()` returns its items (empty: skip this worker) or null
   * (nothing left: stop); `texts` says what the worker runs.
   */
  dispatch(next: () => T[] | null, texts: (items: readonly T[]) => string[]): void;
  /** True when a loaded worker has no job: a dispatch now would start work at once. */
  readonly hasIdle: boolean;
  close(onAbandoned: (items: readonly T[]) => void): Promise<void>;
}

interface Slot<T> {
  index: number;
  worker: Worker | null;
  ready: Promise<void>;
  isReady: boolean;
  busy: { id: number; items: T[] } | null;
  generation: number;
  /** resolves when the worker exits (set while it runs) */
  exited: Promise<void>;
}

export function createWorkerPool<T>(opts: WorkerPoolOptions, events: WorkerPoolEvents<T>): WorkerPool<T> {
  const { log } = opts;
  const slots: Slot<T>[] = [];
  let closed = false;
  let fatal: Error | null = null;
  let nextId = 1;
  /** resolve when no job is in flight (for close()) */
  let idleWaiters: (() => void)[] = [];

  function jobDone(): void {
    if (slots.every((s) => !s.busy)) {
      const ws = idleWaiters;
      idleWaiters = [];
      for (const f of ws) f();
    }
    events.onFree();
  }

  function onReply(slot: Slot<T>, m: WorkerReply): void {
    if (m.type !== 'result' && m.type !== 'error') return;
    const job = slot.busy;
    if (!job || job.id !== m.id) return;
    slot.busy = null;
    if (m.type === 'result') events.onResult(job.items, m.spans);
    else {
      // the error's name only: a runtime's message could quote its input
      log.error('ner inference failed', { worker: slot.index, error: m.message.split(':')[0] });
      events.onJobFailed(job.items, new Error(m.message));
    }
    jobDone();
  }

  function start(slot: Slot<T>): void {
    const gen = ++slot.generation;
    const t0 = performance.now();
    const w = new Worker(opts.entry, { workerData: opts.workerData });
    slot.worker = w;
    slot.isReady = false;
    slot.exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    slot.ready = new Promise<void>((resolve, reject) => {
      let loaded = false;
      const fail = (e: Error) => {
        reject(e);
        events.onFatal(e);
      };
      w.on('message', (m: WorkerReply) => {
        if (slot.generation !== gen) return;
        if (m.type === 'ready') {
          loaded = true;
          slot.isReady = true;
          log.info('ner model loaded', { worker: slot.index, loadMs: Math.round(m.loadMs), startMs: Math.round(performance.now() - t0), version: m.version });
          resolve();
          events.onFree();
        } else if (m.type === 'load-error') {
          fatal = new NerModelError(m.message);
          fail(fatal);
        } else onReply(slot, m);
      });
      const onDeath = (why: string, err?: unknown) => {
        if (slot.generation !== gen) return;
        slot.worker = null;
        slot.isReady = false;
        const job = slot.busy;
        slot.busy = null;
        if (job) {
          events.onJobFailed(job.items, err ?? new Error(`NER worker ${why}`));
          jobDone();
        }
        if (!loaded) {
          const e = fatal ?? new NerModelError(`NER worker ${slot.index} ${why} while loading the model at ${opts.modelDir}`);
          if (!fatal) fatal = e;
          fail(e);
          return;
        }
        if (closed) return;
        log.warn('ner worker died; restarting', { worker: slot.index, reason: why });
        start(slot);
      };
      w.on('error', (err) => onDeath('failed', err));
      w.on('exit', (code) => onDeath(`exited with code ${code}`));
    });
    slot.ready.catch(() => {});
  }

  async function stop(slot: Slot<T>, onAbandoned: (items: readonly T[]) => void): Promise<void> {
    const w = slot.worker;
    if (!w) return;
    const exited = slot.exited;
    if (slot.busy) onAbandoned(slot.busy.items);
    slot.busy = null;
    // ask the worker to release its ONNX session and leave; terminating a thread inside
    // native code is what crashed the process on SIGTERM
    const msg: WorkerRequest = { type: 'close' };
    w.postMessage(msg);
    const left = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), opts.closeTimeoutMs).unref())]);
    slot.generation++;
    slot.worker = null;
    if (!left) await w.terminate();
  }

  return {
    get fatal() {
      return fatal;
    },
    get hasIdle() {
      return slots.some((s) => s.isReady && !s.busy && s.worker !== null);
    },
    start() {
      if (slots.length > 0) return;
      for (let i = 0; i < opts.size; i++) {
        const slot: Slot<T> = { index: i, worker: null, ready: Promise.resolve(), isReady: false, busy: null, generation: 0, exited: Promise.resolve() };
        slots.push(slot);
        start(slot);
      }
    },
    async ready() {
      await Promise.all(slots.map((s) => s.ready));
    },
    dispatch(next, texts) {
      for (const slot of slots) {
        if (!slot.isReady || slot.busy || !slot.worker) continue;
        const items = next();
        if (items === null) return;
        if (items.length === 0) continue;
        const id = nextId++;
        slot.busy = { id, items };
        const msg: WorkerRequest = { type: 'detect', id, texts: texts(items) };
        slot.worker.postMessage(msg);
      }
    },
    async close(onAbandoned) {
      closed = true;
      // in-flight jobs finish (their callers get their answers), bounded
      if (slots.some((s) => s.busy)) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, opts.closeTimeoutMs);
          idleWaiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      await Promise.all(slots.map((s) => stop(s, onAbandoned)));
    },
  };
}
