/**
 * `npm run build` output runs on plain Node (no tsx): the compiled gateway starts, the NER
 * worker threads load from dist/ (the model from models/), /readyz turns ready, and a request
 * with PII reaches the loopback upstream masked (test/fakes/upstream.ts, the only fake).
 * Builds dist/ first (incremental tsc).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startFakeUpstream } from './fakes/upstream.js';

const root = new URL('..', import.meta.url).pathname;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

it('the compiled gateway (node dist/runtime/node/main.js) starts with NER and masks', async () => {
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'pipe' });
  const up = await startFakeUpstream();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'veil-compiled-'));
  const child = spawn(process.execPath, ['dist/runtime/node/main.js'], {
    cwd: root,
    env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', VEIL_DATA_DIR: dir, VEIL_UPSTREAM_URL: up.url, VEIL_UPSTREAM_API_KEY: 'sk-up', VEIL_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b));
  try {
    const t0 = Date.now();
    await expect
      .poll(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status, { timeout: 150_000, interval: 250 })
      .toBe(200);
    console.log(`compiled gateway ready (model loaded) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-fake', messages: [{ role: 'user', content: 'I am Maria Gonzalez, mail jane.doe@example.com' }] }),
    });
    expect(res.status).toBe(200);
    expect((await res.json()).choices[0].message.content).toBe('You said: I am Maria Gonzalez, mail jane.doe@example.com');
    expect(up.allRaw()).not.toContain('jane.doe@example.com');
    expect(up.allRaw()).not.toContain('Gonzalez'); // the NER model ran in a compiled worker
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
  expect(stderr).not.toMatch(/uncaught|ERR_UNKNOWN_FILE_EXTENSION/i);
}, 240_000);
