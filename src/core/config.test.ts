import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigSchema, loadConfig } from './config.js';

describe('config', () => {
  it('defaults', () => {
    const c = loadConfig({});
    expect(c.HOST).toBe('127.0.0.1');
    expect(c.PORT).toBe(8787);
    expect(c.VEIL_UPSTREAM_URL).toBe('https://api.openai.com/v1');
    expect(c.VEIL_NER).toBe(true);
    expect(c.VEIL_UPSTREAM_MAX_RETRIES).toBe(0);
  });

  it('rejects bad values with a message naming the variable', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ VEIL_UPSTREAM_URL: 'not a url' })).toThrow(/VEIL_UPSTREAM_URL/);
    expect(() => loadConfig({ VEIL_NER: 'maybe' })).toThrow(/VEIL_NER/);
    expect(loadConfig({ VEIL_NER: 'off' }).VEIL_NER).toBe(false);
  });

  it('the README configuration table lists exactly the variables the schema reads', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.split('<!-- config-table:start -->')[1]!.split('<!-- config-table:end -->')[0]!;
    const documented = new Set([...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!));
    const schema = new Set(Object.keys(ConfigSchema.shape));
    // read outside the schema by the AWS SDK / master-key loader
    documented.delete('AWS_REGION');
    expect([...schema].filter((k) => !documented.has(k))).toEqual([]);
    expect([...documented].filter((k) => !schema.has(k))).toEqual([]);
  });
});
