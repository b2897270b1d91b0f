import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

describe('logger', () => {
  it('writes JSON lines with ids, counts and types, and redacts anything that could hold text', () => {
    const lines: string[] = [];
    const log = createLogger('info', (l) => lines.push(l));
    log.debug('hidden', { a: 1 });
    log.info('request', {
      requestId: 'req_abc123',
      status: 200,
      types: ['EMAIL', 'PERSON'],
      email: 'jane.roe@example.com',
      text: 'My name is Jane Roe and I live at 5 Main Street, Springfield.\nSecond line',
      obj: { value: 'Jane' },
      name: 'Jane Roe',
    });
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!);
    expect(rec).toMatchObject({ level: 'info', msg: 'request', requestId: 'req_abc123', status: 200, types: ['EMAIL', 'PERSON'] });
    expect(rec.email).toBe('[redacted]');
    expect(rec.text).toBe('[redacted]');
    expect(rec.obj).toBe('[redacted]');
    expect(rec.name).toBe('[redacted]');
    expect(lines[0]).not.toContain('Jane');
  });
});
