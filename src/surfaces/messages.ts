import { badRequest, type VeilError } from '../core/errors.js';
import { jsonStringEscape, type Restorer, type StreamRestorer } from '../restore/restorer.js';
import { type Json, type JsonObject, SlotCollector } from '../sanitize/sanitize.js';
import { isObj, NamedEventRestorer, type OutEvent, restoreLeaves } from './event-stream.js';

/**
 * The Anthropic Messages API (`POST /v1/messages`) described as data for the shared core:
 * - {@link collectMessagesSlots}: `system` (string or text blocks), every message's content
 *   (string, `text` blocks, `tool_use` input values, `tool_result` content, text documents and
 *   their title/context, `thinking` text, search results), tool descriptions and input
 *   schemas, `stop_sequences`, `metadata.user_id`. Images, redacted thinking and signatures
 *   pass as they are; unknown block types have every string leaf masked except structural keys.
 * - {@link restoreMessage}: a `message` (plain answer): every string leaf restored (tool_use
 *   `input` is a JSON object, so no escaping is needed).
 * - {@link MessagesStream}: `content_block_delta` events — `text_delta` text, `input_json_delta`
 *   partial JSON (JSON-escaped) and `thinking_delta` — through one streaming restorer per
 *   (block index, kind); what is held is released as one more `content_block_delta` just before
 *   that block's `content_block_stop`. Other events are restored whole.
 */

type Obj = Record<string, unknown>;

const STRUCTURAL = new Set(['type', 'id', 'tool_use_id', 'name', 'signature', 'data', 'media_type', 'cache_control', 'citations', 'source', 'is_error']);

function blocks(c: SlotCollector, list: Json[], p: string, depth = 0): void {
  list.forEach((b, j) => {
    const pp = `${p}[${j}]`;
    if (!isObj(b)) throw badRequest(`'${pp}' must be an object.`, pp);
    const block = b as JsonObject;
    switch (block.type) {
      case 'text':
        c.text(block, 'text', `${pp}.text`);
        return;
      case 'image':
      case 'redacted_thinking':
        return;
      case 'thinking':
        c.text(block, 'thinking', `${pp}.thinking`);
        return;
      case 'tool_use':
      case 'server_tool_use':
        if (block.input !== undefined) c.leaves(block, 'input', `${pp}.input`);
        return;
      case 'tool_result':
        if (Array.isArray(block.content) && depth < 4) blocks(c, block.content, `${pp}.content`, depth + 1);
        else c.text(block, 'content', `${pp}.content`);
        return;
      case 'document': {
        c.text(block, 'title', `${pp}.title`);
        c.text(block, 'context', `${pp}.context`);
        const src = block.source;
        if (isObj(src) && src.type === 'text') c.text(src as JsonObject, 'data', `${pp}.source.data`);
        else if (isObj(src) && src.type === 'content' && Array.isArray(src.content) && depth < 4) blocks(c, src.content, `${pp}.source.content`, depth + 1);
        return;
      }
      case 'search_result':
        c.text(block, 'title', `${pp}.title`);
        c.text(block, 'source', `${pp}.source`);
        if (Array.isArray(block.content) && depth < 4) blocks(c, block.content, `${pp}.content`, depth + 1);
        return;
      default:
        for (const k of Object.keys(block)) if (!STRUCTURAL.has(k)) c.leaves(block, k, `${pp}.${k}`);
    }
  });
}

/** The slots of a `POST /v1/messages` (or `/v1/messages/count_tokens`) body. */
export function collectMessagesSlots(body: JsonObject): SlotCollector {
  const c = new SlotCollector();
  if (isObj(body.metadata)) c.text(body.metadata as JsonObject, 'user_id', 'metadata.user_id');
  if (Array.isArray(body.system)) blocks(c, body.system, 'system');
  else c.text(body, 'system', 'system');
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw badRequest("'messages' must be a non-empty array.", 'messages');
  messages.forEach((m, i) => {
    const p = `messages[${i}]`;
    if (!isObj(m)) throw badRequest(`'${p}' must be an object.`, p);
    const msg = m as JsonObject;
    if (Array.isArray(msg.content)) blocks(c, msg.content, `${p}.content`);
    else c.text(msg, 'content', `${p}.content`);
  });
  if (Array.isArray(body.tools)) {
    body.tools.forEach((t, i) => {
      if (!isObj(t)) return;
      c.text(t as JsonObject, 'description', `tools[${i}].description`);
      if ((t as JsonObject).input_schema !== undefined) c.schema((t as JsonObject).input_schema!, `tools[${i}].input_schema`);
    });
  }
  if (Array.isArray(body.stop_sequences)) body.stop_sequences.forEach((_, i) => c.text(body.stop_sequences as Json[], i, `stop_sequences[${i}]`));
  return c;
}

/** A `message` object (plain answer): restored in place. */
export function restoreMessage(body: unknown, r: Restorer): void {
  if (isObj(body)) restoreLeaves(body, r);
}

/** Delta kinds: the field holding the text, and whether it is JSON text. */
const DELTA_FIELD: Readonly<Record<string, { field: string; json: boolean }>> = {
  text_delta: { field: 'text', json: false },
  input_json_delta: { field: 'partial_json', json: true },
  thinking_delta: { field: 'thinking', json: false },
};

interface Held {
  readonly index: unknown;
  readonly kind: string;
  readonly r: StreamRestorer;
}

const indexPrefix = (index: unknown) => `${JSON.stringify(index ?? null)}\u0000`;

/** Streaming restoration of one `/v1/messages` stream (see the file comment). */
export class MessagesStream extends NamedEventRestorer<Held> {
  protected released(h: Held, rest: string): OutEvent {
    const spec = DELTA_FIELD[h.kind]!;
    return { event: 'content_block_delta', data: JSON.stringify({ type: 'content_block_delta', index: h.index, delta: { type: h.kind, [spec.field]: rest } }) };
  }

  protected object(name: string | null, ev: Obj, data: string): OutEvent[] {
    const type = typeof ev.type === 'string' ? ev.type : (name ?? '');
    if (type === 'content_block_delta' && isObj(ev.delta) && typeof ev.delta.type === 'string' && DELTA_FIELD[ev.delta.type]) {
      const delta = ev.delta as Obj;
      const kind = delta.type as string;
      const spec = DELTA_FIELD[kind]!;
      const v = delta[spec.field];
      if (typeof v === 'string') {
        const key = `${indexPrefix(ev.index)}${kind}`;
        let h = this.held.get(key);
        if (!h) this.held.set(key, (h = { index: ev.index, kind, r: this.restorer.stream(spec.json ? jsonStringEscape : undefined) }));
        const out = h.r.push(v);
        if (out === v) return [{ event: name, data }];
        delta[spec.field] = out;
        return [{ event: name, data: JSON.stringify(ev) }];
      }
    }
    const out: OutEvent[] = [];
    if (type === 'content_block_stop') {
      const prefix = indexPrefix(ev.index);
      out.push(...this.release((k) => k.startsWith(prefix)));
    } else if (type === 'message_stop' || type === 'error') {
      out.push(...this.end());
      this.complete = true;
    }
    const changed = restoreLeaves(ev, this.restorer);
    out.push({ event: name, data: changed ? JSON.stringify(ev) : data });
    return out;
  }

  failure(err: VeilError): OutEvent {
    return { event: 'error', data: JSON.stringify({ type: 'error', error: { type: 'api_error', message: err.message } }) };
  }
}

/** Anthropic's error `type` for an HTTP status. */
export function anthropicErrorType(status: number): string {
  if (status === 400 || status === 422) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 504) return 'timeout_error';
  if (status === 529 || status === 503) return 'overloaded_error';
  return 'api_error';
}
