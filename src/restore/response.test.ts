import { describe, expect, it } from 'vitest';
import type { Token } from '../vault/types.js';
import { restoreChatCompletion, StreamingResponseRestorer } from './response.js';
import { Restorer } from './restorer.js';

const r = new Restorer(new Map([['PERSON_7QX2M4AB' as Token, 'Jo "Q" \\ Smith']]));

describe('response restoration', () => {
  it('JSON-mode content and tool-call arguments get JSON-escaped values; plain content does not', () => {
    const body = {
      choices: [
        { index: 0, message: { role: 'assistant', content: '{"n":"[PERSON_7QX2M4AB]"}', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{"n":"PERSON_7QX2M4AB"}' } }] } },
      ],
    };
    const json = restoreChatCompletion(structuredClone(body), r, { jsonContent: true });
    expect(JSON.parse(json.choices[0]!.message.content)).toEqual({ n: 'Jo "Q" \\ Smith' });
    expect(JSON.parse(json.choices[0]!.message.tool_calls[0]!.function.arguments)).toEqual({ n: 'Jo "Q" \\ Smith' });
    const plain = restoreChatCompletion(structuredClone(body), r);
    expect(plain.choices[0]!.message.content).toBe('{"n":"Jo "Q" \\ Smith"}');
  });

  it('streamed: held text is appended to the finishing chunk; ids and unknown fields untouched', () => {
    const s = new StreamingResponseRestorer(r, { jsonContent: true });
    const c1 = { id: 'x', created: 1, x_extra: { a: 1 }, choices: [{ index: 0, delta: { content: '{"n":"[PERSON_7Q' }, finish_reason: null }] };
    const c2 = { id: 'x', created: 1, choices: [{ index: 0, delta: { content: 'X2M4AB]"}' }, finish_reason: null }] };
    const c3 = { id: 'x', created: 1, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null };
    const out = [c1, c2, c3].map((c) => s.transform(structuredClone(c) as Record<string, unknown>)) as any[];
    expect(out[0].x_extra).toEqual({ a: 1 });
    expect(out[2].finish_reason ?? out[2].choices[0].finish_reason).toBe('stop');
    const text = out.map((c) => c.choices[0].delta.content ?? '').join('');
    expect(JSON.parse(text)).toEqual({ n: 'Jo "Q" \\ Smith' });
    expect(s.end()).toEqual([]);
  });

  it('a stream cut before finish_reason releases held text in one extra chunk per choice', () => {
    const s = new StreamingResponseRestorer(r);
    s.transform({ id: 'y', object: 'chat.completion.chunk', choices: [{ index: 1, delta: { content: 'Hi [PERS' }, finish_reason: null }] });
    expect(s.end()).toEqual([{ id: 'y', object: 'chat.completion.chunk', choices: [{ index: 1, delta: { content: '[PERS' }, finish_reason: null }] }]);
  });
});
