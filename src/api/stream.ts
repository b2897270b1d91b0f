import { StreamingResponseRestorer } from '../mask/response.js';
import type { Restorer } from '../mask/restore.js';
import { SSE_DONE, SseParser, sseData } from './sse.js';

/**
 * Re-reads an upstream SSE body and re-emits it with placeholders restored. Events that are
 * not JSON chunks pass through as they came. Failures after the 200 are reported in-band as
 * `data: {"error":{…}}` (a stream that just stops raises nothing in the OpenAI client):
 * upstream network errors, an idle upstream (no byte for `idleTimeoutMs`), and a stream that
 * ends without `[DONE]`. Cancelling the returned stream (client gone) aborts the upstream.
 */
export interface StreamOutcome {
  readonly status: 'done' | 'truncated' | 'upstream_error' | 'timeout' | 'cancelled';
  readonly events: number;
}

export function restoreSseStream(
  upstream: ReadableStream<Uint8Array>,
  restorer: Restorer,
  opts: { idleTimeoutMs: number; abortUpstream: () => void; onEnd?: (o: StreamOutcome) => void; jsonContent?: boolean },
): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const parser = new SseParser();
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
      controller.enqueue(sseData(data));
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
      const out = chunks.transform(obj);
      // untouched chunks go out as the upstream wrote them
      controller.enqueue(sseData(chunks.changed ? JSON.stringify(out) : data));
      return false;
    }
    controller.enqueue(sseData(data));
    return false;
  };

  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, message: string, code: string) => {
    for (const c of chunks.end()) controller.enqueue(sseData(JSON.stringify(c)));
    controller.enqueue(sseData(JSON.stringify({ error: { message, type: 'upstream_error', param: null, code } })));
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
        fail(controller, 'The upstream API stopped sending; the stream was ended.', 'upstream_timeout');
        finish('timeout');
        return true;
      }
      if (r.done) {
        for (const ev of parser.end()) if (!sawDone) sawDone = emitEvent(controller, ev.data);
        if (sawDone) {
          controller.close();
          finish('done');
        } else {
          fail(controller, 'The upstream stream ended before it was complete.', 'upstream_stream_truncated');
          finish('truncated');
        }
        return true;
      }
      for (const ev of parser.push(r.value)) {
        if (sawDone) break; // nothing after [DONE]
        sawDone = emitEvent(controller, ev.data);
      }
      if (sawDone) {
        reader.cancel().catch(() => {});
        controller.close();
        finish('done');
        return true;
      }
      return false;
    } catch {
      if (finished) return true;
      fail(controller, 'The connection to the upstream API failed during the stream.', 'upstream_stream_error');
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
