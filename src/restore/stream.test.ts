/**
 * The one SSE driver (stream.ts `restoreEventStream`) on in-memory streams: the chat restorer
 * and a named-event restorer plugged in, the upstream bytes split anywhere (property), the
 * terminal event, truncation, an oversized event and an idle upstream reported in-band, and a
 * cancelled stream aborting the upstream. The end-to-end paths (real HTTP, the SDKs) are in
 * test/gateway.test.ts and test/surfaces-*.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VeilError } from '../core/errors.js';
import type { Token } from '../vault/types.js';
import { splitAt } from '../../test/helpers/split.js';
import { Restorer } from './restorer.js';
import { type EventRestorer, type OutEvent, restoreEventStream, restoreSseStream, type StreamOutcome } from './stream.js';

const restorer = new Restorer(new Map([['EMAIL_K3P9ZA00' as Token, 'ada@example.com']]));
const enc = new TextEncoder();

function upstreamOf(pieces: readonly Uint8Array[], stall = false): { stream: ReadableStream<Uint8Array>; aborted: () => boolean } {
  let i = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < pieces.length) c.enqueue(pieces[i++]!);
      else if (!stall) c.close();
      else return new Promise(() => {}); // never sends again
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, aborted: () => cancelled };
}

async function drain(s: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(s).text();
}

const chatChunk = (content: string) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const contentOf = (out: string) =>
  out
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)) as { choices?: { delta?: { content?: string } }[] })
    .map((e) => e.choices?.[0]?.delta?.content ?? '')
    .join('');

/** Named events (`event: say`, `event: stop` terminal), held text released at the end: a minimal plug-in. */
class SayRestorer implements EventRestorer {
  complete = false;
  private readonly r = restorer.stream();
  event(name: string | null, data: string): OutEvent[] {
    if (name === 'stop') {
      this.complete = true;
      return [...this.end(), { event: name, data }];
    }
    return [{ event: name, data: this.r.push(data) }];
  }
  end(): OutEvent[] {
    const rest = this.r.flush();
    return rest ? [{ event: 'say', data: rest }] : [];
  }
  failure(err: VeilError): OutEvent {
    return { event: 'error', data: `${err.code}` };
  }
}

describe('restoreEventStream with the chat restorer', () => {
  it('property: any byte split restores a placeholder split across chunks exactly; nothing after [DONE] is sent', async () => {
    const wire = enc.encode(`${chatChunk('mail [EMAIL_K')}${chatChunk('3P9ZA00] now')}data: [DONE]\n\n${chatChunk('after done')}`);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: wire.length }), { maxLength: 8 }), async (cuts) => {
        let outcome: StreamOutcome | undefined;
        const up = upstreamOf(splitAt(wire, cuts));
        const out = await drain(restoreSseStream(up.stream, restorer, { idleTimeoutMs: 5_000, abortUpstream: () => {}, onEnd: (o) => (outcome = o) }));
        expect(contentOf(out)).toBe('mail ada@example.com now');
        expect(out.endsWith('data: [DONE]\n\n')).toBe(true);
        expect(out).not.toContain('after done');
        expect(outcome?.status).toBe('done');
      }),
      { numRuns: 60 },
    );
  });

  it('a stream that ends without [DONE]: held text released, then an in-band upstream_stream_truncated error', async () => {
    let outcome: StreamOutcome | undefined;
    const up = upstreamOf([enc.encode(chatChunk('mail [EMAIL_K3P9ZA00'))]);
    const out = await drain(restoreSseStream(up.stream, restorer, { idleTimeoutMs: 5_000, abortUpstream: () => {}, onEnd: (o) => (outcome = o) }));
    // released at the end and restored (a placeholder missing its bracket is still read)
    expect(contentOf(out)).toBe('mail [ada@example.com');
    expect(out.trim().split('\n\n').at(-1)).toContain('"code":"upstream_stream_truncated"');
    expect(outcome).toEqual({ status: 'truncated', events: 1 });
  });

  it('an event over the limit ends the stream in-band (upstream_event_too_large) and aborts the upstream', async () => {
    let aborted = false;
    const up = upstreamOf([enc.encode(chatChunk('ok')), enc.encode(`data: ${'x'.repeat(500)}\n\n`)]);
    const out = await drain(restoreSseStream(up.stream, restorer, { idleTimeoutMs: 5_000, maxEventChars: 200, abortUpstream: () => (aborted = true) }));
    expect(contentOf(out)).toBe('ok');
    expect(out).toContain('"code":"upstream_event_too_large"');
    expect(aborted).toBe(true);
  });
});

describe('restoreEventStream with a named-event restorer', () => {
  const wire = enc.encode('event: say\ndata: hi [EMAIL_\n\nevent: say\ndata: K3P9ZA00]!\n\nevent: stop\ndata: {}\n\n');

  it('property: any byte split restores across events; held text is released before the terminal event', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: wire.length }), { maxLength: 8 }), async (cuts) => {
        const out = await drain(restoreEventStream(upstreamOf(splitAt(wire, cuts)).stream, new SayRestorer(), { idleTimeoutMs: 5_000, abortUpstream: () => {} }));
        const says = [...out.matchAll(/event: say\ndata: (.*)\n\n/g)].map((m) => m[1]).join('');
        expect(says).toBe('hi ada@example.com!');
        expect(out.endsWith('event: stop\ndata: {}\n\n')).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('an idle upstream: held text released, an in-band upstream_timeout error in the surface shape, upstream aborted', async () => {
    let aborted = false;
    let outcome: StreamOutcome | undefined;
    const up = upstreamOf([enc.encode('event: say\ndata: hi [EMAIL_K3P9\n\n')], true);
    const out = await drain(
      restoreEventStream(up.stream, new SayRestorer(), { idleTimeoutMs: 50, abortUpstream: () => (aborted = true), onEnd: (o) => (outcome = o) }),
    );
    expect(out).toBe('event: say\ndata: hi \n\nevent: say\ndata: [EMAIL_K3P9\n\nevent: error\ndata: upstream_timeout\n\n');
    expect(aborted).toBe(true);
    expect(outcome).toEqual({ status: 'timeout', events: 1 });
  });

  it('a cancelled stream (client gone) aborts the upstream', async () => {
    let aborted = false;
    let outcome: StreamOutcome | undefined;
    const up = upstreamOf([enc.encode('event: say\ndata: hi\n\n')], true);
    const reader = restoreEventStream(up.stream, new SayRestorer(), { idleTimeoutMs: 5_000, abortUpstream: () => (aborted = true), onEnd: (o) => (outcome = o) }).getReader();
    await reader.read();
    await reader.cancel();
    expect(aborted).toBe(true);
    expect(up.aborted()).toBe(true);
    expect(outcome?.status).toBe('cancelled');
  });
});
