/**
 * Shared set-up of the job tests that need one store and one vault for the file: real PGlite,
 * the real encrypted vault and a random local master key.
 */
import { afterAll, beforeAll } from 'vitest';
import { randomBytes } from '../../src/keys/crypto.js';
import { createLocalProvider } from '../../src/keys/local.js';
import { createDbVault, type DbVault } from '../../src/vault/db-vault.js';
import { pgliteDriver, type Harness } from './db.js';

/** Registers beforeAll / afterAll; the returned object is filled in before the first test. */
export function usePgliteVault(): { h: Harness; vault: DbVault } {
  const f = {} as { h: Harness; vault: DbVault };
  beforeAll(async () => {
    f.h = await pgliteDriver.open();
    f.vault = createDbVault({ db: f.h.db, provider: createLocalProvider(randomBytes(32)), timeoutMs: 5000 });
  });
  afterAll(async () => {
    await f.vault?.close();
    await f.h?.cleanup();
  });
  return f;
}
