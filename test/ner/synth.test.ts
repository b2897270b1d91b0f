/**
 * The synthetic training-text generator of the NER model (scripts/ner/synth.ts), run as train.sh
 * runs it: every span lies inside its text, is trimmed, typed and non-overlapping; titles stay
 * outside PERSON spans; a first + last name is one span; the output is seeded (same seed, same
 * bytes); and the genres added for model 1.2.0 are all generated.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Ex = { text: string; spans: Array<[number, number, string]> };
const dir = mkdtempSync(path.join(tmpdir(), 'veil-synth-'));
const run = (file: string, n: number, seed: number): string => {
  const out = path.join(dir, file);
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/ner/synth.ts', out, String(n), String(seed)], { stdio: 'pipe' });
  return readFileSync(out, 'utf8');
};

describe('scripts/ner/synth.ts', () => {
  let raw = '';
  let exs: Ex[] = [];
  beforeAll(() => {
    raw = run('a.jsonl', 3000, 5);
    exs = raw.trim().split('\n').map((l) => JSON.parse(l) as Ex);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes well-formed spans: inside the text, trimmed, typed, sorted, non-overlapping', () => {
    expect(exs.length).toBe(3000);
    for (const { text, spans } of exs) {
      let last = 0;
      for (const [s, e, ty] of spans) {
        const v = text.slice(s, e);
        expect({ v, ok: s >= last && e > s && e <= text.length && v === v.trim() && v.length > 0 }).toEqual({ v, ok: true });
        expect(['PERSON', 'LOCATION', 'ORGANIZATION', 'ADDRESS']).toContain(ty);
        last = e;
      }
    }
  });

  it('keeps titles outside PERSON spans and writes a first + last name as one span', () => {
    for (const { text, spans } of exs) {
      for (const [s, e, ty] of spans) {
        if (ty !== 'PERSON') continue;
        expect(text.slice(s, e)).not.toMatch(/^(Mr|Mrs|Ms|Dr|Prof|Doctor)\.?\s/);
      }
      for (let k = 1; k < spans.length; k++) {
        const [, pe, pty] = spans[k - 1]!;
        const [s, , ty] = spans[k]!;
        if (pty === 'PERSON' && ty === 'PERSON') expect(text.slice(pe, s)).not.toBe(' ');
      }
    }
  });

  it('generates the 1.2.0 genres: transcripts, forms, dumps, git logs, chat, other languages, PII-free records', () => {
    const has = (re: RegExp, withPerson = true) =>
      exs.some((x) => re.test(x.text) && (!withPerson || x.spans.some(([, , t]) => t === 'PERSON')));
    expect(has(/spell/i)).toBe(true);
    // a spelled-out surname is one PERSON span of single letters
    expect(exs.some((x) => x.spans.some(([s, e, t]) => t === 'PERSON' && /^[A-Z](?:(?:-|\s|\.\s)[A-Z])+$/u.test(x.text.slice(s, e))))).toBe(true);
    expect(has(/NAME: /)).toBe(true);
    expect(has(/^id,first_name,last_name/)).toBe(true);
    expect(has(/INSERT INTO/)).toBe(true);
    expect(has(/Author: /)).toBe(true);
    expect(has(/^hey its /)).toBe(true);
    expect(has(/Sehr geehrte|Mit freundlichen/)).toBe(true);
    expect(has(/Bonjour|Cordialement|Madame/)).toBe(true);
    expect(has(/Hola|Atentamente|señora/)).toBe(true);
    expect(has(/Beste|Met vriendelijke|De heer/)).toBe(true);
    expect(has(/Kedves|Tisztelt|Üdvözlettel/)).toBe(true);
    // section headers and drug names appear only in PII-free examples
    const meds = exs.filter((x) => /Amoxicillin|Troponin|Atorvastatin/.test(x.text));
    expect(meds.length).toBeGreaterThan(0);
    for (const m of meds) expect(m.spans).toEqual([]);
  });

  it('is seeded: the same seed writes the same bytes, another seed other text', () => {
    expect(run('b.jsonl', 3000, 5)).toBe(raw);
    expect(run('c.jsonl', 3000, 6)).not.toBe(raw);
  }, 120_000);
});
