/**
 * Node entry: `npm start`. Reads the environment, builds the services, serves the app on
 * @hono/node-server, and shuts down gracefully on SIGTERM / SIGINT.
 */
import { serve } from '@hono/node-server';
import { createApp } from '../api/app.js';
import { loadConfig } from '../core/config.js';
import { createLogger } from './logger.js';
import { buildServices } from './services.node.js';

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
    process.stderr.write(`veil: cannot start: ${(e as Error).message}\n`);
    process.exit(1);
  }
  const app = createApp(built.services);
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
    logger.info('listening', { url: `http://${config.HOST}:${info.port}/v1`, upstream: new URL(config.VEIL_UPSTREAM_URL).host });
    process.stderr.write(`veil: listening on http://${config.HOST}:${info.port}/v1 (OPENAI_BASE_URL for your clients)\n`);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    const force = setTimeout(() => {
      logger.warn('forced exit: requests still open after 10 s');
      process.exit(1);
    }, 10_000);
    force.unref();
    server.close(async () => {
      await built.close();
      logger.info('stopped');
      process.exit(process.exitCode ?? 0);
    });
    // idle keep-alive sockets would hold close() open
    (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
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
