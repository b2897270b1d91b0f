/**
 * One driver for every restored SSE stream: it reads the upstream body, parses events
 * (./sse.ts, bounded per event), hands each to an {@link EventRestorer} and writes what that
 * returns, keeps an idle timer, and reports failures after the 200 in-band in the restorer's
 * own error shape (a stream that just stops raises nothing in the SDKs): upstream network
 * errors, an idle upstream (no byte for `idleTimeoutMs`), an event over `maxEventChars`, and a
 * stream that ends before its terminal event. Cancelling the returned stream (client gone)
 * aborts the upstream. Two restorers plug in: {@link ChatEventRestorer} below (chat and legacy
 * completions: `data:` chunks, `[DONE]` last) and the named-event surfaces (src/surfaces:
 * Responses API, Anthropic Messages). Work per event is linear in the event.
 *
 * Chat: chunks (`choices[]`) are restored field by field with placeholders split across chunks
 * put back together; any other event is restored on its own: JSON events string leaf by string
 * leaf, non-JSON events as text (a placeholder is never passed through unrestored, but one split
 * across two such events cannot be seen). Upstream `{"error":…}` events pass as they came;
 * nothing after `[DONE]` is read.
 */
import { upstreamEventTooLarge, upstreamStreamError, upstreamStreamTruncated, upstreamTimeout, type VeilError } from '../core/errors.js';
import { isObj, restoreLeaves, StreamingResponseRestorer } from './response.js';
import type { Restorer } from './restorer.js';
import { encodeEvent, type OutEvent, SSE_DONE, SseEventTooLargeError, SseParser, sseData } from './sse.js';

export type { OutEvent } from './sse.js';

export interface StreamOutcome {
  readonly status: 'done' | 'truncated' | 'upstream_error' | 'timeout' | 'cancelled' | 'too_large';
  readonly events: number;
}

/** How one kind of stream is restored, event by event (see the file comment). */
export interface EventRestorer {
  /** One upstream event → the events to send (restored). */
  event(name: string | null, data: string): OutEvent[];
  /** Text still held back (stream over or failing) as events, in order. */
  end(): OutEvent[];
  /** Whether the terminal event (`[DONE]`, `response.completed`, `message_stop`…) was seen. */
  readonly complete: boolean;
  /** True: the stream is closed at the terminal event and nothing after it is read (chat's `[DONE]`). */
  readonly closesAtComplete?: boolean;
  /** An in-band failure event in this stream's error shape. */
  failure(err: VeilError): OutEvent;
}

export interface StreamOptions {
  idleTimeoutMs: number;
  abortUpstream: () => void;
  onEnd?: (o: StreamOutcome) => void;
  /** Largest single upstream event (UTF-16 units); a larger one ends the stream in-band. */
  maxEventChars?: number;
}

/** The upstream SSE body re-emitted through `restoration` (see the file comment). */
export function restoreEventStream(upstream: ReadableStream<Uint8Array>, restoration: EventRestorer, opts: StreamOptions): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const parser = new SseParser(opts.maxEventChars);
  let events = 0;
  let finished = false;
  const finish = (status: StreamOutcome['status']) => {
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
  const fail = (c: ReadableStreamDefaultController<Uint8Array>, err: VeilError, status: StreamOutcome['status']) => {
    opts.abortUpstream();
    reader.cancel().catch(() => {});
    send(c, [...restoration.end(), restoration.failure(err)]);
    c.close();
    finish(status);
  };
  const stopped = () => restoration.closesAtComplete === true && restoration.complete;

  /** Reads one upstream chunk; returns true when the stream is over. */
  async function step(c: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), opts.idleTimeoutMs);
      });
      const r = await Promise.race([reader.read(), timeout]);
      if (r === 'timeout') {
        fail(c, upstreamTimeout(undefined, 'The upstream API stopped sending; the stream was ended.'), 'timeout');
        return true;
      }
      for (const ev of r.done ? parser.end() : parser.push(r.value)) {
        if (stopped()) break;
        events++;
        send(c, restoration.event(ev.event, ev.data));
      }
      if (!stopped() && parser.tooLarge) throw parser.tooLarge;
      if (!stopped() && !r.done) return false;
      if (!restoration.complete) {
        fail(c, upstreamStreamTruncated(), 'truncated');
        return true;
      }
      if (!r.done) reader.cancel().catch(() => {});
      send(c, restoration.end());
      c.close();
      finish('done');
      return true;
    } catch (e) {
      if (finished) return true;
      // an oversized event is dropped unread; held text is restored and released first
      if (e instanceof SseEventTooLargeError) fail(c, upstreamEventTooLarge(e.limit), 'too_large');
      else fail(c, upstreamStreamError(), 'upstream_error');
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  return new ReadableStream<Uint8Array>({
    // A pull must enqueue something (or end the stream): a pull that returns empty-handed is
    // not called again, so keep reading while upstream bytes complete no event.
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

const data = (d: string): OutEvent => ({ event: null, data: d });

/** Chat completions and legacy completions streams (see the file comment). */
export class ChatEventRestorer implements EventRestorer {
  private readonly chunks: StreamingResponseRestorer;
  complete = false;
  readonly closesAtComplete = true;

  constructor(
    private readonly restorer: Restorer,
    jsonContent = false,
  ) {
    this.chunks = new StreamingResponseRestorer(restorer, { jsonContent });
  }

  private released(): OutEvent[] {
    return this.chunks.end().map((c) => data(JSON.stringify(c)));
  }

  event(_name: string | null, text: string): OutEvent[] {
    const { chunks, restorer } = this;
    if (text === '[DONE]') {
      this.complete = true;
      return [...this.released(), data('[DONE]')];
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return [data(chunks.active ? restorer.restore(text) : text)];
    }
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      const obj = parsed as Record<string, unknown>;
      // upstream reported a failure in-band: release what is held, then pass the error on
      if ('error' in obj && !('choices' in obj)) return [...this.released(), data(text)];
      if (!chunks.active) return [data(text)];
      if (!Array.isArray(obj.choices)) return [data(restoreLeaves(obj, restorer) ? JSON.stringify(obj) : text)];
      const out = chunks.transform(obj);
      // untouched chunks go out as the upstream wrote them
      return [data(chunks.changed ? JSON.stringify(out) : text)];
    }
    // a JSON array or scalar: restored leaf by leaf too
    const holder = { v: parsed };
    return [data(chunks.active && restoreLeaves(holder, restorer) ? JSON.stringify(holder.v) : text)];
  }

  end(): OutEvent[] {
    return this.released();
  }

  failure(err: VeilError): OutEvent {
    return data(JSON.stringify(err.toBody()));
  }
}

/** A chat or completions stream restored (see the file comment). */
export function restoreSseStream(
  upstream: ReadableStream<Uint8Array>,
  restorer: Restorer,
  opts: StreamOptions & { jsonContent?: boolean },
): ReadableStream<Uint8Array> {
  return restoreEventStream(upstream, new ChatEventRestorer(restorer, opts.jsonContent === true), opts);
}

type Obj = Record<string, unknown>;

/**
 * A complete (already restored) response body as the SSE stream a caller asked for: a
 * `chat.completion` becomes one `chat.completion.chunk` per choice with the whole message as
 * its delta (tool calls given their `index`), then a usage chunk if there was usage; a
 * `text_completion` is sent as one event; anything else as one event as it is. Then `[DONE]`.
 */
export function completionAsSse(body: unknown): ReadableStream<Uint8Array> {
  const events: unknown[] = [];
  if (isObj(body) && body.object === 'chat.completion' && Array.isArray(body.choices)) {
    const { choices, usage, ...top } = body;
    const base = { ...top, object: 'chat.completion.chunk' };
    for (const ch of choices) {
      if (!isObj(ch)) continue;
      const { message, finish_reason, ...rest } = ch;
      const delta: Obj = isObj(message) ? { ...message } : {};
      if (Array.isArray(delta.tool_calls)) delta.tool_calls = delta.tool_calls.map((tc, index) => (isObj(tc) ? { index, ...tc } : tc));
      events.push({ ...base, choices: [{ ...rest, delta, finish_reason: finish_reason ?? null }] });
    }
    if (usage !== undefined && usage !== null) events.push({ ...base, choices: [], usage });
  } else {
    events.push(body);
  }
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const e of events) controller.enqueue(sseData(JSON.stringify(e)));
      controller.enqueue(SSE_DONE);
      controller.close();
    },
  });
}
