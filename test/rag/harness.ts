/**
 * Shared set-up of the RAG collection tests: the database under test — PGlite + pgvector in
 * process, and the `pg` driver against the same PGlite + pgvector served over the wire by
 * @electric-sql/pglite-socket (Debian's PostgreSQL here has no pgvector) — and a JSON call helper
 * for the gateway on loopback.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { Db } from '../../src/db/client.js';
import { createPool, fromPglite, fromPool } from '../../src/db/open.node.js';
import type { Gateway } from '../helpers/gateway.js';

export interface Setup {
  db: Db;
  dump(): Promise<Buffer>;
  close(): Promise<void>;
}

async function pgliteSetup(): Promise<Setup & { client: PGlite }> {
  const client = await PGlite.create({ extensions: { vector } });
  const db = fromPglite(client);
  await db.migrate();
  return { client, db, dump: async () => Buffer.from(await (await client.dumpDataDir('none')).arrayBuffer()), close: () => db.close() };
}

export const SETUPS: { name: string; open(): Promise<Setup> }[] = [
  { name: 'pglite', open: pgliteSetup },
  {
    name: 'pg driver over the wire (pglite-socket)',
    async open() {
      const inner = await pgliteSetup();
      const server = new PGLiteSocketServer({ db: inner.client, port: 0, host: '127.0.0.1' });
      await server.start();
      const url = `postgres://postgres@${server.getServerConn()}/postgres`;
      const db = fromPool(createPool({ DATABASE_URL: url, VEIL_DATA_DIR: '/nonexistent', VEIL_DB_POOL_SIZE: 1, VEIL_DB_TIMEOUT_MS: 20_000 }));
      return {
        db,
        dump: inner.dump,
        async close() {
          await db.close();
          await server.stop();
          await inner.close();
        },
      };
    },
  },
];

export async function call(gw: Gateway, method: string, path: string, key: string, body?: unknown) {
  const send = () =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  let res: Response;
  try {
    res = await send();
  } catch (e) {
    // The gateway runs in this process: a long synchronous step here (PGlite's dumpDataDir) can
    // hold the event loop past the server's keep-alive timeout, so the client reuses a socket the
    // server is closing and gets ECONNRESET before any byte of an answer (seen under load in CI).
    // The request never reached a handler; send it once more on a fresh socket.
    if ((e as { cause?: { code?: string } }).cause?.code !== 'ECONNRESET') throw e;
    res = await send();
  }
  return { status: res.status, json: (await res.json()) as any };
}

