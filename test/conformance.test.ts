/**
 * The conformance and leak suite (scripts/conformance.ts) passes in CI: run self-contained (its
 * own Veil on loopback with the pattern detector and memory vault, the recording upstream of
 * test/fakes/surfaces-upstream.ts as the only fake), judged by the official clients.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

it('npm run conformance: every surface, plain and streamed, restores exactly and leaks nothing', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/conformance.ts'], { cwd: root, encoding: 'utf8', timeout: 170_000 });
  expect(r.stdout).toContain('conformance: all 15 checks passed');
  expect(r.stdout).not.toContain('FAIL');
  expect(r.status).toBe(0);
}, 180_000);
