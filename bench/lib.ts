import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts a tsx script as a child process and waits until it prints READY or its URL answers. */
export async function startProcess(script: string, env: Record<string, string>, ready: { line?: RegExp; url?: string }): Promise<{ child: ChildProcess; match: RegExpExecArray | null; stop(): Promise<void> }> {
  // Compiled JavaScript (dist/) runs on plain Node, as `npm start` runs it; TypeScript through tsx.
  const child = spawn(process.execPath, script.endsWith('.js') ? [script] : ['--import', 'tsx', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let match: RegExpExecArray | null = null;
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d.toString()).length > 20000 && (stderr = stderr.slice(-10000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${stderr.slice(-2000)}`)), 60_000);
    child.on('exit', (code) => reject(new Error(`${script} exited ${code}: ${stderr.slice(-2000)}`)));
    if (ready.line) {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d.toString();
        const m = ready.line!.exec(out);
        if (m) {
          match = m;
          clearTimeout(timer);
          resolve();
        }
      });
    } else if (ready.url) {
      const poll = async () => {
        try {
          const r = await fetch(ready.url!);
          if (r.ok) {
            clearTimeout(timer);
            resolve();
            return;
          }
        } catch {}
        setTimeout(poll, 100);
      };
      void poll();
    }
  });
  child.removeAllListeners('exit');
  return {
    child,
    match,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

export function table(title: string, headers: string[], rows: (string | number)[][]): string {
  const fmt = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v);
  const lines = [`### ${title}`, '', `| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.map(fmt).join(' | ')} |`);
  return lines.join('\n') + '\n';
}

/** ~`bytes` of text with an e-mail every ~25 characters (`first`: number of the first address). */
export function emailPrompt(bytes: number, first = 0): string {
  const parts: string[] = [];
  let n = 0;
  for (let i = first; n < bytes; i++) {
    const s = `hi u${i}@ex${i % 7}.com ok `;
    parts.push(s);
    n += s.length;
  }
  return parts.join('').slice(0, bytes);
}
