/**
 * `veil policy show|set|reset` in-process (`runCli` with `CliIo.db`) against real PGlite and
 * (with TEST_DATABASE_URL) PostgreSQL. One database per driver for the whole file: creating a
 * fresh PGlite data dir (initdb) takes ~20 s on a busy machine, and one per command made this
 * file time out. Opening a data dir from the CLI is covered by test/cli.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELP, runCli } from '../src/runtime/node/cli/index.js';
import { DEFAULT_POLICY } from '../src/policy/index.js';
import { mergePolicy } from '../src/policy/override.js';
import { createPolicyStore } from '../src/policy/store.js';
import { DRIVERS, type Harness } from './helpers/db.js';

const files = mkdtempSync(join(tmpdir(), 'veil-policy-files-'));
const file = (name: string, text: string) => {
  const p = join(files, name);
  writeFileSync(p, text);
  return p;
};
afterAll(() => rmSync(files, { recursive: true, force: true }));

describe('veil policy: help', () => {
  it('documents the policy commands', () => {
    expect(HELP).toContain('policy show <tenant-id>');
    expect(HELP).toContain('policy set <tenant-id> --file <policy.json>');
    expect(HELP).toContain('policy reset <tenant-id>');
  });
});

describe.each(DRIVERS)('veil policy on $name', (driver) => {
  let h: Harness;
  beforeAll(async () => {
    h = await driver.open();
  }, 120_000);
  afterAll(async () => {
    await h?.cleanup();
  });
  // policy set/reset are audited: the CLI loads this master key as the gateway would
  const env: Record<string, string> = { VEIL_MASTER_KEY: Buffer.alloc(32, 9).toString('base64') };
  /** The CLI in-process on the open test database (the CLI does not close a database it was given). */
  async function run(e: Record<string, string>, ...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { env: e, db: h.db, out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('set / show / reset for a tenant, and the open-mode tenant "default" without a row', async () => {
    const created = await run(env, 'tenants', 'create', 'Acme', '--json');
    const tenantId = JSON.parse(created.out).id as string;

    // no override yet: the effective policy is the default
    const shown0 = await run(env, 'policy', 'show', tenantId);
    expect(shown0.code).toBe(0);
    expect(JSON.parse(shown0.out)).toEqual({ tenantId, override: null, effective: DEFAULT_POLICY });

    const override = { detectType: { EMAIL: 'pass' }, restore: { user: { sensitive: 'masked' } } };
    const set = await run(env, 'policy', 'set', tenantId, '--file', file('ok.json', JSON.stringify(override)));
    expect(set).toMatchObject({ code: 0, err: '' });
    expect(set.out).toContain(`tenant ${tenantId}`);

    const shown = await run(env, 'policy', 'show', tenantId, '--json');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out)).toEqual({ tenantId, override, effective: JSON.parse(JSON.stringify(mergePolicy(DEFAULT_POLICY, override as never))) });

    // what the gateway reads from the same database
    expect(await createPolicyStore(h.db).getOverride(tenantId)).toEqual(override);

    expect(await run(env, 'policy', 'reset', tenantId)).toMatchObject({ code: 0 });
    expect(JSON.parse((await run(env, 'policy', 'show', tenantId)).out).override).toBeNull();

    // open mode: "default" works before any row exists, and the row is created by set
    expect(JSON.parse((await run(env, 'policy', 'show', 'default')).out)).toEqual({ tenantId: 'default', override: null, effective: DEFAULT_POLICY });
    expect(await run(env, 'policy', 'set', 'default', '--file', file('ctx.json', '{"detect":{"contextual":"pass"}}'))).toMatchObject({ code: 0 });
    expect(JSON.parse((await run(env, 'policy', 'show', 'default')).out).effective.detect.contextual).toBe('pass');
    const tenants = JSON.parse((await run(env, 'tenants', 'list', '--json')).out) as { id: string; name: string }[];
    expect(tenants.find((t) => t.id === 'default')).toMatchObject({ name: 'default' });
    expect(await run(env, 'policy', 'reset', 'default')).toMatchObject({ code: 0 });
    expect(JSON.parse((await run(env, 'policy', 'show', 'default')).out).override).toBeNull();
  });

  it('invalid input: clear errors, exit code 2, nothing stored; unknown tenant: exit code 1', async () => {
    const tenantId = JSON.parse((await run(env, 'tenants', 'create', 'Acme', '--json')).out).id as string;

    const badType = await run(env, 'policy', 'set', tenantId, '--file', file('type.json', '{"detectType":{"EMAL":"pass"}}'));
    expect(badType.code).toBe(2);
    expect(badType.err).toMatch(/Invalid policy override:\n {2}detectType: unknown entity type "EMAL"/);

    const badAction = await run(env, 'policy', 'set', tenantId, '--file', file('action.json', '{"restore":{"user":{"sensitive":"plain"}}}'));
    expect(badAction.code).toBe(2);
    expect(badAction.err).toContain('restore.user.sensitive: must be one of value, masked, placeholder');

    const badRole = await run(env, 'policy', 'set', tenantId, '--file', file('role.json', '{"restore":{"guest":{}}}'));
    expect(badRole).toMatchObject({ code: 2 });
    expect(badRole.err).toContain('unknown role "guest"');

    const notJson = await run(env, 'policy', 'set', tenantId, '--file', file('broken.json', '{"detect":'));
    expect(notJson.code).toBe(2);
    expect(notJson.err).toMatch(/is not valid JSON/);

    const missing = await run(env, 'policy', 'set', tenantId, '--file', join(files, 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read .*nope\.json \(ENOENT\)/);

    expect((await run(env, 'policy', 'set', tenantId)).code).toBe(2); // no --file
    expect((await run(env, 'policy', 'show')).code).toBe(2); // no tenant
    expect((await run(env, 'policy', 'frobnicate', tenantId)).code).toBe(2);

    expect(JSON.parse((await run(env, 'policy', 'show', tenantId)).out).override).toBeNull();

    const unknownTenant = await run(env, 'policy', 'set', 'ten_missing', '--file', file('ok2.json', '{}'));
    expect(unknownTenant.code).toBe(1);
    expect(unknownTenant.err).toMatch(/No tenant with id ten_missing/);
    expect((await run(env, 'policy', 'show', 'ten_missing')).code).toBe(1);
  });
});
