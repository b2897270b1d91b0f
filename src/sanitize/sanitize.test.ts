import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OPEN_PRINCIPAL, type RequestContext } from '../core/types.js';
import { createPatternDetector } from '../detect/patterns/index.js';
import { DEFAULT_POLICY, type Policy } from '../policy/index.js';
import { createMemoryVault } from '../vault/memory.js';
import { restoreChatCompletion } from '../restore/response.js';
import { sanitizeRequest } from './sanitize.js';

const ctx: RequestContext = { principal: OPEN_PRINCIPAL, requestId: 'req_test' };
const services = () => ({ detector: createPatternDetector(), vault: createMemoryVault(), policy: DEFAULT_POLICY });

const email = fc
  .tuple(fc.stringMatching(/^[a-z][a-z0-9]{2,8}$/), fc.stringMatching(/^[a-z]{3,8}$/), fc.constantFrom('com', 'org', 'net', 'io'))
  .map(([u, d, t]) => `${u}@${d}.${t}`);
const filler = fc.constantFrom('hello', 'please', 'reach', 'the', 'team', 'at', 'or', '"quoted"', 'back\\slash', 'ünïcode', '😀', '\n');
const sentence = fc.array(fc.oneof(filler, email), { minLength: 1, maxLength: 12 }).map((w) => w.join(' '));
/** JSON values whose string leaves are sentences (tool-call arguments). */
const jsonArgs: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, sentence, fc.integer(), fc.boolean(), tie('arr'), tie('obj')),
  arr: fc.array(tie('value'), { maxLength: 3 }),
  obj: fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), tie('value'), { maxKeys: 3 }),
})).value;

describe('sanitizeRequest (property)', () => {
  it('no email survives anywhere in the body; tool-call arguments stay JSON of the same shape; restore inverts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(sentence, { minLength: 1, maxLength: 4 }), jsonArgs, async (contents, args) => {
        const body = {
          model: 'm',
          unknown_field: { keep: [1, 2, 3] },
          messages: [
            ...contents.map((c) => ({ role: 'user', content: c })),
            { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: JSON.stringify(args) } }] },
          ],
        };
        const s = await sanitizeRequest('chat', body, services(), ctx);
        const out = JSON.stringify(s.body);
        expect(out).not.toMatch(/[a-z][a-z0-9]{2,8}@[a-z]{3,8}\.(com|org|net|io)/);
        expect((s.body as typeof body).unknown_field).toEqual({ keep: [1, 2, 3] });
        const last = (s.body as typeof body).messages.at(-1) as { tool_calls: { function: { arguments: string } }[] };
        const sentArgs = JSON.parse(last.tool_calls[0]!.function.arguments);
        // same shape: restoring every string leaf gives back the original arguments
        const restored = JSON.parse(s.restorer.restore(JSON.stringify(sentArgs)));
        expect(restored).toEqual(args);
        // and a reply echoing the sanitized text restores to the original text
        const reply = { choices: [{ index: 0, message: { role: 'assistant', content: (s.body as typeof body).messages[0]!.content } }] };
        expect(restoreChatCompletion(reply, s.restorer).choices[0]!.message.content).toBe(contents[0]);
        // the input was not modified
        expect(body.messages[0]!.content).toBe(contents[0]);
      }),
      { numRuns: 150 },
    );
  });

  it('policy decides what is masked and what each role sees back', async () => {
    const s0 = services();
    const text = 'card 4111 1111 1111 1111, mail jane@example.com';
    const userCtx: RequestContext = { principal: { tenantId: 'default', principalId: 'u1', role: 'user' }, requestId: 'r' };
    const s = await sanitizeRequest('chat', { messages: [{ role: 'user', content: text }] }, s0, userCtx);
    const sent = (s.body as { messages: { content: string }[] }).messages[0]!.content;
    // role "user" sees sensitive values, and only a mask of highly sensitive ones
    expect(s.restorer.restore(sent)).toBe('card •••• 1111, mail jane@example.com');
    const unknownRole = await sanitizeRequest('chat', { messages: [{ role: 'user', content: text }] }, s0, { ...userCtx, principal: { ...userCtx.principal, role: 'nobody' } });
    const sent2 = (unknownRole.body as { messages: { content: string }[] }).messages[0]!.content;
    expect(unknownRole.restorer.restore(sent2)).toBe(sent2); // placeholders stay
    const passEmail: Policy = { ...DEFAULT_POLICY, detectType: { EMAIL: 'pass' } };
    const s3 = await sanitizeRequest('chat', { messages: [{ role: 'user', content: text }] }, { ...s0, policy: passEmail }, ctx);
    expect((s3.body as { messages: { content: string }[] }).messages[0]!.content).toMatch(/^card \[CARD_[0-9A-Z]{8}\], mail jane@example.com$/);
  });
});
