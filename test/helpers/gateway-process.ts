/**
 * A real gateway process (`node --import tsx src/runtime/node/main.ts`) for tests across
 * processes: started with `env` on top of this process's environment (PORT and HOST included),
 * resolved once `/healthz` answers; `stop()` sends SIGTERM and waits for the exit; `log()` is
 * its stderr so far (for failure messages).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
  log(): string;
}

export async function spawnGateway(port: number, env: Record<string, string>, onStart?: (g: GatewayProcess) => void, timeoutMs = 120_000): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/runtime/node/main.ts')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ...env },
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d) => (log += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const g: GatewayProcess = {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    log: () => log,
  };
  onStart?.(g); // the caller registers stop() before the wait, so a failed start is cleaned up too
  for (const t0 = Date.now(); ; ) {
    if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}: ${log.slice(-2000)}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`gateway did not start: ${log.slice(-2000)}`);
    if (await fetch(`${g.url}/healthz`).then((r) => r.ok, () => false)) return g;
    await new Promise((r) => setTimeout(r, 100));
  }
}
