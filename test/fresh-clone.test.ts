/**
 * `git clone && npm install && npm test` must pass with nothing next to the repository: no test
 * reads data from ../shared (the development machine's read-only data folder). Test data the
 * suite needs is vendored under test/ with its licence (e.g. test/vectors/wycheproof).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

it('no test or source file the suite runs reads from ../shared', () => {
  const offenders = [...files(join(root, 'test')), ...files(join(root, 'src'))]
    .filter((p) => p !== fileURLToPath(import.meta.url))
    .filter((p) => /(\.\.\/|['"`])shared\/(testdata|ner-data|pii-dev)/.test(readFileSync(p, 'utf8')))
    .map((p) => relative(root, p));
  expect(offenders).toEqual([]);
});

it('the vendored Wycheproof vectors carry their licence and source commit', () => {
  const dir = join(root, 'test/vectors/wycheproof');
  expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toContain('Apache License');
  expect(readFileSync(join(dir, 'SOURCE.md'), 'utf8')).toMatch(/C2SP\/wycheproof[\s\S]*Commit: [0-9a-f]{40}/);
});
