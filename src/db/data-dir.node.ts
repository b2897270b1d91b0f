/**
 * One process owns a PGlite data directory (PGlite is single-process: a second process on the
 * same files corrupts them). Node only.
 *
 * - Lock: `<dataDir>/veil.lock`, created atomically (written to a temp file, then hard-linked
 *   into place, so it is never seen half-written) holding {pid, role, startedAt, procStart,
 *   host}. A lock whose pid is dead — or, on Linux, whose pid now belongs to a process started
 *   at another time (pid reuse) — is stale and is replaced. Anything else stops the second
 *   process with a message naming the holder.
 * - Socket: the owning gateway serves its PGlite to the `veil` CLI on a Unix socket inside the
 *   data directory (`<dataDir>/.s.PGSQL.5432`, mode 0600 in a 0700 folder: only the owner's
 *   user can connect; PGlite has no authentication) with `@electric-sql/pglite-socket`. Every
 *   client exchange (from its first message to the ReadyForQuery that ends it) runs under
 *   PGlite's transaction lock (a client transaction: until its COMMIT/ROLLBACK), so it never
 *   interleaves with the gateway's own transactions or unnamed statements. A client that
 *   stalls mid-exchange loses the lock after SOCKET_IDLE_RELEASE_MS (its open transaction, if
 *   any, is rolled back first); other clients wait for the exchange to end.
 */
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { silentLogger, type Logger } from '../core/types.js';

export const LOCK_FILE = 'veil.lock';
/** node-postgres connects to `<host>/.s.PGSQL.<port>` when host is a directory. */
export const SOCKET_PORT = 5432;
export const SOCKET_FILE = `.s.PGSQL.${SOCKET_PORT}`;
/** Unix socket paths are limited to ~104-108 bytes depending on the OS. */
const MAX_SOCKET_PATH = 100;
export const SOCKET_IDLE_RELEASE_MS = 2_000;

export type LockRole = 'gateway' | 'cli';

export interface LockInfo {
  pid: number;
  role: LockRole;
  startedAt: string;
  /** Linux: start time of the process in clock ticks since boot (/proc/<pid>/stat field 22). */
  procStart: string | null;
  host: string;
  /** The gateway serves the database to the CLI on this Unix socket (absolute path). */
  socket: string | null;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockInfo,
  ) {
    super(
      `the data directory ${dir} is in use by process ${holder.pid} (veil ${holder.role}, started ${holder.startedAt}` +
        `${holder.host !== hostname() ? ` on host ${holder.host}` : ''}). PGlite allows one process per data directory: ` +
        'stop that process first, or set DATABASE_URL (PostgreSQL) to run several gateways.',
    );
    this.name = 'DataDirLockedError';
  }
}

function procStartOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which is in parentheses and may hold spaces).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null; // field 22 overall
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock's holder when it is a live process (this host), else null (no lock, or stale). */
export function readLiveLock(dir: string): LockInfo | null {
  const path = join(resolve(dir), LOCK_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let info: LockInfo;
  try {
    info = JSON.parse(text) as LockInfo;
    if (!Number.isInteger(info.pid) || info.pid <= 0) return null;
  } catch {
    return null; // unreadable lock: written atomically, so not ours to respect
  }
  if (info.host !== hostname()) return info; // cannot check a pid on another host: respect it
  if (!alive(info.pid)) return null;
  if (info.procStart !== null) {
    const now = procStartOf(info.pid);
    if (now !== null && now !== info.procStart) return null; // the pid was reused
  }
  return info;
}

export interface DataDirLock {
  readonly info: LockInfo;
  /** Records the socket path in the lock file (rewritten atomically). */
  setSocket(path: string | null): void;
  release(): void;
}

/**
 * Takes the data directory (creating it, mode 0700) or throws DataDirLockedError naming the
 * live holder. Stale locks are replaced. Re-entrant within one process is not supported.
 */
export function acquireDataDirLock(dataDir: string, role: LockRole): DataDirLock {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, LOCK_FILE);
  const info: LockInfo = {
    pid: process.pid,
    role,
    startedAt: new Date(Date.now() - Math.round(process.uptime() * 1000)).toISOString(),
    procStart: procStartOf(process.pid),
    host: hostname(),
    socket: null,
  };
  const write = (target: string, exclusive: boolean) => {
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(tmp, JSON.stringify(info) + '\n', { mode: 0o600, flag: 'wx' });
    if (!exclusive) return renameSync(tmp, target); // our own lock: replaced atomically
    try {
      linkSync(tmp, target);
    } finally {
      unlinkSync(tmp);
    }
  };
  for (let attempt = 0; ; attempt++) {
    try {
      write(path, true);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw e;
    }
    const before = (() => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return null;
      }
    })();
    const holder = readLiveLock(dir);
    if (holder) throw new DataDirLockedError(dir, holder);
    // Stale: remove it unless it changed meanwhile (another process took over first).
    try {
      if (readFileSync(path, 'utf8') === before) unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  let released = false;
  return {
    info,
    setSocket(socket) {
      info.socket = socket;
      write(path, false);
    },
    release() {
      if (released) return;
      released = true;
      try {
        const cur = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
        if (cur.pid === process.pid) unlinkSync(path);
      } catch {
        /* already gone */
      }
    },
  };
}

/** PGlite internals the bridge relies on (public methods with a leading underscore in 0.5.x). */
type PGliteInternals = PGlite & { _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T> };

/**
 * Serves `pg` on a Unix socket in the data directory for the CLI. Returns null (and logs why)
 * when the path is too long for a Unix socket; the CLI then refuses with a clear message.
 */
export async function serveDataDirSocket(
  pg: PGlite,
  dataDir: string,
  logger: Logger = silentLogger,
): Promise<{ path: string; close(): Promise<void> } | null> {
  const dir = resolve(dataDir);
  const path = join(dir, SOCKET_FILE);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH || process.platform === 'win32') {
    logger.warn('the veil CLI cannot reach this gateway: the data directory path is too long for a Unix socket (or Windows)', { bytes: Buffer.byteLength(path) });
    return null;
  }
  const inner = pg as PGliteInternals;
  if (typeof inner._runExclusiveTransaction !== 'function') throw new Error('this PGlite version lacks _runExclusiveTransaction (needed to share it safely)');
  if (existsSync(path)) unlinkSync(path); // left by a crashed owner; we hold the lock

  // Holds PGlite's transaction lock from a client's first message until a ReadyForQuery that
  // says "idle": one exchange, or a whole client transaction (BEGIN … COMMIT).
  let release: (() => void) | null = null;
  let idle: ReturnType<typeof setTimeout> | undefined;
  let tail = new Uint8Array(0);
  /** Transaction status of the socket client: 'I' idle, 'T' in a transaction, 'E' failed one. */
  let status = 0x49;
  const letGo = () => {
    clearTimeout(idle);
    const r = release;
    release = null;
    r?.();
  };
  const hold = async () => {
    if (release) return;
    await new Promise<void>((got) => {
      void inner._runExclusiveTransaction(
        () =>
          new Promise<void>((done) => {
            release = done;
            got();
          }),
      );
    });
  };
  /** A simple-protocol statement from the bridge itself (ROLLBACK of an abandoned client transaction). */
  const rollbackClient = async () => {
    await hold();
    try {
      const text = new TextEncoder().encode('ROLLBACK\0');
      const msg = new Uint8Array(5 + text.length);
      msg[0] = 0x51; // Q
      new DataView(msg.buffer).setInt32(1, 4 + text.length);
      msg.set(text, 5);
      await pg.runExclusive(() => pg.execProtocolRaw(msg));
    } catch {
      /* nothing to roll back */
    } finally {
      status = 0x49;
      letGo();
    }
  };
  const onIdle = () => {
    if (status !== 0x49) void rollbackClient(); // a client that went quiet mid-transaction
    else letGo();
  };
  const bridge = {
    get waitReady() {
      return pg.waitReady;
    },
    /**
     * pglite-socket asks this to keep serving the last client only (a client's exchange or
     * transaction is in progress), and to ROLLBACK for a client that disconnects meanwhile.
     * It is the socket clients' state, not the gateway's own transactions.
     */
    isInTransaction() {
      return release !== null || status !== 0x49;
    },
    /** Used by pglite-socket only to ROLLBACK a disconnected client's open transaction. */
    async exec(query: string) {
      if (query.trim().toUpperCase() === 'ROLLBACK') await rollbackClient();
      else throw new Error('unsupported');
      return [];
    },
    async runExclusive<T>(fn: () => Promise<T>): Promise<T> {
      clearTimeout(idle);
      await hold();
      try {
        return await pg.runExclusive(fn);
      } finally {
        // ReadyForQuery ('Z', length 5, status) ends every exchange; Terminate has no reply.
        const t = tail;
        const done = t.length === 6 && t[0] === 0x5a && t[1] === 0 && t[2] === 0 && t[3] === 0 && t[4] === 5;
        if (done) status = t[5]!;
        tail = new Uint8Array(0);
        if ((done && status === 0x49) || !release) letGo();
        else idle = setTimeout(onIdle, SOCKET_IDLE_RELEASE_MS);
      }
    },
    execProtocolRawStream(message: Uint8Array, opts: { onRawData: (data: Uint8Array) => void }) {
      // Terminate has no reply: end the exchange (an open client transaction stays held, and is
      // rolled back by the disconnect or the idle timer).
      if (message[0] === 0x58 /* X */) tail = Uint8Array.of(0x5a, 0, 0, 0, 5, status);
      return pg.execProtocolRawStream(message, {
        ...opts,
        onRawData(data: Uint8Array) {
          if (data.length >= 6) tail = data.slice(data.length - 6);
          else if (data.length > 0) {
            const joined = new Uint8Array(tail.length + data.length);
            joined.set(tail);
            joined.set(data, tail.length);
            tail = joined.slice(Math.max(0, joined.length - 6));
          }
          opts.onRawData(data);
        },
      });
    },
  };
  // Several clients may connect (CLI runs back to back), but while one is mid-exchange the
  // queue serves only that one (isInTransaction above).
  const server = new PGLiteSocketServer({ db: bridge as unknown as PGlite, path, maxConnections: 4 });
  await server.start();
  chmodSync(path, 0o600);
  logger.info('CLI socket ready', { socket: SOCKET_FILE });
  return {
    path,
    async close() {
      await server.stop().catch(() => {});
      letGo();
      try {
        unlinkSync(path);
      } catch {
        /* gone */
      }
    },
  };
}
