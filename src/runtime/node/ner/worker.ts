/**
 * NER worker thread: loads the model once, then answers `detect` jobs one at a time; on
 * `close`, releases the model and ends. Started by ./index.ts through ./worker-bootstrap.mjs (which registers tsx). Node-only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { NerRuntime, type NerRuntimeOptions } from './model.js';

export type WorkerRequest = { type: 'detect'; id: number; texts: string[] } | { type: 'close' };
export type WorkerReply =
  | { type: 'ready'; loadMs: number; version: string | null; onnx: string }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; spans: import('../../../detect/types.js').Span[][] }
  | { type: 'error'; id: number; message: string };

const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');
const opts = workerData as NerRuntimeOptions;

const send = (m: WorkerReply) => port.postMessage(m);

let runtime: NerRuntime | undefined;
try {
  runtime = await NerRuntime.load(opts);
  send({ type: 'ready', loadMs: runtime.info.loadMs, version: runtime.info.version, onnx: runtime.info.onnx });
} catch (e) {
  send({ type: 'load-error', message: e instanceof Error ? e.message : String(e) });
  // let the message flush, then leave
  setTimeout(() => process.exit(1), 10);
}

let chain: Promise<void> = Promise.resolve();
port.on('message', (m: WorkerRequest) => {
  if (m.type === 'close') {
    // after the work already queued: release the ONNX session, then let the thread end on its
    // own (being terminated inside native code crashed the process on SIGTERM)
    chain = chain.then(async () => {
      await runtime?.dispose().catch(() => {});
      port.close();
    });
    return;
  }
  if (m.type !== 'detect') return;
  chain = chain.then(async () => {
    try {
      const spans = await runtime!.detect(m.texts);
      send({ type: 'result', id: m.id, spans });
    } catch (e) {
      // error names only: messages from the runtime never contain text
      send({ type: 'error', id: m.id, message: e instanceof Error ? `${e.name}: ${e.message.slice(0, 200)}` : 'unknown error' });
    }
  });
});
