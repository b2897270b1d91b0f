/** Request id + access log (access-log.ts): one fresh id per request, no raw path in the log. */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../core/types.js';
import type { Env } from '../context.js';
import { createMetrics } from '../metrics.js';
import { accessLog } from './access-log.js';

describe('accessLog', () => {
  it('gives each request a new req_ id (the caller’s X-Request-Id is not taken) and logs the route pattern only', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = { info: (_m: string, f?: Record<string, unknown>) => lines.push(f ?? {}), warn() {}, error() {}, debug() {} } as unknown as Logger;
    const app = new Hono<Env>();
    app.use('*', accessLog(log, createMetrics()));
    app.get('/v1/models/:id', (c) => c.text(c.get('requestId')));
    const res = await app.request('/v1/models/219-09-9999', { headers: { 'x-request-id': 'caller-chosen' } });
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(/^req_[0-9a-f]{24}$/);
    expect(await res.text()).toBe(id);
    const again = await app.request('/v1/models/x');
    expect(again.headers.get('x-request-id')).not.toBe(id);
    expect(lines[0]).toMatchObject({ requestId: id, method: 'GET', status: 200 });
    expect(JSON.stringify(lines)).not.toContain('219-09-9999');
  });
});
