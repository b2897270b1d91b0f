/**
 * Two real gateway processes (`src/runtime/node/main.ts`, as `npm start` runs it) on one PostgreSQL
 * database, tokenizing overlapping values at the same time through HTTP: every value must get
 * one token, whichever process saw it first. Runs only when TEST_DATABASE_URL is set (CI sets
 * it). The upstream is the loopback OpenAI-compatible fake (the network stand-in).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startProcess } from '../bench/lib.js';
import { type FakeUpstream, lastUserText, startFakeUpstream } from './fakes/upstream.js';
import { createTestDatabase, TEST_DATABASE_URL } from './helpers/db.js';

const ROOT = new URL('..', import.meta.url).pathname;

describe.skipIf(!TEST_DATABASE_URL)('two gateway processes on one PostgreSQL', () => {
  let up: FakeUpstream;
  let tdb: { url: string; drop(): Promise<void> };
  const procs: { stop(): Promise<void> }[] = [];
  const urls: string[] = [];
  let dataDir: string;

  beforeAll(async () => {
    up = await startFakeUpstream();
    tdb = await createTestDatabase(TEST_DATABASE_URL!);
    dataDir = mkdtempSync(join(tmpdir(), 'veil-mp-'));
    const masterKey = Buffer.alloc(32, 7).toString('base64');
    // Start both at once: migrations and tenant-key creation race on purpose.
    const ports = [await freePort(), await freePort()];
    const started = await Promise.all(
      ports.map((port) =>
        startProcess(
          join(ROOT, 'src/runtime/node/main.ts'),
          {
            PORT: String(port),
            HOST: '127.0.0.1',
            DATABASE_URL: tdb.url,
            VEIL_MASTER_KEY: masterKey,
            VEIL_DATA_DIR: dataDir,
            VEIL_NER: 'off',
            VEIL_UPSTREAM_URL: up.url,
            VEIL_UPSTREAM_API_KEY: 'sk-upstream-test',
            VEIL_LOG_LEVEL: 'error',
          },
          { url: `http://127.0.0.1:${port}/healthz` },
        ),
      ),
    );
    procs.push(...started);
    urls.push(...ports.map((p) => `http://127.0.0.1:${p}/v1`));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await up?.close();
    await tdb?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('overlapping values get identical tokens in both processes, and replies are restored', async () => {
    const emails = Array.from({ length: 20 }, (_, i) => `person${i}.mp@example.org`);
    const clients = urls.map((u) => new OpenAI({ baseURL: u, apiKey: 'sk-caller', maxRetries: 0 }));
    // 80 requests: each email is sent 4 times, twice through each process, all at once.
    const jobs = emails.flatMap((email, i) =>
      [0, 1, 0, 1].map((proc, k) => ({ email, proc, marker: `job-${i}-${k}` })),
    );
    const replies = await Promise.all(
      jobs.map((j) =>
        clients[j.proc]!.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `${j.marker} mail ${j.email}` }] }),
      ),
    );
    replies.forEach((r, n) => expect(r.choices[0]!.message.content).toBe(`You said: ${jobs[n]!.marker} mail ${jobs[n]!.email}`));

    const tokenOf = new Map<string, Set<string>>();
    for (const rec of up.received) {
      const text = lastUserText(rec.body);
      const m = /^(job-\d+-\d) mail (\[EMAIL_[0-9A-Z]{8}\])$/.exec(text);
      expect(m, text).not.toBeNull();
      const job = jobs.find((j) => j.marker === m![1])!;
      if (!tokenOf.has(job.email)) tokenOf.set(job.email, new Set());
      tokenOf.get(job.email)!.add(m![2]!);
    }
    expect(up.received).toHaveLength(80);
    expect(tokenOf.size).toBe(20);
    for (const [, tokens] of tokenOf) expect(tokens.size).toBe(1);
    // distinct values, distinct tokens
    expect(new Set([...tokenOf.values()].map((s) => [...s][0])).size).toBe(20);
    expect(up.allRaw()).not.toContain('@example.org');
  });
});
