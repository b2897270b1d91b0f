/**
 * JSON lines on stderr. Callers pass ids, types and counts only — never request text — and
 * the logger drops any field that is not a number, boolean, short id-like string or string
 * list, so a mistake elsewhere cannot turn into PII in the logs.
 */
import type { Logger } from '../../core/types.js';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const min = LEVELS[level];
  const safe = (v: unknown): unknown => {
    if (typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
    if (typeof v === 'string') return /^[\w.:/@\-()[\],]{0,120}$/.test(v) && !/@.+\./.test(v) ? v : '[redacted]';
    if (Array.isArray(v)) return v.slice(0, 50).map(safe);
    return '[redacted]';
  };
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < min) return;
    const out: Record<string, unknown> = { t: new Date().toISOString(), level: lvl, msg };
    if (fields) for (const [k, v] of Object.entries(fields)) out[k] = safe(v);
    write(JSON.stringify(out));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
