// Registers tsx in this worker thread, then loads the TypeScript worker. Works under `tsx`,
// under vitest and under plain `node` (tsx is resolved from this file's location).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
