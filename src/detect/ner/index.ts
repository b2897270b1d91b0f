/** Pure NER building blocks (Workers-safe). The Node runtime lives in src/runtime/node/ner. */
export * from './align.js';
export * from './chunk.js';
export * from './decode.js';
export * from './labels.js';
export * from './pipeline.js';
export * from './segment.js';
