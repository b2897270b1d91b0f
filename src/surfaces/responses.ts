import { badRequest, type VeilError } from '../core/errors.js';
import { jsonStringEscape, type Restorer, type StreamRestorer } from '../restore/restorer.js';
import { collectCommonSlots, type Json, type JsonObject, SlotCollector } from '../sanitize/sanitize.js';
import { isObj, NamedEventRestorer, type OutEvent, restoreLeaves } from './event-stream.js';

/**
 * The OpenAI Responses API (`POST /v1/responses`, `GET /v1/responses/{id}`) described as data
 * for the shared sanitize/restore core:
 * - {@link collectResponsesSlots}: every text a model reads in a request — `instructions`,
 *   `input` (a string, or items: messages and their `input_text`/`output_text`/refusal parts,
 *   `function_call` arguments, `function_call_output`, custom tool calls, reasoning summaries,
 *   search calls), tool descriptions and parameter schemas, the `text.format` JSON schema,
 *   prompt variables, and the common fields (`user`, `metadata`…). Unknown item types have
 *   every string leaf masked except structural keys (fail closed).
 * - {@link restoreResponseObject}: a `response` object (plain answer, `GET`, or inside stream
 *   events): every string leaf restored, tool-call `arguments` (and structured output text)
 *   JSON-escaped.
 * - {@link ResponsesStream}: the semantic stream events; `*.delta` texts go through one
 *   streaming restorer per (event family, item, part), so a placeholder split across deltas
 *   comes out whole; what is held is released as one extra delta just before the matching
 *   `*.done` (or before the terminal event). `*.done`, `content_part.*`, `output_item.*` and
 *   `response.*` events carry full texts and are restored whole.
 */

type Obj = Record<string, unknown>;

/** Keys of input items that are structure (ids, kinds), never masked. */
const STRUCTURAL = new Set(['type', 'id', 'call_id', 'status', 'role', 'name', 'encrypted_content', 'signature', 'image_url', 'file_id', 'file_data', 'detail', 'format']);

function contentParts(c: SlotCollector, parts: Json[], p: string): void {
  parts.forEach((part, j) => {
    const pp = `${p}[${j}]`;
    if (!isObj(part)) throw badRequest(`'${pp}' must be an object.`, pp);
    // input_text / output_text / summary_text / reasoning_text: `text`; refusal parts; file names.
    // Images, audio and file data pass as they are (README "Which fields are sanitized").
    c.text(part as JsonObject, 'text', `${pp}.text`);
    c.text(part as JsonObject, 'refusal', `${pp}.refusal`);
    c.text(part as JsonObject, 'filename', `${pp}.filename`);
    c.text(part as JsonObject, 'transcript', `${pp}.transcript`);
  });
}

function textOrParts(c: SlotCollector, obj: JsonObject, key: string, p: string): void {
  const v = obj[key];
  if (Array.isArray(v)) contentParts(c, v, `${p}.${key}`);
  else if (isObj(v)) c.leaves(obj, key, `${p}.${key}`);
  else c.text(obj, key, `${p}.${key}`);
}

function inputItem(c: SlotCollector, item: JsonObject, p: string): void {
  const type = typeof item.type === 'string' ? item.type : 'message';
  switch (type) {
    case 'message':
      textOrParts(c, item, 'content', p);
      return;
    case 'function_call':
      c.jsonText(item, 'arguments', `${p}.arguments`);
      return;
    case 'function_call_output':
    case 'custom_tool_call_output':
    case 'local_shell_call_output':
    case 'shell_call_output':
    case 'mcp_approval_response':
      if (typeof item.output === 'string') c.jsonText(item, 'output', `${p}.output`);
      else textOrParts(c, item, 'output', p);
      c.text(item, 'reason', `${p}.reason`);
      return;
    case 'custom_tool_call':
      c.text(item, 'input', `${p}.input`);
      return;
    case 'reasoning':
      if (Array.isArray(item.summary)) contentParts(c, item.summary, `${p}.summary`);
      if (Array.isArray(item.content)) contentParts(c, item.content, `${p}.content`);
      return;
    case 'item_reference':
      return;
    default:
      // web/file search calls, MCP calls and anything newer: every string leaf a model may read
      for (const k of Object.keys(item)) if (!STRUCTURAL.has(k)) c.leaves(item, k, `${p}.${k}`);
  }
}

/** The slots of a `POST /v1/responses` body (mutated in place once masked; see sanitizeWith). */
export function collectResponsesSlots(body: JsonObject): SlotCollector {
  const c = new SlotCollector();
  collectCommonSlots(c, body);
  const input = body.input;
  if (typeof input === 'string' || input === undefined || input === null) c.text(body, 'input', 'input');
  else if (Array.isArray(input)) {
    input.forEach((item, i) => {
      if (!isObj(item)) throw badRequest(`'input[${i}]' must be an object.`, `input[${i}]`);
      inputItem(c, item as JsonObject, `input[${i}]`);
    });
  } else throw badRequest("'input' must be a string or an array of input items.", 'input');
  const ins = body.instructions;
  if (Array.isArray(ins)) ins.forEach((item, i) => isObj(item) && inputItem(c, item as JsonObject, `instructions[${i}]`));
  else c.text(body, 'instructions', 'instructions');
  if (Array.isArray(body.tools)) {
    body.tools.forEach((t, i) => {
      if (!isObj(t)) return;
      const tool = t as JsonObject;
      const p = `tools[${i}]`;
      c.text(tool, 'description', `${p}.description`);
      c.text(tool, 'server_description', `${p}.server_description`);
      if (tool.parameters !== undefined) c.schema(tool.parameters, `${p}.parameters`);
      if (isObj(tool.user_location)) {
        const loc = tool.user_location as JsonObject;
        // `type`, an ISO country code and an IANA time zone are codes (see the chat collector)
        for (const k of Object.keys(loc)) {
          const v = loc[k];
          const code = k === 'type' || (typeof v === 'string' && ((k === 'country' && /^[A-Za-z]{2}$/.test(v)) || (k === 'timezone' && /^[A-Za-z]+(?:\/[A-Za-z0-9_+-]+){0,2}$/.test(v))));
          if (!code) c.leaves(loc, k, `${p}.user_location.${k}`);
        }
      }
    });
  }
  const text = body.text;
  if (isObj(text) && isObj(text.format)) {
    const f = text.format as JsonObject;
    c.text(f, 'description', 'text.format.description');
    if (f.schema !== undefined) c.schema(f.schema, 'text.format.schema');
  }
  if (isObj(body.prompt) && isObj((body.prompt as JsonObject).variables)) {
    const vars = (body.prompt as JsonObject).variables as JsonObject;
    for (const k of Object.keys(vars)) {
      if (typeof vars[k] === 'string') c.text(vars, k, 'prompt.variables');
      else if (isObj(vars[k])) c.leaves(vars, k, 'prompt.variables');
    }
  }
  return c;
}

/** Whether the response's output text is JSON (structured output): restored values are then JSON-escaped. */
export function jsonOutput(body: unknown): boolean {
  const t = isObj(body) && isObj(body.text) && isObj(body.text.format) ? body.text.format.type : undefined;
  return t === 'json_schema' || t === 'json_object';
}

/** Which string leaves hold JSON text: tool-call `arguments`, and output text under structured output. */
const jsonKeyFor = (jsonText: boolean) => (key: string | number, parent: Obj | unknown[]) =>
  key === 'arguments' ||
  (jsonText && key === 'text' && !Array.isArray(parent) && (parent.type === 'output_text' || parent.type === 'response.output_text.done' || parent.type === undefined));

/** A `response` object (plain answer or `GET`): restored in place. */
export function restoreResponseObject(body: unknown, r: Restorer, jsonText = jsonOutput(body)): void {
  if (isObj(body)) restoreLeaves(body, r, jsonKeyFor(jsonText));
}

/** Delta event families: the field holding the delta, the done event, and its full-text field. */
const DELTAS: Readonly<Record<string, { done: string; field: string; json?: 'always' | 'structured' }>> = {
  'response.output_text.delta': { done: 'response.output_text.done', field: 'text', json: 'structured' },
  'response.refusal.delta': { done: 'response.refusal.done', field: 'refusal' },
  'response.function_call_arguments.delta': { done: 'response.function_call_arguments.done', field: 'arguments', json: 'always' },
  'response.custom_tool_call_input.delta': { done: 'response.custom_tool_call_input.done', field: 'input' },
  'response.reasoning_summary_text.delta': { done: 'response.reasoning_summary_text.done', field: 'text' },
  'response.reasoning_text.delta': { done: 'response.reasoning_text.done', field: 'text' },
  'response.output_audio_transcript.delta': { done: 'response.output_audio_transcript.done', field: 'transcript' },
  'response.audio.transcript.delta': { done: 'response.audio.transcript.done', field: 'transcript' },
  'response.mcp_call_arguments.delta': { done: 'response.mcp_call_arguments.done', field: 'arguments', json: 'always' },
};
const DONE_TO_DELTA = new Map(Object.entries(DELTAS).map(([d, v]) => [v.done, d]));
const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed', 'error']);

interface Held {
  readonly type: string;
  /** The delta event the state was made from (its ids, written into a released delta). */
  readonly template: Obj;
  readonly r: StreamRestorer;
}

const partKey = (type: string, ev: Obj) =>
  `${type}\u0000${JSON.stringify([ev.item_id ?? null, ev.output_index ?? null, ev.content_index ?? ev.summary_index ?? null])}`;

/** Streaming restoration of one `/v1/responses` stream (see the file comment). */
export class ResponsesStream extends NamedEventRestorer<Held> {
  private lastSeq: unknown = undefined;

  constructor(
    restorer: Restorer,
    private readonly structured: boolean,
  ) {
    super(restorer);
  }

  protected released(h: Held, rest: string): OutEvent {
    const { delta: _d, obfuscation: _o, ...ids } = h.template;
    const ev: Obj = { ...ids, delta: rest };
    if (this.lastSeq !== undefined) ev.sequence_number = this.lastSeq;
    return { event: h.type, data: JSON.stringify(ev) };
  }

  protected object(name: string | null, ev: Obj, data: string): OutEvent[] {
    const type = typeof ev.type === 'string' ? ev.type : (name ?? '');
    if (ev.sequence_number !== undefined) this.lastSeq = ev.sequence_number;
    const spec = DELTAS[type];
    if (spec && typeof ev.delta === 'string') {
      const key = partKey(type, ev);
      let h = this.held.get(key);
      if (!h) {
        const json = spec.json === 'always' || (spec.json === 'structured' && this.structured);
        this.held.set(key, (h = { type, template: ev, r: this.restorer.stream(json ? jsonStringEscape : undefined) }));
      }
      const out = h.r.push(ev.delta);
      if (out === ev.delta) return [{ event: name, data }];
      ev.delta = out;
      return [{ event: name, data: JSON.stringify(ev) }];
    }
    const out: OutEvent[] = [];
    const deltaType = DONE_TO_DELTA.get(type);
    if (deltaType) {
      const key = partKey(deltaType, ev);
      out.push(...this.release((k) => k === key));
    } else if (TERMINAL.has(type)) {
      out.push(...this.end());
      this.complete = true;
    }
    const changed = restoreLeaves(ev, this.restorer, jsonKeyFor(this.structured));
    out.push({ event: name, data: changed ? JSON.stringify(ev) : data });
    return out;
  }

  failure(err: VeilError): OutEvent {
    const ev: Obj = { type: 'error', code: err.code, message: err.message, param: null };
    if (typeof this.lastSeq === 'number') ev.sequence_number = this.lastSeq + 1;
    return { event: 'error', data: JSON.stringify(ev) };
  }
}
