/**
 * Named statements on PGlite, for the hot paths that pass a name to `Db.query` (the audit
 * append, vault lookups, API-key checks). `client.query` sends six protocol messages through
 * the WebAssembly boundary on every call and has PostgreSQL parse and plan the text each time;
 * here a name is parsed and described once per PGlite instance, and each call is one
 * `execProtocol` of Bind + Describe + Execute + Sync. Values are serialized and rows parsed by
 * PGlite's own type tables keyed by the described type OIDs, exactly as `client.query` does,
 * and calls take the same two locks, so they never run inside another caller's transaction.
 * A statement that disappeared from the session (a socket client ran DEALLOCATE) is prepared
 * again once. Errors are PGlite's DatabaseError with the statement text as `query` (never the
 * parameters).
 */
import { parse as pgParse, protocol, type PGlite } from '@electric-sql/pglite';

/** PostgreSQL SQLSTATE invalid_sql_statement_name: no prepared statement of that name. */
const NO_SUCH_STATEMENT = '26000';

/** Names are namespaced so a CLI session sharing the instance (the gateway's socket) cannot collide. */
export const PREPARED_PREFIX = 'veil_p_';

export type PreparedQuery = <T>(name: string, text: string, params: readonly unknown[]) => Promise<T[]>;

const concat = (parts: readonly Uint8Array[]): Uint8Array => Buffer.concat(parts);

export function pglitePrepared(client: PGlite): PreparedQuery {
  const { serialize } = protocol;
  /** name → its text and parameter type OIDs, as prepared in this instance's session. */
  const prepared = new Map<string, { text: string; types: number[] }>();

  async function prepare(name: string, text: string): Promise<{ text: string; types: number[] }> {
    const r = await client.execProtocol(
      concat([serialize.parse({ name, text }), serialize.describe({ type: 'S', name }), serialize.sync()]),
    );
    const p = { text, types: pgParse.parseDescribeStatementResults(r.messages) };
    prepared.set(name, p);
    return p;
  }

  async function run<T>(name: string, p: { types: number[] }, params: readonly unknown[]): Promise<T[]> {
    const values = params.map((v, i) => {
      if (v === null || v === undefined) return null;
      const s = client.serializers[p.types[i]!];
      return s ? s(v) : String(v);
    });
    const r = await client.execProtocol(
      concat([serialize.bind({ statement: name, values }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]),
    );
    return (pgParse.parseResults(r.messages, client.parsers)[0]?.rows ?? []) as T[];
  }

  return async <T>(shortName: string, text: string, params: readonly unknown[]): Promise<T[]> => {
    if (client.closed) throw new Error('PGlite is closed');
    const name = PREPARED_PREFIX + shortName;
    return client._runExclusiveTransaction(() =>
      client._runExclusiveQuery(async () => {
        try {
          let p = prepared.get(name);
          if (p && p.text !== text) throw new Error(`statement ${shortName} is already prepared with another text`);
          p ??= await prepare(name, text);
          try {
            return await run<T>(name, p, params);
          } catch (e) {
            if ((e as { code?: unknown }).code !== NO_SUCH_STATEMENT) throw e;
            prepared.delete(name);
            return await run<T>(name, await prepare(name, text), params);
          }
        } catch (e) {
          if (e && typeof e === 'object' && 'severity' in e) Object.assign(e, { query: text });
          throw e;
        }
      }),
    );
  };
}
