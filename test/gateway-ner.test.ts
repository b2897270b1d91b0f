/**
 * End to end with the real NER model from models/veil-ner (worker threads, transformers.js)
 * plus the pattern detector: the official `openai` client → Veil over HTTP → the loopback fake
 * upstream (the network stand-in). Names and addresses are replaced before the upstream sees
 * them and come back in the reply.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createCompositeDetector } from '../src/detect/composite.js';
import { createPatternDetector } from '../src/detect/patterns/index.js';
import { createNerDetector } from '../src/runtime/node/ner/index.js';
import { lastUserText, smallPieces, chatChunks } from './fakes/upstream.js';
import { useDetectorGateway } from './helpers/gateway.js';

const MODEL = new URL('../models/veil-ner', import.meta.url).pathname;

describe.skipIf(!existsSync(`${MODEL}/onnx`))('gateway with the shipped NER model', () => {
  const detector = createCompositeDetector([createPatternDetector(), createNerDetector({ modelDir: MODEL })]);
  const f = useDetectorGateway(detector);

  const PROMPT =
    'Please write a short note to Michael Johnson confirming that Sarah Williams will visit him on Monday. ' +
    'Her email is sarah.williams@example.com.';

  it('names are replaced before the upstream sees them, and restored in the reply (plain and streamed)', async () => {
    const client = f.gw.client();
    const plain = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: PROMPT }] });
    expect(plain.choices[0]!.message.content).toBe(`You said: ${PROMPT}`);
    const sent = lastUserText(f.up.received[0]!.body);
    for (const v of ['Michael Johnson', 'Sarah Williams', 'sarah.williams@example.com']) expect(sent).not.toContain(v);
    expect(sent).toMatch(/\[PERSON_[0-9A-Z]{8}\]/);
    expect(sent).toMatch(/\[EMAIL_[0-9A-Z]{8}\]/);

    f.up.handler = (req) => ({ kind: 'sse', events: chatChunks([smallPieces(`You said: ${lastUserText(req.body)}`)]) });
    const stream = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: PROMPT }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe(`You said: ${PROMPT}`);
  });

  it('model ids in URL paths: names the model sees in ids pass; validated identifiers are refused', async () => {
    f.up.handler = (req) => ({ kind: 'json', body: { id: decodeURIComponent(req.path.slice('/models/'.length)), object: 'model', created: 1, owned_by: 'x' } });
    const client = f.gw.client();
    // the NER model reads parts of these as PERSON / ORGANIZATION
    for (const id of ['claude-3-5-sonnet', 'meta-llama/Llama-3.1-8B-Instruct', 'ft:gpt-4o-mini:acme-corp::abc123']) {
      expect((await client.models.retrieve(id)).id).toBe(id);
    }
    f.up.received.length = 0;
    await expect(client.models.retrieve('219-09-9999')).rejects.toMatchObject({ status: 400, code: 'veil_pii_in_path' });
    expect(f.up.received).toHaveLength(0);
  });
});
