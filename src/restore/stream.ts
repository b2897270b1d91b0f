/**
 * Re-reads an upstream SSE body and re-emits it with placeholders restored. Chunks
 * (`choices[]`) are restored field by field with placeholders split across chunks put back
 * together; any other event is restored on its own: JSON events string leaf by string leaf,
 * non-JSON events as text (a placeholder is never passed through unrestored, but one split
 * across two such events cannot be seen). Upstream `{"error":…}` events pass as they came. Failures after the 200 are reported in-band as
 * `data: {"error":{…}}` (a stream that just stops raises nothing in the OpenAI client):
 * upstream network errors, an idle upstream (no byte for `idleTimeoutMs`), and a stream that
 * ends without `[DONE]`, an event over `maxEventChars`. Cancelling the returned stream (client gone) aborts the upstream.
 */
import { upstreamEventTooLarge, upstreamStreamError, upstreamStreamTruncated, upstreamTimeout, type VeilError } from '../core/errors.js';
import { StreamingResponseRestorer } from './response.js';
import type { Restorer } from './restorer.js';
import { SSE_DONE, SseEventTooLargeError, SseParser, sseData } from './sse.js';

export interface StreamOutcome {
  readonly status: 'done' | 'truncated' | 'upstream_error' | 'timeout' | 'cancelled' | 'too_large';
  readonly events: number;
}

export function restoreSseStream(
  upstream: ReadableStream<Uint8Array>,
  restorer: Restorer,
  opts: {
    idleTimeoutMs: number;
    abortUpstream: () => void;
    onEnd?: (o: StreamOutcome) => void;
    jsonContent?: boolean;
    /** Largest single upstream event (UTF-16 units); a larger one ends the stream in-band. */
    maxEventChars?: number;
  },
): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const parser = new SseParser(opts.maxEventChars);
  const chunks = new StreamingResponseRestorer(restorer, { jsonContent: opts.jsonContent === true });
  let events = 0;
  let finished = false;
  const finish = (o: StreamOutcome['status']) => {
    if (finished) return;
    finished = true;
    opts.onEnd?.({ status: o, events });
  };

  const emitEvent = (controller: ReadableStreamDefaultController<Uint8Array>, data: string): boolean => {
    events++;
    if (data === '[DONE]') {
      for (const c of chunks.end()) controller.enqueue(sseData(JSON.stringify(c)));
      controller.enqueue(SSE_DONE);
      return true;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      controller.enqueue(sseData(chunks.active ? restorer.restore(data) : data));
      return false;
    }
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      const obj = parsed as Record<string, unknown>;
      if ('error' in obj && !('choices' in obj)) {
        // upstream reported a failure in-band: release what is held, then pass the error on
        for (const c of chunks.end()) controller.enqueue(sseData(JSON.stringify(c)));
        controller.enqueue(sseData(data));
        return false;
      }
      if (!chunks.active) {
        controller.enqueue(sseData(data));
        return false;
      }
      if (!Array.isArray(obj.choices)) {
        controller.enqueue(sseData(restoreLeaves(obj, restorer) ? JSON.stringify(obj) : data));
        return false;
      }
      const out = chunks.transform(obj);
      // untouched chunks go out as the upstream wrote them
      controller.enqueue(sseData(chunks.changed ? JSON.stringify(out) : data));
      return false;
    }
    // a JSON array or scalar: restored leaf by leaf too
    const holder = { v: parsed };
    controller.enqueue(sseData(chunks.active && restoreLeaves(holder, restorer) ? JSON.stringify(holder.v) : data));
    return false;
  };

  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, err: VeilError) => {
    for (const c of chunks.end()) controller.enqueue(sseData(JSON.stringify(c)));
    controller.enqueue(sseData(JSON.stringify(err.toBody())));
    controller.close();
  };

  let sawDone = false;
  let enqueued = 0;
  const counting = (controller: ReadableStreamDefaultController<Uint8Array>): ReadableStreamDefaultController<Uint8Array> => ({
    get desiredSize() {
      return controller.desiredSize;
    },
    enqueue(chunk: Uint8Array) {
      enqueued++;
      controller.enqueue(chunk);
    },
    close: () => controller.close(),
    error: (e?: unknown) => controller.error(e),
  });

  /** Reads one upstream chunk; returns true when the stream is over. */
  async function step(controller: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), opts.idleTimeoutMs);
      });
      const r = await Promise.race([reader.read(), timeout]);
      if (r === 'timeout') {
        opts.abortUpstream();
        reader.cancel().catch(() => {});
        fail(controller, upstreamTimeout(undefined, 'The upstream API stopped sending; the stream was ended.'));
        finish('timeout');
        return true;
      }
      if (r.done) {
        for (const ev of parser.end()) if (!sawDone) sawDone = emitEvent(controller, ev.data);
        if (!sawDone && parser.tooLarge) throw parser.tooLarge;
        if (sawDone) {
          controller.close();
          finish('done');
        } else {
          fail(controller, upstreamStreamTruncated());
          finish('truncated');
        }
        return true;
      }
      for (const ev of parser.push(r.value)) {
        if (sawDone) break; // nothing after [DONE]
        sawDone = emitEvent(controller, ev.data);
      }
      if (!sawDone && parser.tooLarge) throw parser.tooLarge;
      if (sawDone) {
        reader.cancel().catch(() => {});
        controller.close();
        finish('done');
        return true;
      }
      return false;
    } catch (e) {
      if (finished) return true;
      if (e instanceof SseEventTooLargeError) {
        // the oversized event is dropped unread; held text is restored and released first
        opts.abortUpstream();
        reader.cancel().catch(() => {});
        fail(controller, upstreamEventTooLarge(e.limit));
        finish('too_large');
        return true;
      }
      fail(controller, upstreamStreamError());
      finish('upstream_error');
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  let counted: ReadableStreamDefaultController<Uint8Array> | null = null;
  return new ReadableStream<Uint8Array>({
    // A pull must enqueue something (or end the stream): a pull that returns empty-handed is
    // not called again, so keep reading while upstream bytes complete no event.
    async pull(controller) {
      const c = (counted ??= counting(controller));
      const before = enqueued;
      while (enqueued === before) {
        if (await step(c)) return;
      }
    },
    cancel() {
      opts.abortUpstream();
      reader.cancel().catch(() => {});
      finish('cancelled');
    },
  });
}

/** Restores every string leaf of a parsed JSON value in place (bounded depth); true if any changed. */
function restoreLeaves(root: Record<string, unknown> | unknown[], restorer: Restorer): boolean {
  let changed = false;
  const walk = (node: Record<string, unknown> | unknown[], depth: number) => {
    if (depth > 64) return;
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    for (const k of keys) {
      const v = (node as Record<string | number, unknown>)[k];
      if (typeof v === 'string') {
        const r = restorer.restore(v);
        if (r !== v) {
          (node as Record<string | number, unknown>)[k] = r;
          changed = true;
        }
      } else if (typeof v === 'object' && v !== null) {
        walk(v as Record<string, unknown>, depth + 1);
      }
    }
  };
  walk(root, 0);
  return changed;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

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
