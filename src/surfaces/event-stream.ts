import { SseEventTooLargeError, SseParser } from '../restore/sse.js';
import type { Restorer } from '../restore/restorer.js';

/**
 * Named-event SSE restoration for the surfaces whose streams are typed events (`event: name`
 * + `data: {json}`): the OpenAI Responses API and Anthropic Messages. A surface describes its
 * events as data (an {@link EventSurface}); this file runs the stream: parse upstream bytes
 * (src/restore/sse.ts, bounded per event), hand each event to the surface, write what it returns
 * with its event name, and report failures after the 200 in-band in the surface's own error
 * shape (upstream network error, idle upstream, oversized event, a stream that ends before its
 * terminal event). Cancelling the returned stream (client gone) aborts the upstream. Work per
 * event is linear in the event; nothing here grows with the stream except what the surface holds.
 */

export interface OutEvent {
  readonly event: string | null;
  readonly data: string;
}

export interface EventSurface {
  /** One upstream event → the events to send (restored). */
  event(name: string | null, data: string): OutEvent[];
  /** Text still held back (stream over or failing) as events, in order. */
  end(): OutEvent[];
  /** Whether the terminal event (`response.completed`, `message_stop`…) was seen. */
  readonly complete: boolean;
  /** An in-band failure event in the surface's error shape. */
  failure(message: string, code: string): OutEvent;
}

export interface EventStreamOutcome {
  readonly status: 'done' | 'truncated' | 'upstream_error' | 'timeout' | 'cancelled' | 'too_large';
  readonly events: number;
}

const encoder = new TextEncoder();
export function encodeEvent(e: OutEvent): Uint8Array {
  return encoder.encode(`${e.event !== null ? `event: ${e.event}\n` : ''}data: ${e.data}\n\n`);
}

export function restoreEventStream(
  upstream: ReadableStream<Uint8Array>,
  surface: EventSurface,
  opts: { idleTimeoutMs: number; abortUpstream: () => void; maxEventChars?: number; onEnd?: (o: EventStreamOutcome) => void },
): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const parser = new SseParser(opts.maxEventChars);
  let events = 0;
  let finished = false;
  const finish = (status: EventStreamOutcome['status']) => {
    if (finished) return;
    finished = true;
    opts.onEnd?.({ status, events });
  };
  let enqueued = 0;
  const send = (c: ReadableStreamDefaultController<Uint8Array>, list: OutEvent[]) => {
    for (const e of list) {
      enqueued++;
      c.enqueue(encodeEvent(e));
    }
  };
  const fail = (c: ReadableStreamDefaultController<Uint8Array>, message: string, code: string, status: EventStreamOutcome['status']) => {
    opts.abortUpstream();
    reader.cancel().catch(() => {});
    send(c, [...surface.end(), surface.failure(message, code)]);
    c.close();
    finish(status);
  };

  async function step(c: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), opts.idleTimeoutMs);
      });
      const r = await Promise.race([reader.read(), timeout]);
      if (r === 'timeout') {
        fail(c, 'The upstream API stopped sending; the stream was ended.', 'upstream_timeout', 'timeout');
        return true;
      }
      const evs = r.done ? parser.end() : parser.push(r.value);
      for (const ev of evs) {
        events++;
        send(c, surface.event(ev.event, ev.data));
      }
      if (parser.tooLarge) throw parser.tooLarge;
      if (r.done) {
        if (surface.complete) {
          send(c, surface.end());
          c.close();
          finish('done');
        } else {
          fail(c, 'The upstream stream ended before it was complete.', 'upstream_stream_truncated', 'truncated');
        }
        return true;
      }
      return false;
    } catch (e) {
      if (finished) return true;
      if (e instanceof SseEventTooLargeError) {
        fail(c, `The upstream API sent an event larger than ${e.limit} bytes; the stream was ended.`, 'upstream_event_too_large', 'too_large');
      } else {
        fail(c, 'The connection to the upstream API failed during the stream.', 'upstream_stream_error', 'upstream_error');
      }
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  return new ReadableStream<Uint8Array>({
    // a pull must enqueue something or end the stream, so keep reading until an event is out
    async pull(controller) {
      const before = enqueued;
      while (enqueued === before) {
        if (await step(controller)) return;
      }
    },
    cancel() {
      opts.abortUpstream();
      reader.cancel().catch(() => {});
      finish('cancelled');
    },
  });
}

type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Restores every string leaf of a parsed JSON value in place (depth-bounded); `escapeFor(key)`
 * says which leaves hold JSON text (their values are JSON-string-escaped). True if any changed.
 */
export function restoreLeaves(root: Obj | unknown[], restorer: Restorer, jsonKey: (key: string | number, parent: Obj | unknown[]) => boolean = () => false): boolean {
  if (restorer.size === 0) return false;
  let changed = false;
  const walk = (node: Obj | unknown[], depth: number) => {
    if (depth > 128) return;
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    for (const k of keys) {
      const v = (node as Record<string | number, unknown>)[k];
      if (typeof v === 'string') {
        const r = restorer.restore(v, jsonKey(k, node) ? JSON_ESCAPE : undefined);
        if (r !== v) {
          (node as Record<string | number, unknown>)[k] = r;
          changed = true;
        }
      } else if (typeof v === 'object' && v !== null) {
        walk(v as Obj, depth + 1);
      }
    }
  };
  walk(root, 0);
  return changed;
}

const JSON_ESCAPE = (v: string) => JSON.stringify(v).slice(1, -1);
