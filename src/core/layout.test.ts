/** The layout rules README "Architecture" states, checked on every source file. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('..', import.meta.url).pathname;
const files = (readdirSync(SRC, { recursive: true }) as string[])
  .filter((f) => /\.(ts|mjs)$/.test(f) && !f.endsWith('.test.ts'))
  .map((f) => relative(SRC, join(SRC, f)).split('\\').join('/'));
const imports = (f: string) => [...readFileSync(join(SRC, f), 'utf8').matchAll(/^(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);

describe('layout', () => {
  it('nothing outside src/runtime imports from it', () => {
    const bad = files.filter((f) => !f.startsWith('runtime/') && imports(f).some((s) => /(^|\/)runtime\//.test(s)));
    expect(bad).toEqual([]);
  });

  it('outside src/runtime/node, a file importing node:* or a Node-only driver ends in .node.ts', () => {
    const nodeOnly = /^(node:|pg$|@electric-sql\/pglite|onnxruntime-node|@huggingface\/transformers)/;
    const bad = files.filter((f) => !f.startsWith('runtime/node/') && !f.endsWith('.node.ts') && imports(f).some((s) => nodeOnly.test(s)));
    expect(bad).toEqual([]);
  });
});
