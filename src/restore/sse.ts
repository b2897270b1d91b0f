/**
 * Server-sent events, as the OpenAI API speaks them: `data: <json>\n\n` events, `data: [DONE]`
 * last, `: comment` lines ignored. An incremental parser (bytes may split anywhere, including
 * inside a multi-byte character or a CRLF) and the matching writer.
 */

export interface SseEvent {
  readonly event: string | null;
  readonly data: string;
}

/** One event (its data plus the line being read) grew past the parser's limit. */
export class SseEventTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`an SSE event is larger than ${limit} characters`);
    this.name = 'SseEventTooLargeError';
  }
}

const LINE_END = /\r\n|\r|\n/g;

/**
 * Linear in the bytes fed, however they are chunked: each chunk is scanned once (an unfinished
 * line is kept as a list of pieces and joined once, when its end arrives). Hand-written rather
 * than `eventsource-parser`, which re-scans its unfinished line on every chunk (one long
 * `data:` line fed in small chunks is quadratic there) and has no size limit. `maxEventChars`
 * bounds one event: its data lines plus the line being read, in UTF-16 units (≈ bytes for
 * JSON); past it the parser stops and reports it in {@link SseParser.tooLarge}.
 */
export class SseParser {
  private pending: string[] = [];
  private pendingLen = 0;
  private data: string[] = [];
  private dataLen = 0;
  private event: string | null = null;
  private readonly decoder = new TextDecoder();
  private sawCR = false;

  constructor(private readonly maxEventChars = Number.POSITIVE_INFINITY) {}

  /** Set once an event outgrew the limit: nothing more is parsed. */
  tooLarge: SseEventTooLargeError | null = null;

  /**
   * Feeds bytes (or text); returns the events completed by them. When an event outgrows the
   * limit, the events completed before it are returned and {@link tooLarge} is set.
   */
  push(chunk: Uint8Array | string): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.tooLarge) return out;
    try {
      this.feed(chunk, out);
    } catch (e) {
      if (!(e instanceof SseEventTooLargeError)) throw e;
      this.tooLarge = e;
    }
    return out;
  }

  private feed(chunk: Uint8Array | string, out: SseEvent[]): void {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    // A trailing lone \r may be the first half of \r\n split across chunks.
    if (this.sawCR && text.startsWith('\n')) text = text.slice(1);
    this.sawCR = text.endsWith('\r');
    if (text.length === 0) return;
    let pos = 0;
    LINE_END.lastIndex = 0;
    for (let m = LINE_END.exec(text); m !== null; m = LINE_END.exec(text)) {
      let line = text.slice(pos, m.index);
      if (this.pending.length > 0) {
        this.pending.push(line);
        line = this.pending.join('');
        this.pending = [];
        this.pendingLen = 0;
      }
      pos = m.index + m[0].length;
      this.check(line.length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    if (pos < text.length) {
      const rest = text.slice(pos);
      this.pending.push(rest);
      this.pendingLen += rest.length;
      this.check(0);
    }
  }

  /** End of stream: a final event without its blank line is still dispatched. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.tooLarge) return out;
    const rest = this.pending.join('') + this.decoder.decode();
    this.pending = [];
    this.pendingLen = 0;
    if (rest.length > 0) {
      if (this.dataLen + rest.length > this.maxEventChars) {
        this.tooLarge = new SseEventTooLargeError(this.maxEventChars);
        return out;
      }
      const ev = this.line(rest);
      if (ev) out.push(ev);
    }
    const ev = this.line('');
    if (ev) out.push(ev);
    return out;
  }

  private check(lineLen: number): void {
    if (this.dataLen + this.pendingLen + lineLen > this.maxEventChars) {
      this.pending = [];
      this.data = [];
      throw new SseEventTooLargeError(this.maxEventChars);
    }
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = null;
        return null;
      }
      const ev = { event: this.event, data: this.data.join('\n') };
      this.data = [];
      this.dataLen = 0;
      this.event = null;
      return ev;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.data.push(value);
      this.dataLen += value.length + 1;
    } else if (field === 'event') this.event = value;
    return null;
  }
}

const encoder = new TextEncoder();

/** An event to write: its `event:` name (none for chat's plain `data:` events) and data. */
export interface OutEvent {
  readonly event: string | null;
  readonly data: string;
}

export function encodeEvent(e: OutEvent): Uint8Array {
  return encoder.encode(`${e.event !== null ? `event: ${e.event}\n` : ''}data: ${e.data}\n\n`);
}

export function sseData(data: string): Uint8Array {
  return encodeEvent({ event: null, data });
}

export const SSE_DONE = sseData('[DONE]');
