/**
 * STAND-IN FOR THE NETWORK (with test/fakes/upstream.ts): builders for the exact wire format of
 * OpenAI's Responses API — `response` objects and the typed stream events (`response.created`
 * … `response.completed`, each with `type` and `sequence_number`), sent by the fake upstream
 * with `named: true` (`event: <type>` lines, no `[DONE]`).
 */

let n = 0;
const CREATED = 1_763_900_000;

export type OutputSpec = { kind: 'text'; text: string } | { kind: 'call'; name: string; args: string; callId?: string };

function item(spec: OutputSpec, i: number, status: 'in_progress' | 'completed') {
  if (spec.kind === 'text') {
    return {
      id: `msg_fake${i}`,
      type: 'message',
      status,
      role: 'assistant',
      content: status === 'completed' ? [{ type: 'output_text', text: spec.text, annotations: [], logprobs: [] }] : [],
    };
  }
  return { id: `fc_fake${i}`, type: 'function_call', status, arguments: status === 'completed' ? spec.args : '', call_id: spec.callId ?? `call_fake${i}`, name: spec.name };
}

/** A complete `response` object with the given output items. */
export function responseObject(outputs: OutputSpec[], extra: Record<string, unknown> = {}) {
  return {
    id: `resp_fake${++n}`,
    object: 'response',
    created_at: CREATED,
    status: 'completed',
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model: 'gpt-fake',
    output: outputs.map((o, i) => item(o, i, 'completed')),
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 30 },
    user: null,
    metadata: {},
    ...extra,
  };
}

/** The stream events for a response whose text / arguments arrive in the given pieces. */
export function responseEvents(outputs: { spec: OutputSpec; pieces: string[] }[], extra: Record<string, unknown> = {}) {
  const full = responseObject(
    outputs.map((o) => o.spec),
    extra,
  );
  let seq = 0;
  const ev = (type: string, body: Record<string, unknown>) => ({ type, sequence_number: seq++, ...body });
  const events: unknown[] = [];
  const pending = { ...full, status: 'in_progress', output: [], usage: null };
  events.push(ev('response.created', { response: pending }), ev('response.in_progress', { response: pending }));
  outputs.forEach(({ spec, pieces }, output_index) => {
    const added = item(spec, output_index, 'in_progress');
    events.push(ev('response.output_item.added', { output_index, item: added }));
    if (spec.kind === 'text') {
      const ids = { item_id: added.id, output_index, content_index: 0 };
      events.push(ev('response.content_part.added', { ...ids, part: { type: 'output_text', text: '', annotations: [] } }));
      for (const p of pieces) events.push(ev('response.output_text.delta', { ...ids, delta: p, logprobs: [] }));
      events.push(ev('response.output_text.done', { ...ids, text: spec.text, logprobs: [] }));
      events.push(ev('response.content_part.done', { ...ids, part: { type: 'output_text', text: spec.text, annotations: [] } }));
    } else {
      const ids = { item_id: added.id, output_index };
      for (const p of pieces) events.push(ev('response.function_call_arguments.delta', { ...ids, delta: p }));
      events.push(ev('response.function_call_arguments.done', { ...ids, arguments: spec.args }));
    }
    events.push(ev('response.output_item.done', { output_index, item: item(spec, output_index, 'completed') }));
  });
  events.push(ev('response.completed', { response: full }));
  return events;
}
