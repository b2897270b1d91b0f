/**
 * STAND-IN FOR THE NETWORK: one recording upstream for every surface Veil serves — OpenAI chat,
 * completions, embeddings (test/fakes/upstream.ts defaultHandler), Responses
 * (./responses-wire.ts) and Anthropic Messages (`/messages`, typed events). Echoes the last
 * user text as `You said: …`; with tools it calls the first tool with the first placeholder it
 * received. Streams come in 1–3 character pieces. Used by scripts/conformance.ts.
 */
import { defaultHandler, type Handler, lastUserText, smallPieces, toolCallChunks } from './upstream.js';
import { responseEvents, responseObject } from './responses-wire.js';

const firstPlaceholder = (s: string) => /\[[A-Z_]+_[0-9A-Z]{8}\]/.exec(s)?.[0] ?? '';

function responsesUserText(body: any): string {
  if (typeof body.input === 'string') return body.input;
  const msgs = (body.input as any[]).filter((i) => (i.type ?? 'message') === 'message' && i.role === 'user');
  const m = msgs[msgs.length - 1];
  if (!m) return '';
  return typeof m.content === 'string' ? m.content : m.content.map((p: any) => p.text ?? '').join('');
}

function anthropicUserText(body: any): string {
  const m = [...body.messages].reverse().find((x: any) => x.role === 'user');
  if (!m) return '';
  return typeof m.content === 'string' ? m.content : m.content.map((b: any) => (b.type === 'text' ? b.text : '')).join('');
}

export const surfacesHandler: Handler = (req) => {
  const tools = Array.isArray(req.body?.tools) && req.body.tools.length > 0;
  if (req.path === '/responses') {
    const text = `You said: ${responsesUserText(req.body)}`;
    const spec = tools
      ? ({ kind: 'call', name: req.body.tools[0].name ?? 'tool', args: JSON.stringify({ email: firstPlaceholder(JSON.stringify(req.body.input)), note: text }) } as const)
      : ({ kind: 'text', text } as const);
    if (req.body.stream) return { kind: 'sse', named: true, events: responseEvents([{ spec, pieces: smallPieces(spec.kind === 'text' ? spec.text : spec.args) }]) };
    return { kind: 'json', body: responseObject([spec]) };
  }
  if (req.path === '/messages') {
    const text = `You said: ${anthropicUserText(req.body)}`;
    const input = { email: firstPlaceholder(JSON.stringify(req.body.messages)), note: text };
    const msg = { id: 'msg_fake1', type: 'message', role: 'assistant', model: 'claude-fake', stop_sequence: null };
    if (!req.body.stream) {
      const content = [{ type: 'text', text }, ...(tools ? [{ type: 'tool_use', id: 'toolu_fake1', name: req.body.tools[0].name, input }] : [])];
      return { kind: 'json', body: { ...msg, content, stop_reason: tools ? 'tool_use' : 'end_turn', usage: { input_tokens: 10, output_tokens: 20 } } };
    }
    const events: unknown[] = [{ type: 'message_start', message: { ...msg, content: [], stop_reason: null, usage: { input_tokens: 10, output_tokens: 1 } } }];
    events.push({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    for (const p of smallPieces(text)) events.push({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: p } });
    events.push({ type: 'content_block_stop', index: 0 });
    if (tools) {
      events.push({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_fake1', name: req.body.tools[0].name, input: {} } });
      for (const p of smallPieces(JSON.stringify(input))) events.push({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: p } });
      events.push({ type: 'content_block_stop', index: 1 });
    }
    events.push({ type: 'message_delta', delta: { stop_reason: tools ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: 15 } }, { type: 'message_stop' });
    return { kind: 'sse', named: true, events };
  }
  if (req.path === '/chat/completions' && tools) {
    const args = JSON.stringify({ email: firstPlaceholder(JSON.stringify(req.body.messages)), note: `You said: ${lastUserText(req.body)}` });
    if (req.body.stream) return { kind: 'sse', events: toolCallChunks(req.body.tools[0].function.name, smallPieces(args)) };
    return {
      kind: 'json',
      body: {
        id: 'chatcmpl-fake-tool',
        object: 'chat.completion',
        created: 1_763_900_000,
        model: 'gpt-fake',
        choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_fake1', type: 'function', function: { name: req.body.tools[0].function.name, arguments: args } }] }, finish_reason: 'tool_calls' }],
      },
    };
  }
  return defaultHandler(req);
};
