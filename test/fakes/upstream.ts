/**
 * STAND-IN FOR THE NETWORK: an OpenAI-compatible upstream on loopback (node:http, random port).
 * It speaks the exact wire format of api.openai.com — JSON bodies, `data: …\n\n` SSE events,
 * `data: [DONE]`, error bodies `{"error":{message,type,param,code}}` — and records every body
 * it receives, so tests can prove the upstream never saw a PII value.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly raw: string;
  readonly body: any;
}

export type Reply =
  | { kind: 'json'; status?: number; body: unknown; headers?: Record<string, string> }
  | {
      kind: 'sse';
      /** Each entry is one event's data (an object is JSON-serialized, a string sent as is). */
      events: (unknown | string)[];
      /** Write the byte stream in pieces of 1..maxWrite bytes (default: one write per event). */
      maxWrite?: number;
      /** Omit `data: [DONE]`. */
      noDone?: boolean;
      /**
       * Typed events as the Responses and Anthropic APIs send them: `event: <data.type>` before
       * each `data:` line, and no `[DONE]`.
       */
      named?: boolean;
      /** Destroy the socket after this many events (mid-stream disconnect). */
      disconnectAfter?: number;
      /** Stop sending (but keep the socket open) after this many events. */
      stallAfter?: number;
      delayMs?: number;
    }
  | { kind: 'hang' }
  | { kind: 'destroy' };

export type Handler = (req: Received) => Reply | Promise<Reply>;

export interface FakeUpstream {
  readonly url: string;
  readonly received: Received[];
  /** Bodies of every request received, as raw text, concatenated (for "no PII upstream" checks). */
  allRaw(): string;
  handler: Handler;
  /** Resolves when a request's connection closes before its response finished (client abort seen). */
  aborted: number;
  close(): Promise<void>;
}

export async function startFakeUpstream(handler: Handler = defaultHandler, port = 0): Promise<FakeUpstream> {
  const received: Received[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const state: FakeUpstream = {
    url: '',
    received,
    allRaw: () => received.map((r) => r.raw).join('\n'),
    handler,
    aborted: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      body = null;
    }
    const path = (req.url ?? '/').replace(/^\/v1/, '');
    const rec: Received = { method: req.method ?? 'GET', path, headers: req.headers, raw, body };
    received.push(rec);
    let finished = false;
    res.on('finish', () => (finished = true));
    res.on('close', () => {
      if (!finished) state.aborted++;
    });
    const reply = await state.handler(rec);
    await send(res, reply);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  (state as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return state;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function send(res: ServerResponse, reply: Reply): Promise<void> {
  switch (reply.kind) {
    case 'hang':
      return;
    case 'destroy':
      res.socket?.destroy();
      return;
    case 'json':
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', 'x-request-id': 'upstream-req-1', ...reply.headers });
      res.end(JSON.stringify(reply.body));
      return;
    case 'sse': {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'upstream-req-1' });
      res.flushHeaders();
      const frames = reply.events.map(
        (e) =>
          `${reply.named && typeof e === 'object' && e !== null ? `event: ${(e as { type: string }).type}\n` : ''}data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`,
      );
      if (!reply.noDone && !reply.named && reply.disconnectAfter === undefined && reply.stallAfter === undefined) frames.push('data: [DONE]\n\n');
      for (let i = 0; i < frames.length; i++) {
        if (reply.disconnectAfter !== undefined && i >= reply.disconnectAfter) {
          await sleep(50); // let what was written reach the wire: destroy() drops pending writes
          res.socket?.destroy();
          return;
        }
        if (reply.stallAfter !== undefined && i >= reply.stallAfter) return;
        const bytes = Buffer.from(frames[i]!, 'utf8');
        if (reply.maxWrite) {
          let o = 0;
          while (o < bytes.length) {
            const n = 1 + Math.floor(Math.random() * reply.maxWrite);
            res.write(bytes.subarray(o, o + n));
            o += n;
          }
        } else {
          res.write(bytes);
        }
        if (reply.delayMs) await sleep(reply.delayMs);
        if (res.destroyed) return;
      }
      if (reply.disconnectAfter !== undefined) {
        res.socket?.destroy();
        return;
      }
      if (reply.stallAfter !== undefined) return;
      res.end();
      return;
    }
  }
}

// ---- wire-format builders -------------------------------------------------------------------

let seq = 0;
const CREATED = 1_763_900_000;

export function chatCompletion(contents: string[], extra: Record<string, unknown> = {}) {
  return {
    id: `chatcmpl-fake${++seq}`,
    object: 'chat.completion',
    created: CREATED,
    model: 'gpt-fake',
    choices: contents.map((content, index) => ({
      index,
      message: { role: 'assistant', content, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: 'stop',
    })),
    usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 },
    system_fingerprint: 'fp_fake',
    service_tier: 'default',
    ...extra,
  };
}

/** Splits a text into pieces of 1..3 characters (deterministic from `seed`). */
export function smallPieces(text: string, seed = 7): string[] {
  const out: string[] = [];
  let i = 0;
  let s = seed;
  while (i < text.length) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (s % 3);
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}

/** `chat.completion.chunk` events for several choices, interleaved, content in the given pieces. */
export function chatChunks(
  choices: string[][],
  opts: { usage?: boolean; id?: string; extraTop?: Record<string, unknown>; finishReason?: string } = {},
) {
  const id = opts.id ?? `chatcmpl-fake${++seq}`;
  const base = { id, object: 'chat.completion.chunk', created: CREATED, model: 'gpt-fake', system_fingerprint: 'fp_fake', ...opts.extraTop };
  const events: unknown[] = [];
  choices.forEach((_, index) => {
    events.push({ ...base, choices: [{ index, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }] });
  });
  const longest = Math.max(...choices.map((c) => c.length));
  for (let k = 0; k < longest; k++) {
    choices.forEach((pieces, index) => {
      if (k < pieces.length) {
        events.push({ ...base, choices: [{ index, delta: { content: pieces[k] }, logprobs: null, finish_reason: null }] });
      }
    });
  }
  choices.forEach((_, index) => {
    events.push({ ...base, choices: [{ index, delta: {}, logprobs: null, finish_reason: opts.finishReason ?? 'stop' }] });
  });
  if (opts.usage) events.push({ ...base, choices: [], usage: { prompt_tokens: 11, completion_tokens: 22, total_tokens: 33 } });
  return events;
}

/** A streamed tool call whose arguments arrive in the given pieces. */
export function toolCallChunks(name: string, argPieces: string[], callId = 'call_fake1') {
  const base = { id: `chatcmpl-fake${++seq}`, object: 'chat.completion.chunk', created: CREATED, model: 'gpt-fake' };
  const events: unknown[] = [
    {
      ...base,
      choices: [
        {
          index: 0,
          delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: callId, type: 'function', function: { name, arguments: '' } }] },
          finish_reason: null,
        },
      ],
    },
  ];
  for (const p of argPieces) {
    events.push({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: p } }] }, finish_reason: null }] });
  }
  events.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] });
  return events;
}

export function errorBody(message: string, type: string, code: string | null = null, param: string | null = null) {
  return { error: { message, type, param, code } };
}

/** The last user message's text (string content or text parts). */
export function lastUserText(body: any): string {
  const msgs = (body?.messages ?? []) as any[];
  const m = [...msgs].reverse().find((x) => x.role === 'user');
  if (!m) return '';
  if (typeof m.content === 'string') return m.content;
  return (m.content ?? []).map((p: any) => p.text ?? '').join('');
}

/** Echoes the last user message back, plain or streamed in 1–3 character pieces. */
export const defaultHandler: Handler = (req) => {
  if (req.path === '/models') return { kind: 'json', body: { object: 'list', data: [{ id: 'gpt-fake', object: 'model', created: CREATED, owned_by: 'veil-tests' }] } };
  if (req.path === '/embeddings') {
    const inputs = Array.isArray(req.body.input) ? req.body.input : [req.body.input];
    const vector = [0.1, -0.2, 0.3];
    // The official client asks for base64 unless told otherwise, as api.openai.com supports.
    const embedding =
      req.body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
    return {
      kind: 'json',
      body: {
        object: 'list',
        data: inputs.map((_: unknown, index: number) => ({ object: 'embedding', index, embedding })),
        model: req.body.model,
        usage: { prompt_tokens: 5, total_tokens: 5 },
      },
    };
  }
  if (req.path === '/completions') {
    const prompt = Array.isArray(req.body.prompt) ? req.body.prompt.join(' ') : req.body.prompt;
    const text = `Echo: ${prompt}`;
    if (req.body.stream) {
      const base = { id: 'cmpl-fake', object: 'text_completion', created: CREATED, model: 'gpt-fake' };
      return {
        kind: 'sse',
        events: [
          ...smallPieces(text).map((t) => ({ ...base, choices: [{ index: 0, text: t, logprobs: null, finish_reason: null }] })),
          { ...base, choices: [{ index: 0, text: '', logprobs: null, finish_reason: 'stop' }] },
        ],
      };
    }
    return {
      kind: 'json',
      body: { id: 'cmpl-fake', object: 'text_completion', created: CREATED, model: 'gpt-fake', choices: [{ index: 0, text, logprobs: null, finish_reason: 'stop' }] },
    };
  }
  const text = `You said: ${lastUserText(req.body)}`;
  const n = typeof req.body.n === 'number' ? req.body.n : 1;
  if (req.body.stream) {
    return {
      kind: 'sse',
      events: chatChunks(Array.from({ length: n }, (_, i) => smallPieces(text, i + 1)), { usage: req.body.stream_options?.include_usage === true }),
    };
  }
  return { kind: 'json', body: chatCompletion(Array.from({ length: n }, () => text)) };
};
