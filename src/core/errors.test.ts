/** The error table (src/core/errors.ts) against what the README promises. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { authUnavailable, ERROR_TABLE, policyUnavailable, vaultUnavailable, veilError, type VeilErrorCode } from './errors.js';

describe('error table', () => {
  it('the README "Error codes" table lists exactly the codes of the table, with their status', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.split('### Error codes')[1]!.split('\n\n').slice(0, 3).join('\n\n');
    const rows = [...section.matchAll(/^\| ([^|]+) \| ([^|]+) \|/gm)].filter((m) => m[2]!.includes('`'));
    const documented = new Map<string, string>();
    for (const [, status, codes] of rows) for (const m of codes!.matchAll(/`([a-z_]+)`/g)) documented.set(m[1]!, status!.trim());
    const codes = Object.keys(ERROR_TABLE) as VeilErrorCode[];
    expect(codes.filter((c) => !documented.has(c))).toEqual([]);
    expect([...documented.keys()].filter((c) => !(c in ERROR_TABLE))).toEqual([]);
    for (const c of codes) {
      const status = documented.get(c)!;
      if (status.startsWith('in-band')) continue;
      expect(status.split(/[ /]+/), c).toContain(String(ERROR_TABLE[c].status));
    }
  });

  it('each factory takes status, type and retry advice from the table', () => {
    const e = veilError('veil_vault_integrity', 'x');
    expect([e.status, e.type, e.code, e.retryable]).toEqual([503, 'server_error', 'veil_vault_integrity', false]);
    expect(veilError('veil_detection_busy', 'x').retryable).toBeUndefined();
  });

  it('auth and policy outages name themselves, not the vault (issue 8)', () => {
    expect(authUnavailable().code).toBe('veil_auth_unavailable');
    expect(authUnavailable().message).not.toMatch(/vault/i);
    expect(policyUnavailable().code).toBe('veil_policy_unavailable');
    expect(policyUnavailable().message).not.toMatch(/vault/i);
    expect(vaultUnavailable().code).toBe('veil_vault_unavailable');
  });
});
