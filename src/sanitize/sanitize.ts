/**
 * Request sanitization: find every text a request carries, replace PII with placeholders,
 * and build the {@link Restorer} that turns placeholders in the response back into what this
 * caller may see. Pure over its services (detector, vault, policy); the JSON walking is here,
 * the HTTP is in src/http.
 */
import {
  abortError,
  badRequest,
  detectionTimeout,
  detectionUnavailable,
  isVeilError,
  nestingTooDeep,
  unsupportedInput,
  vaultUnavailable,
} from '../core/errors.js';
import type { EntityType, RequestContext } from '../core/types.js';
import { resolveSpans } from '../detect/resolve.js';
import type { Detector, Span } from '../detect/types.js';
import { maskValue, type Policy, restoreAction, shouldMask } from '../policy/index.js';
import type { Token, TokenizeItem, Vault } from '../vault/types.js';
import type { RestoreAuditor } from '../audit/restore.js';
import { Restorer } from '../restore/restorer.js';
import { findPlaceholders, placeholder, tokenType } from '../core/token.js';
import { yielder } from '../core/yield.js';

export interface MaskServices {
  readonly detector: Detector;
  readonly vault: Vault;
  readonly policy: Policy;
  /** Detection deadline for this request (ms); past it 503 `veil_detection_timeout`. */
  readonly detectTimeoutMs?: number;
  /**
   * Records what the response may restore, before any stored value is decrypted (src/audit);
   * when it rejects, nothing is decrypted and the request fails.
   */
  readonly audit?: RestoreAuditor;
}

/** A string inside the request body: its text and how to write the masked text back. */
export interface Slot {
  readonly text: string;
  set(masked: string): void;
  /** Write `TYPE_ID` without brackets (fields restricted to `[a-zA-Z0-9_-]`, like `name`). */
  readonly bare?: boolean;
}

export interface SanitizeResult<T> {
  readonly body: T;
  readonly restorer: Restorer;
  /** Entities masked in this request, by type (for logs and metrics; never values). */
  readonly counts: Partial<Record<EntityType, number>>;
  /** Placeholders that were already in the input (e.g. retrieved RAG chunks). */
  readonly reused: number;
  /**
   * With an audit trail: the restore event being committed. Await it before restoring anything
   * into the response; when it rejects, restore nothing (503 `veil_audit_unavailable`).
   */
  readonly audited?: Promise<void>;
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Nesting bound for the walkers below (tool schemas, tool-call arguments): deeper is a 400. */
const MAX_DEPTH = 256;
const tooDeep = (param: string) => nestingTooDeep(param, MAX_DEPTH);

/** JSON-schema keywords whose string value is prose a model reads. */
const SCHEMA_TEXT = new Set(['description', 'title']);
/** JSON-schema keywords holding example or allowed values: every string leaf is text. */
const SCHEMA_VALUES = new Set(['enum', 'const', 'default', 'examples']);

export class SlotCollector {
  readonly slots: Slot[] = [];
  private readonly finalizers: (() => void)[] = [];

  /** A string property `obj[key]`; anything else than a string or null/absent is a 400. */
  text(obj: JsonObject | Json[], key: string | number, param: string, bare = false): void {
    const v = (obj as Record<string | number, Json>)[key];
    if (v === undefined || v === null) return;
    if (typeof v !== 'string') throw badRequest(`'${param}' must be a string.`, param);
    if (v.length === 0) return;
    this.slots.push({ text: v, set: (m) => ((obj as Record<string | number, Json>)[key] = m), bare });
  }

  /**
   * A string that holds JSON (tool-call arguments): every string leaf is its own slot and the
   * JSON is re-serialized after masking; text that is not JSON is masked as plain text.
   */
  jsonText(obj: JsonObject, key: string, param: string): void {
    const v = obj[key];
    if (v === undefined || v === null) return;
    if (typeof v !== 'string') throw badRequest(`'${param}' must be a string.`, param);
    let parsed: Json;
    try {
      parsed = JSON.parse(v) as Json;
    } catch {
      this.text(obj, key, param);
      return;
    }
    const before = this.slots.length;
    const holder: JsonObject = { root: parsed };
    this.leaves(holder, 'root', param);
    if (this.slots.length === before) return;
    this.finalizers.push(() => (obj[key] = JSON.stringify(holder.root)));
  }

  /** Every non-empty string leaf of a JSON value (any depth up to {@link MAX_DEPTH}). */
  leaves(parent: JsonObject | Json[], key: string | number, param: string, depth = 0): void {
    const v = (parent as Record<string | number, Json>)[key];
    if (depth > MAX_DEPTH) throw tooDeep(param);
    if (typeof v === 'string') {
      if (v.length > 0) this.slots.push({ text: v, set: (m) => ((parent as Record<string | number, Json>)[key] = m) });
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) this.leaves(v, i, param, depth + 1);
    } else if (isObject(v)) {
      for (const k of Object.keys(v)) this.leaves(v, k, param, depth + 1);
    }
  }

  /**
   * A JSON schema (tool parameters, structured-output schema): the text a model reads —
   * `description`, `title` and the string leaves of `enum`, `const`, `default`, `examples` —
   * at every level. Keys (property names), types, formats, patterns and `$ref`s are structure
   * and pass as they are: masking them would change what the schema accepts.
   */
  schema(node: Json, param: string, depth = 0): void {
    if (depth > MAX_DEPTH) throw tooDeep(param);
    if (Array.isArray(node)) {
      for (const n of node) this.schema(n, param, depth + 1);
      return;
    }
    if (!isObject(node)) return;
    for (const k of Object.keys(node)) {
      const v = node[k]!;
      if (SCHEMA_TEXT.has(k) && typeof v === 'string') this.text(node, k, param);
      else if (SCHEMA_VALUES.has(k)) this.leaves(node, k, param, depth + 1);
      else if (typeof v === 'object' && v !== null) this.schema(v, param, depth + 1);
    }
  }

  /**
   * The keys of an object (`metadata`): each non-empty key is a slot, and the object is
   * rebuilt with masked keys (same order) once masking is done. Two keys that mask to the same
   * text are a 400 rather than one silently overwriting the other.
   */
  keys(obj: JsonObject, param: string): void {
    const keys = Object.keys(obj);
    const masked = [...keys];
    const before = this.slots.length;
    keys.forEach((k, i) => {
      if (k.length > 0) this.slots.push({ text: k, set: (m) => (masked[i] = m) });
    });
    if (this.slots.length === before) return;
    this.finalizers.push(() => {
      const values = keys.map((k) => obj[k]!);
      for (const k of keys) delete obj[k];
      masked.forEach((k, i) => {
        if (Object.prototype.hasOwnProperty.call(obj, k)) {
          throw badRequest(`'${param}' has two keys that are the same once PII is masked.`, param);
        }
        obj[k] = values[i]!;
      });
    });
  }

  /** `string | string[]` that a model reads but that never comes back (`stop`). */
  stringOrStrings(obj: JsonObject, key: string, param: string): void {
    const v = obj[key];
    if (Array.isArray(v)) v.forEach((_, i) => this.text(v, i, `${param}[${i}]`));
    else this.text(obj, key, param);
  }

  /** `string | string[]` inputs (embeddings input, completions prompt). Token arrays are refused. */
  textOrTexts(obj: JsonObject, key: string, param: string, required: boolean): void {
    const v = obj[key];
    if (v === undefined || v === null) {
      if (required) throw badRequest(`'${param}' is required.`, param);
      return;
    }
    if (typeof v === 'string') return this.text(obj, key, param);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        if (typeof v[i] !== 'string') {
          throw unsupportedInput(
            `'${param}' must be a string or an array of strings: Veil cannot inspect token arrays for PII, so it does not forward them.`,
            param,
          );
        }
        this.text(v, i, `${param}[${i}]`);
      }
      return;
    }
    throw badRequest(`'${param}' must be a string or an array of strings.`, param);
  }

  finish(): void {
    for (const f of this.finalizers) f();
  }
}

function collectMessageSlots(c: SlotCollector, body: JsonObject): void {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw badRequest("'messages' must be a non-empty array.", 'messages');
  }
  messages.forEach((m, i) => {
    const p = `messages[${i}]`;
    if (!isObject(m)) throw badRequest(`'${p}' must be an object.`, p);
    // OpenAI restricts `name` to [a-zA-Z0-9_-]: its placeholders are written without brackets
    c.text(m, 'name', `${p}.name`, true);
    c.text(m, 'refusal', `${p}.refusal`);
    // reasoning sent back by clients of reasoning models (DeepSeek-style `reasoning_content`)
    c.text(m, 'reasoning_content', `${p}.reasoning_content`);
    if (typeof m.reasoning === 'string') c.text(m, 'reasoning', `${p}.reasoning`);
    // a previous audio answer's transcript, when a client sends it back
    if (isObject(m.audio)) c.text(m.audio, 'transcript', `${p}.audio.transcript`);
    const content = m.content;
    if (typeof content === 'string' || content === null || content === undefined) {
      c.text(m, 'content', `${p}.content`);
    } else if (Array.isArray(content)) {
      content.forEach((part, j) => {
        const pp = `${p}.content[${j}]`;
        if (!isObject(part)) throw badRequest(`'${pp}' must be an object.`, pp);
        // text, input_text, refusal parts and file names; image and audio data, file data and
        // file ids pass as they are (see README "Which fields are sanitized")
        c.text(part, 'text', `${pp}.text`);
        c.text(part, 'refusal', `${pp}.refusal`);
        if (isObject(part.file)) c.text(part.file, 'filename', `${pp}.file.filename`);
      });
    } else {
      throw badRequest(`'${p}.content' must be a string or an array of content parts.`, `${p}.content`);
    }
    const toolCalls = m.tool_calls;
    if (Array.isArray(toolCalls)) {
      toolCalls.forEach((tc, j) => {
        if (isObject(tc) && isObject(tc.function)) {
          c.jsonText(tc.function, 'arguments', `${p}.tool_calls[${j}].function.arguments`);
        }
      });
    }
    if (isObject(m.function_call)) c.jsonText(m.function_call, 'arguments', `${p}.function_call.arguments`);
  });
}

/**
 * Request-level fields that often carry an end user's identity (an email as `user`, tags in
 * `metadata`), on every endpoint.
 */
export function collectCommonSlots(c: SlotCollector, body: JsonObject): void {
  c.text(body, 'user', 'user');
  c.text(body, 'safety_identifier', 'safety_identifier');
  c.text(body, 'prompt_cache_key', 'prompt_cache_key');
  if (isObject(body.metadata)) {
    const md = body.metadata;
    for (const k of Object.keys(md)) c.text(md, k, 'metadata');
    c.keys(md, 'metadata'); // keys are free text too (`{"jane@example.com": "vip"}`)
  }
}

/**
 * Chat-level text a model reads besides the messages: tool and function definitions (their
 * descriptions and parameter schemas), the structured-output schema, the user's location for
 * web search, stop sequences and predicted output. Tool and schema *names* are identifiers
 * the model answers with and pass as they are.
 */
function collectChatSlots(c: SlotCollector, body: JsonObject): void {
  const fn = (f: JsonObject, p: string) => {
    c.text(f, 'description', `${p}.description`);
    if (f.parameters !== undefined) c.schema(f.parameters, `${p}.parameters`);
  };
  if (Array.isArray(body.tools)) {
    body.tools.forEach((t, i) => {
      if (!isObject(t)) return;
      if (isObject(t.function)) fn(t.function, `tools[${i}].function`);
      if (isObject(t.custom)) c.text(t.custom, 'description', `tools[${i}].custom.description`);
    });
  }
  if (Array.isArray(body.functions)) body.functions.forEach((f, i) => isObject(f) && fn(f, `functions[${i}]`));
  const rf = body.response_format;
  if (isObject(rf) && isObject(rf.json_schema)) {
    c.text(rf.json_schema, 'description', 'response_format.json_schema.description');
    if (rf.json_schema.schema !== undefined) c.schema(rf.json_schema.schema, 'response_format.json_schema.schema');
  }
  const ws = body.web_search_options;
  if (isObject(ws) && isObject(ws.user_location)) {
    const loc = ws.user_location;
    const approx = loc.approximate;
    // `type`, an ISO country code and an IANA time zone are codes: masking "US" (a LOCATION to
    // the model) would make the upstream refuse the request. Anything else is free text.
    const isCode = (k: string, v: Json) =>
      typeof v === 'string' &&
      ((k === 'country' && /^[A-Za-z]{2}$/.test(v)) || (k === 'timezone' && /^[A-Za-z]+(?:\/[A-Za-z0-9_+-]+){0,2}$/.test(v)));
    for (const k of Object.keys(loc)) if (k !== 'type' && k !== 'approximate') c.leaves(loc, k, 'web_search_options.user_location');
    if (isObject(approx)) {
      for (const k of Object.keys(approx)) if (!isCode(k, approx[k]!)) c.leaves(approx, k, 'web_search_options.user_location.approximate');
    } else if (approx !== undefined) {
      c.leaves(loc, 'approximate', 'web_search_options.user_location.approximate');
    }
  }
  c.stringOrStrings(body, 'stop', 'stop');
  // predicted output (text the model is told to expect) is user text too
  if (isObject(body.prediction)) {
    const pc = body.prediction.content;
    if (typeof pc === 'string') c.text(body.prediction, 'content', 'prediction.content');
    else if (Array.isArray(pc)) pc.forEach((part, j) => isObject(part) && c.text(part, 'text', `prediction.content[${j}].text`));
  }
}

export type Endpoint = 'chat' | 'completions' | 'embeddings';

function collect(endpoint: Endpoint, body: JsonObject): SlotCollector {
  const c = new SlotCollector();
  collectCommonSlots(c, body);
  switch (endpoint) {
    case 'chat':
      collectMessageSlots(c, body);
      collectChatSlots(c, body);
      break;
    case 'completions':
      c.textOrTexts(body, 'prompt', 'prompt', true);
      c.text(body, 'suffix', 'suffix');
      c.stringOrStrings(body, 'stop', 'stop');
      break;
    case 'embeddings':
      c.textOrTexts(body, 'input', 'input', true);
      break;
  }
  return c;
}

/** `text` with each `[start, end)` of `edits` (sorted, non-overlapping) replaced, in one pass. */
function applyEdits(text: string, edits: readonly { start: number; end: number; with: string }[]): string {
  const parts: string[] = [];
  let at = 0;
  for (const e of edits) {
    parts.push(text.slice(at, e.start), e.with);
    at = e.end;
  }
  parts.push(text.slice(at));
  return parts.join('');
}

/**
 * Runs detection under the request's deadline and the caller's signal: the detector gets one
 * signal that fires on either, so it drops the request's queued work. A passed deadline is a
 * 503 `veil_detection_timeout`; a caller that left is an AbortError (not a detection failure);
 * any other failure is 503 `veil_detection_unavailable`. Fail closed in every case.
 */
async function detectWithin(services: MaskServices, texts: string[], caller: AbortSignal | undefined): Promise<Span[][]> {
  const ms = services.detectTimeoutMs;
  if (caller?.aborted) throw abortError();
  if (ms === undefined) {
    try {
      return await services.detector.detect(texts, caller);
    } catch (e) {
      if (caller?.aborted) throw abortError();
      throw isVeilError(e) ? e : detectionUnavailable(e);
    }
  }
  const controller = new AbortController();
  const onCaller = () => controller.abort(abortError());
  caller?.addEventListener('abort', onCaller, { once: true });
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // the race settles even if a detector ignores its signal
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      const err = detectionTimeout(ms);
      controller.abort(err);
      reject(err);
    }, ms);
  });
  const gone = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true }));
  deadline.catch(() => {});
  gone.catch(() => {}); // may reject after the race is decided
  try {
    return await Promise.race([services.detector.detect(texts, controller.signal), deadline, gone]);
  } catch (e) {
    if (timedOut) throw detectionTimeout(ms);
    if (caller?.aborted) throw abortError();
    throw isVeilError(e) ? e : detectionUnavailable(e);
  } finally {
    clearTimeout(timer);
    caller?.removeEventListener('abort', onCaller);
  }
}

/**
 * Sanitizes a parsed request body (not modified: a sanitized copy is returned).
 * Rejects with 400 for malformed bodies, 503 (fail closed) when detection or the vault fails.
 */
export async function sanitizeRequest<T>(
  endpoint: Endpoint,
  body: T,
  services: MaskServices,
  ctx: RequestContext,
): Promise<SanitizeResult<T>> {
  return sanitizeWith((copy) => collect(endpoint, copy), body, services, ctx, endpoint);
}

/**
 * The same for any request shape: `collect` names the slots of the (cloned) body — how a
 * surface (Responses, Anthropic Messages) describes where its text lives, sharing detection,
 * the vault, policy and the {@link Restorer} with the chat endpoints.
 */
export async function sanitizeWith<T>(
  collect: (copy: JsonObject) => SlotCollector,
  body: T,
  services: MaskServices,
  ctx: RequestContext,
  /** Named in audit events (`chat`, `responses`, `messages`…). */
  endpoint: string,
): Promise<SanitizeResult<T>> {
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.');
  const copy = structuredClone(body) as JsonObject;
  const collector = collect(copy);
  const slots = collector.slots;
  const texts = slots.map((s) => s.text);

  let spans: Span[][] = [];
  if (texts.length > 0) {
    spans = await detectWithin(services, texts, ctx.signal);
    if (spans.length !== texts.length) throw detectionUnavailable(new Error('detector returned a wrong batch size'));
  }

  // Placeholders already present (retrieved chunks sanitized earlier) are kept and resolved.
  const existing = texts.map(findPlaceholders);
  const items: TokenizeItem[] = [];
  const itemIndex = new Map<string, number>();
  const plan: { slot: number; start: number; end: number; item: number }[] = [];
  const counts: Partial<Record<EntityType, number>> = {};
  const tick = yielder();
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i]!;
    const found = spans[i] ?? [];
    for (const span of found) {
      if (span.start < 0 || span.end > text.length || span.start >= span.end) {
        throw detectionUnavailable(new Error('detector returned a span outside its text'));
      }
    }
    // Detectors promise disjoint spans clear of placeholders; the one overlap rule holds it
    // whatever detector this is (never corrupt the text), masking a name around a placeholder
    // (`Maria [PERSON_…] Gonzalez`) on both sides.
    const masked = found.filter((span) => shouldMask(services.policy, span.type));
    for (const span of resolveSpans(text, masked)) {
      const pause = tick();
      if (pause) await pause;
      const value = text.slice(span.start, span.end);
      const key = `${span.type}\u0000${value}`;
      let idx = itemIndex.get(key);
      if (idx === undefined) {
        idx = items.length;
        items.push({ type: span.type, value });
        itemIndex.set(key, idx);
      }
      plan.push({ slot: i, start: span.start, end: span.end, item: idx });
      counts[span.type] = (counts[span.type] ?? 0) + 1;
    }
  }

  let tokens: Token[] = [];
  const reusedTokens = [...new Set(existing.flat().map((p) => p.token))];
  let resolvedExisting = new Map<Token, string>();
  /** DEK version of each token's stored value, for the audit event (filled by the vault). */
  const mintedVersions = new Map<Token, number>();
  // With an audit trail, the event is written after tokenizing and before decrypting; without
  // one, both run at once.
  const decrypt = (ts: Token[]) => (ts.length > 0 ? services.vault.resolve(ctx, ts) : Promise.resolve(new Map<Token, string>()));
  try {
    if (services.audit) {
      tokens = items.length > 0 ? await services.vault.tokenize(ctx, items, mintedVersions) : [];
    } else {
      [tokens, resolvedExisting] = await Promise.all([
        items.length > 0 ? services.vault.tokenize(ctx, items) : Promise.resolve([] as Token[]),
        decrypt(reusedTokens),
      ]);
    }
  } catch (e) {
    throw isVeilError(e) ? e : vaultUnavailable(e);
  }
  if (tokens.length !== items.length) throw vaultUnavailable(new Error('vault returned a wrong batch size'));

  // Each slot's masked text is built in one pass (the plan is in slot order, then start order):
  // linear in the text's length whatever the number of values.
  for (let a = 0; a < plan.length; ) {
    const slot = plan[a]!.slot;
    const bare = slots[slot]!.bare === true;
    const edits: { start: number; end: number; with: string }[] = [];
    for (; a < plan.length && plan[a]!.slot === slot; a++) {
      const pause = tick();
      if (pause) await pause;
      const p = plan[a]!;
      edits.push({ start: p.start, end: p.end, with: bare ? tokens[p.item]! : placeholder(tokens[p.item]!) });
    }
    slots[slot]!.set(applyEdits(texts[slot]!, edits));
  }
  collector.finish();

  // Embeddings responses carry no text: nothing is restored, so nothing is decrypted or audited.
  let audited: Promise<void> | undefined;
  if (services.audit && endpoint !== 'embeddings') {
    // `user` is masked by now: the event names the end user by placeholder, never by value.
    const user = copy.user;
    const write = services.audit({ ctx, endpoint, policy: services.policy, minted: tokens, mintedVersions, presented: reusedTokens, endUser: typeof user === 'string' ? user : undefined });
    // Placeholders the role may not see are never decrypted.
    const toDecrypt = reusedTokens.filter((t) => restoreAction(services.policy, ctx.principal.role, tokenType(t)) !== 'placeholder');
    if (toDecrypt.length > 0) {
      // Stored values are decrypted only once their event is committed.
      await write;
      try {
        resolvedExisting = await decrypt(toDecrypt);
      } catch (e) {
        throw isVeilError(e) ? e : vaultUnavailable(e);
      }
    } else {
      // Nothing stored is decrypted: the event is committed while the upstream works, and the
      // caller awaits `audited` before restoring anything into the response.
      audited = write;
      write.catch(() => {}); // observed by the caller; never an unhandled rejection
    }
  }

  // What this caller gets back for each placeholder of this request's own input.
  const display = new Map<Token, string>();
  const role = ctx.principal.role;
  const add = (token: Token, value: string) => {
    if (display.has(token)) return;
    const type = tokenType(token);
    const action = restoreAction(services.policy, role, type);
    if (action === 'value') display.set(token, value);
    else if (action === 'masked') display.set(token, maskValue(type, value));
  };
  for (let i = 0; i < items.length; i++) {
    const pause = tick();
    if (pause) await pause;
    add(tokens[i]!, items[i]!.value);
  }
  for (const [token, value] of resolvedExisting) add(token, value);

  return { body: copy as T, restorer: new Restorer(display), counts, reused: resolvedExisting.size, ...(audited ? { audited } : {}) };
}
