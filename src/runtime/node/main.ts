/**
 * Node entry: `npm start`. Reads the environment, builds the services, serves the app on
 * @hono/node-server, and shuts down gracefully on SIGTERM / SIGINT.
 */
import { serve } from '@hono/node-server';
import { createApp } from '../../http/app.js';
import { loadConfig } from '../../core/config.js';
import { explainDbError } from '../../db/open.node.js';
import { createLogger } from './logger.js';
import { buildServices } from './services.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    process.stderr.write(`veil: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.VEIL_LOG_LEVEL);
  let built;
  try {
    built = await buildServices(config, logger);
  } catch (e) {
    logger.error('start-up failed', { error: (e as Error).name });
    // a failed query's own message lists its parameters: say which statement and why instead
    const message = (e as Error).message ?? String(e);
    process.stderr.write(`veil: cannot start: ${message.startsWith('Failed query:') ? explainDbError(e) : message}\n`);
    process.exit(1);
  }
  const app = createApp(built.services);
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
    logger.info('listening', { url: `http://${config.HOST}:${info.port}/v1`, upstream: new URL(config.VEIL_UPSTREAM_URL).host });
    process.stderr.write(`veil: listening on http://${config.HOST}:${info.port}/v1 (OPENAI_BASE_URL for your clients)\n`);
  });

  // Listen failures (port in use, no permission) say what and where, then exit 1.
  server.on('error', (e: NodeJS.ErrnoException) => {
    const what =
      e.code === 'EADDRINUSE'
        ? `EADDRINUSE: port ${config.PORT} on ${config.HOST} is in use`
        : e.code === 'EACCES'
          ? `EACCES: no permission to listen on port ${config.PORT} on ${config.HOST}`
          : e.code === 'EADDRNOTAVAIL'
            ? `EADDRNOTAVAIL: ${config.HOST} is not an address of this machine`
            : `cannot listen on ${config.HOST}:${config.PORT} (${e.code ?? e.name})`;
    logger.error('cannot listen', { code: e.code ?? e.name, host: config.HOST, port: config.PORT });
    process.stderr.write(`veil: ${what}\n`);
    void built.close().finally(() => process.exit(1));
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    let closing: Promise<void> | null = null;
    const closeServices = () => (closing ??= built.close());
    const force = setTimeout(() => {
      logger.warn('forced exit: requests still open after 10 s');
      // release the NER workers first: exiting while they run inside ONNX Runtime aborts the
      // process (Napi::Error); bounded in case a worker does not answer
      setTimeout(() => process.exit(1), 8_000).unref();
      void closeServices().finally(() => process.exit(1));
    }, 10_000);
    force.unref();
    server.close(async () => {
      clearInterval(idle);
      await closeServices();
      logger.info('stopped');
      process.exit(process.exitCode ?? 0);
    });
    // idle keep-alive sockets would hold close() open, including those that become idle when
    // their last response is sent
    const closeIdle = () => (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
    closeIdle();
    const idle = setInterval(closeIdle, 250);
    idle.unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Error names only: a foreign error's message may quote request text.
  process.on('unhandledRejection', (e) => logger.error('unhandled rejection', { error: e instanceof Error ? e.name : typeof e }));
  process.on('uncaughtException', (e) => {
    logger.error('uncaught exception: shutting down', { error: e.name });
    process.exitCode = 1;
    stop('uncaughtException');
  });
}

void main();
