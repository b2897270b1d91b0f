/**
 * Re-injection into OpenAI response bodies, plain and streamed. Only the text fields are
 * rewritten; ids, indices, finish_reason, usage and unknown fields are left exactly as sent.
 */
import { jsonStringEscape, type Restorer, type StreamRestorer } from './restorer.js';

type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function restoreField(obj: Obj, key: string, r: Restorer, json = false): void {
  const v = obj[key];
  if (typeof v === 'string') obj[key] = r.restore(v, json ? jsonStringEscape : undefined);
}

/**
 * `jsonContent`: the request asked for JSON output (`response_format` json_object/json_schema),
 * so values restored into message content are JSON-string-escaped like tool-call arguments.
 */
export interface RestoreOptions {
  readonly jsonContent?: boolean;
}

function restoreMessage(msg: Obj, r: Restorer, opts: RestoreOptions): void {
  restoreField(msg, 'content', r, opts.jsonContent === true);
  restoreField(msg, 'refusal', r);
  restoreField(msg, 'reasoning_content', r);
  if (isObj(msg.audio)) restoreField(msg.audio, 'transcript', r);
  if (Array.isArray(msg.content)) {
    for (const part of msg.content) if (isObj(part)) restoreField(part, 'text', r);
  }
  if (Array.isArray(msg.tool_calls)) {
    for (const tc of msg.tool_calls) if (isObj(tc) && isObj(tc.function)) restoreField(tc.function, 'arguments', r, true);
  }
  if (isObj(msg.function_call)) restoreField(msg.function_call, 'arguments', r, true);
}

/** `chat.completion` (non-streamed): every choice's message. Mutates and returns `body`. */
export function restoreChatCompletion<T>(body: T, r: Restorer, opts: RestoreOptions = {}): T {
  if (r.size === 0 || !isObj(body) || !Array.isArray(body.choices)) return body;
  for (const choice of body.choices) if (isObj(choice) && isObj(choice.message)) restoreMessage(choice.message, r, opts);
  return body;
}

/** `text_completion` (legacy, non-streamed). Mutates and returns `body`. */
export function restoreTextCompletion<T>(body: T, r: Restorer): T {
  if (r.size === 0 || !isObj(body) || !Array.isArray(body.choices)) return body;
  for (const choice of body.choices) if (isObj(choice)) restoreField(choice, 'text', r);
  return body;
}

/**
 * Restores every string leaf of a parsed JSON value in place (depth-bounded), for events and
 * bodies without a known shape; `jsonKey(key, parent)` says which leaves hold JSON text (their
 * restored values are JSON-string-escaped). True if any changed.
 */
export function restoreLeaves(
  root: Obj | unknown[],
  restorer: Restorer,
  jsonKey: (key: string | number, parent: Obj | unknown[]) => boolean = () => false,
): boolean {
  if (restorer.size === 0) return false;
  let changed = false;
  const walk = (node: Obj | unknown[], depth: number) => {
    if (depth > 128) return;
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    for (const k of keys) {
      const v = (node as Record<string | number, unknown>)[k];
      if (typeof v === 'string') {
        const r = restorer.restore(v, jsonKey(k, node) ? jsonStringEscape : undefined);
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

interface ChoiceState {
  /** The choice's `index` exactly as the upstream sent it (written back into flushed chunks). */
  index: unknown;
  content?: StreamRestorer;
  refusal?: StreamRestorer;
  reasoning?: StreamRestorer;
  transcript?: StreamRestorer;
  text?: StreamRestorer;
  functionArgs?: StreamRestorer;
  /** By tool-call index (as JSON text), with the index as sent. */
  tools: Map<string, { index: unknown; r: StreamRestorer }>;
  finished: boolean;
}

/**
 * Choices and tool calls are told apart by their `index`. One that is missing or not a number
 * (not OpenAI's wire format, but some compatible servers send strings or nothing) is still
 * restored: each distinct value, compared as JSON, gets its own state, and flushed text goes
 * out under the same value. Skipping it would pass its placeholders through unrestored.
 */
const indexKey = (v: unknown): string => (v === undefined ? 'undefined' : JSON.stringify(v));

/**
 * Streaming re-injection for `chat.completion.chunk` and streamed `text_completion` events:
 * one {@link StreamRestorer} per choice index and per tool-call index. Text held back (a
 * possible split placeholder) is released on the choice's `finish_reason` (appended to that
 * chunk) or, if the stream ends first, in one extra chunk per choice from {@link end}.
 */
export class StreamingResponseRestorer {
  private readonly choices = new Map<string, ChoiceState>();
  private template: Obj | null = null;
  /** Whether the last {@link transform} changed anything (else the original bytes can be sent). */
  changed = false;

  constructor(
    private readonly restorer: Restorer,
    private readonly opts: RestoreOptions = {},
  ) {}

  get active(): boolean {
    return this.restorer.size > 0;
  }

  private state(index: unknown): ChoiceState {
    const key = indexKey(index);
    let s = this.choices.get(key);
    if (!s) this.choices.set(key, (s = { index, tools: new Map(), finished: false }));
    return s;
  }

  private pushField(obj: Obj, key: string, get: () => StreamRestorer): void {
    const v = obj[key];
    if (typeof v !== 'string') return;
    const out = get().push(v);
    if (out !== v) {
      obj[key] = out;
      this.changed = true;
    }
  }

  /** Rewrites one parsed chunk in place. */
  transform(chunk: Obj): Obj {
    this.changed = false;
    if (!this.active || !Array.isArray(chunk.choices)) return chunk;
    if (this.template === null) this.template = chunk;
    for (const choice of chunk.choices) {
      if (!isObj(choice)) continue;
      const st = this.state(choice.index);
      const delta = isObj(choice.delta) ? choice.delta : null;
      if (delta) {
        this.pushField(delta, 'content', () => (st.content ??= this.restorer.stream(this.opts.jsonContent ? jsonStringEscape : undefined)));
        this.pushField(delta, 'refusal', () => (st.refusal ??= this.restorer.stream()));
        this.pushField(delta, 'reasoning_content', () => (st.reasoning ??= this.restorer.stream()));
        if (isObj(delta.audio)) this.pushField(delta.audio, 'transcript', () => (st.transcript ??= this.restorer.stream()));
        if (Array.isArray(delta.tool_calls)) {
          for (const tc of delta.tool_calls) {
            if (!isObj(tc) || !isObj(tc.function)) continue;
            const idx = tc.index;
            const key = indexKey(idx);
            this.pushField(tc.function, 'arguments', () => {
              let t = st.tools.get(key);
              if (!t) st.tools.set(key, (t = { index: idx, r: this.restorer.stream(jsonStringEscape) }));
              return t.r;
            });
          }
        }
        if (isObj(delta.function_call)) {
          this.pushField(delta.function_call, 'arguments', () => (st.functionArgs ??= this.restorer.stream(jsonStringEscape)));
        }
      }
      // legacy completions stream text on the choice itself
      this.pushField(choice, 'text', () => (st.text ??= this.restorer.stream()));

      if (choice.finish_reason !== null && choice.finish_reason !== undefined && !st.finished) {
        st.finished = true;
        if (this.flushInto(choice, st)) this.changed = true;
      }
    }
    return chunk;
  }

  /** Appends everything held for a choice to that choice's fields in this chunk. */
  private flushInto(choice: Obj, st: ChoiceState): boolean {
    let wrote = false;
    const append = (obj: Obj, key: string, r: StreamRestorer | undefined) => {
      const rest = r?.flush() ?? '';
      if (rest.length === 0) return;
      obj[key] = (typeof obj[key] === 'string' ? (obj[key] as string) : '') + rest;
      wrote = true;
    };
    if (st.text) append(choice, 'text', st.text);
    const needsDelta =
      st.content?.held || st.refusal?.held || st.reasoning?.held || st.transcript?.held || st.functionArgs?.held || [...st.tools.values()].some((t) => t.r.held);
    if (needsDelta) {
      if (!isObj(choice.delta)) choice.delta = {};
      const delta = choice.delta as Obj;
      append(delta, 'content', st.content);
      append(delta, 'refusal', st.refusal);
      append(delta, 'reasoning_content', st.reasoning);
      if (st.transcript?.held) {
        if (!isObj(delta.audio)) delta.audio = {};
        append(delta.audio as Obj, 'transcript', st.transcript);
      }
      if (st.functionArgs?.held) {
        if (!isObj(delta.function_call)) delta.function_call = {};
        append(delta.function_call as Obj, 'arguments', st.functionArgs);
      }
      for (const [key, { index: idx, r }] of st.tools) {
        if (!r.held) continue;
        if (!Array.isArray(delta.tool_calls)) delta.tool_calls = [];
        const list = delta.tool_calls as Obj[];
        let tc = list.find((t) => isObj(t) && indexKey(t.index) === key);
        if (!tc) list.push((tc = { index: idx, function: {} }));
        if (!isObj(tc.function)) tc.function = {};
        append(tc.function as Obj, 'arguments', r);
      }
    }
    return wrote;
  }

  /**
   * Stream over (ended, failed or cut): chunks carrying whatever is still held, one per choice
   * that has something, shaped like the stream's first chunk. Empty when nothing is held.
   */
  end(): Obj[] {
    const out: Obj[] = [];
    if (!this.active || this.template === null) return out;
    const top = { ...this.template };
    delete top.choices;
    delete top.usage;
    for (const st of this.choices.values()) {
      if (st.finished) continue;
      st.finished = true;
      const isText = st.text !== undefined;
      const index = st.index;
      const choice: Obj = isText ? { index, text: '', finish_reason: null } : { index, delta: {}, finish_reason: null };
      if (this.flushInto(choice, st)) out.push({ ...top, choices: [choice] });
    }
    return out;
  }
}
