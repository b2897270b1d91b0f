// Test stand-in for the NER worker (test code only, never shipped): the real worker
// (src/runtime/node/ner/worker-bootstrap.mjs → worker.ts) except that a job containing the text CRASH_TEXT makes
// the thread exit mid-request, to prove that the detector fails the call closed and restarts
// the worker. Its listener is registered before the real worker's, so it runs first.
import { parentPort } from 'node:worker_threads';

const CRASH_TEXT = '__crash__';

parentPort?.on('message', (m) => {
  if (m?.type === 'detect' && m.texts.includes(CRASH_TEXT)) process.exit(3);
});
await import('../../src/runtime/node/ner/worker-bootstrap.mjs');
