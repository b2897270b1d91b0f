/**
 * Cross-process erasure on PostgreSQL: a dedicated connection LISTENs on `veil_erase`; every
 * NOTIFY from an erasure or a shred (src/compliance/erase.ts) makes this process forget the
 * tenant's cached tokens (and, after a shred, its unwrapped keys) within one notification
 * round trip. If the connection drops, notifications could be missed, so everything cached is
 * forgotten and the listener reconnects with backoff (1 s doubling to 30 s); the token-cache
 * TTL (VEIL_TOKEN_CACHE_TTL_MS) bounds staleness even then. Logs tenant ids and error codes only.
 */
import pg from 'pg';
import type { Logger } from '../../core/types.js';
import { ERASE_CHANNEL } from '../../compliance/erase.js';

export interface EraseListener {
  /** Resolves once the first LISTEN is in place (or rejects when it cannot be). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export function listenForErasures(
  url: string,
  forget: (tenantId: string | null, keys: boolean) => void,
  logger: Logger,
  opts: { timeoutMs?: number } = {},
): EraseListener {
  let closed = false;
  let client: pg.Client | null = null;
  let delay = 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let first = true;

  async function connect(): Promise<void> {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: opts.timeoutMs ?? 5000, keepAlive: true });
    c.on('notification', (m) => {
      if (m.channel !== ERASE_CHANNEL || !m.payload) return;
      try {
        const p = JSON.parse(m.payload) as { t?: unknown; k?: unknown };
        if (typeof p.t === 'string') forget(p.t, p.k === true);
      } catch {
        forget(null, false);
      }
    });
    const lost = () => {
      if (closed || client !== c) return;
      client = null;
      logger.warn('erasure listener lost its connection; forgetting cached tokens and reconnecting', {});
      forget(null, true);
      schedule();
    };
    c.on('error', (e) => {
      logger.warn('erasure listener error', { code: (e as { code?: string }).code ?? null });
      lost();
    });
    c.on('end', lost);
    await c.connect();
    await c.query(`listen ${ERASE_CHANNEL}`);
    if (closed) {
      await c.end().catch(() => {});
      return;
    }
    client = c;
    delay = 1000;
    if (!first) forget(null, true); // anything could have been erased while we were away
    first = false;
  }

  function schedule(): void {
    if (closed) return;
    timer = setTimeout(() => {
      connect().catch((e) => {
        logger.warn('erasure listener cannot connect', { code: (e as { code?: string }).code ?? null });
        delay = Math.min(delay * 2, 30_000);
        schedule();
      });
    }, delay);
  }

  const ready = connect();
  ready.catch(() => {
    first = false;
    schedule();
  });
  return {
    ready,
    async close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
