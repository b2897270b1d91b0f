/**
 * Names the way people write them, end to end: the real NER model from models/veil-ner
 * (worker thread) + the pattern detector + the request-level name passes, the official
 * `openai` client → Veil over HTTP → the loopback fake upstream (the only stand-in: it plays
 * the network LLM and records what it received). One decision per person per request: a name
 * found in one message is masked in every message and tool argument, in any case and with a
 * possessive, while the ordinary word "will" stays.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createCompositeDetector } from '../src/detect/composite.js';
import { withNamePasses } from '../src/detect/names/index.js';
import { createPatternDetector } from '../src/detect/patterns/index.js';
import { createNerDetector } from '../src/runtime/node/ner/index.js';
import { useDetectorGateway } from './helpers/gateway.js';

const MODEL = new URL('../models/veil-ner', import.meta.url).pathname;

describe.skipIf(!existsSync(`${MODEL}/onnx`))('name passes through the gateway with the shipped NER model', () => {
  const detector = withNamePasses(createCompositeDetector([createPatternDetector(), createNerDetector({ modelDir: MODEL })]));
  const f = useDetectorGateway(detector);

  it('one decision per person across messages and tool arguments; the verb stays; the reply is restored', async () => {
    const system = 'You help the renewals team. The account owner is Will Hartigan.';
    const user =
      'Please ask Will to draft the renewal letter. HARTIGAN signed last year and hartigan’s notes are attached; I will review them tomorrow.\n' +
      'hey its marcus btw, tell aisha the draft is due Friday.';
    const client = f.gw.client();
    const res = await client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'system', content: system },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'send_mail', arguments: '{"to":"Will Hartigan","cc":"Aisha"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'sent' },
        { role: 'user', content: user },
      ],
    });
    // a name written in several cases shares one placeholder (the vault keys values case-insensitively),
    // so it comes back in the form first seen in the request: HARTIGAN's, Aisha
    expect(res.choices[0]!.message.content).toBe(`You said: ${user.replace('hartigan’s', 'HARTIGAN’s').replace('aisha', 'Aisha')}`);

    const sent = f.up.received[0]!.body as { messages: { content: string | null; tool_calls?: { function: { arguments: string } }[] }[] };
    const all = JSON.stringify(sent.messages);
    for (const v of ['Hartigan', 'HARTIGAN', 'hartigan', 'marcus', 'aisha', 'Aisha', 'ask Will', 'Will Hartigan']) expect(all).not.toContain(v);
    const sentUser = sent.messages[3]!.content!;
    expect(sentUser).toContain('I will review them tomorrow.');
    expect(sentUser).toMatch(/^Please ask \[PERSON_[0-9A-Z]{8}\] to draft the renewal letter\./);
    expect(sentUser).toMatch(/\[PERSON_[0-9A-Z]{8}\]’s notes are attached/);
    expect(sentUser).toMatch(/^hey its \[PERSON_[0-9A-Z]{8}\] btw, tell \[PERSON_[0-9A-Z]{8}\] the draft is due Friday\.$/m);
    const args = JSON.parse(sent.messages[1]!.tool_calls![0]!.function.arguments) as { to: string; cc: string };
    expect(args.to).toMatch(/^\[PERSON_[0-9A-Z]{8}\]$/);
    expect(args.cc).toMatch(/^\[PERSON_[0-9A-Z]{8}\]$/);
  });

  it('keeps section headers, drugs, tests and context words; masks the patient written as SURNAME, GIVEN', async () => {
    const note =
      'Discharge Summary\nPatient: OYELARAN, BENEDIKT T   DOB: 1961-04-22\nDiagnosis: community-acquired pneumonia\n' +
      'Medications: Amoxicillin 500 mg TDS, Atorvastatin 20 mg nocte. Troponin negative x2.\nSSN and IBAN are on file with Beneficiary services.';
    const client = f.gw.client();
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: note }] });
    const sent = (f.up.received.at(-1)!.body as { messages: { content: string }[] }).messages[0]!.content;
    for (const word of ['Discharge Summary', 'Diagnosis:', 'Amoxicillin', 'Atorvastatin', 'Troponin', 'SSN and IBAN', 'Beneficiary services', 'Medications:']) {
      expect(sent).toContain(word);
    }
    expect(sent).not.toMatch(/OYELARAN|BENEDIKT|1961-04-22/);
    expect(sent).toMatch(/Patient: \[PERSON_[0-9A-Z]{8}\]/);
  });
});
