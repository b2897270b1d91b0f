/**
 * Server-sent events, as the OpenAI API speaks them: `data: <json>\n\n` events, `data: [DONE]`
 * last, `: comment` lines ignored. An incremental parser (bytes may split anywhere, including
 * inside a multi-byte character or a CRLF) and the matching writer.
 */

export interface SseEvent {
  readonly event: string | null;
  readonly data: string;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event: string | null = null;
  private readonly decoder = new TextDecoder();
  private sawCR = false;

  /** Feeds bytes (or text); returns the events completed by them. */
  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.sawCR && text.startsWith('\n')) text = text.slice(1);
    this.sawCR = text.endsWith('\r');
    this.buffer += text;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A trailing lone \r may be the first half of \r\n: handled by sawCR above.
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  /** End of stream: a final event without its blank line is still dispatched. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    const rest = this.buffer + this.decoder.decode();
    this.buffer = '';
    if (rest.length > 0) {
      const ev = this.line(rest);
      if (ev) out.push(ev);
    }
    const ev = this.line('');
    if (ev) out.push(ev);
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = null;
        return null;
      }
      const ev = { event: this.event, data: this.data.join('\n') };
      this.data = [];
      this.event = null;
      return ev;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    return null;
  }
}

const encoder = new TextEncoder();

export function sseData(data: string): Uint8Array {
  return encoder.encode(`data: ${data}\n\n`);
}

export const SSE_DONE = sseData('[DONE]');
