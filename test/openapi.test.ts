/**
 * GET /openapi.json over real HTTP (createApp on a loopback port, memory vault, pattern
 * detector; the loopback upstream in test/fakes/upstream.ts is the only stand-in and is never
 * called here). The document is checked by @readme/openapi-parser (the OpenAPI 3.1 schema plus
 * its extra rules), and its schemas are held to the routes: the request schema of
 * /v1/veil/sanitize accepts (ajv, JSON Schema 2020-12) exactly the bodies the route accepts,
 * on fixed examples and on generated ones, and real responses match the response schemas.
 */
import { validate } from '@readme/openapi-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../src/http/routes/openapi.js';
import { EraseBody } from '../src/http/routes/erase.js';
import { RevealBody } from '../src/http/routes/reveal.js';
import { type FakeUpstream, startFakeUpstream } from './fakes/upstream.js';
import { type Gateway, startGateway } from './helpers/gateway.js';

type Doc = { openapi: string; paths: Record<string, Record<string, any>>; components: { schemas: Record<string, object> } };

const ajv = new Ajv2020({ strict: true });
const compile = (doc: Doc, name: string) => {
  const schema = doc.components.schemas[name];
  expect(schema, name).toBeDefined();
  return ajv.compile(schema!);
};

describe('GET /openapi.json', () => {
  let up: FakeUpstream;
  let gw: Gateway;
  let root: string;
  let doc: Doc;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway(up.url);
    root = gw.url.replace(/\/v1$/, '');
    const res = await fetch(`${root}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = (await res.json()) as Doc;
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const sanitize = async (body: unknown) => {
    const res = await fetch(`${gw.url}/veil/sanitize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as any };
  };

  it('is a valid OpenAPI 3.1 document listing what this gateway serves', async () => {
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(doc.openapi).toBe('3.1.0');
    // memory vault, no audit trail, no collections: reveal, erase and collections are not served
    expect(Object.keys(doc.paths).sort()).toEqual(['/healthz', '/metrics', '/openapi.json', '/readyz', '/v1/veil/restore', '/v1/veil/sanitize']);
    expect(doc.paths['/v1/veil/sanitize']!.post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/TextsRequest' });
    // served without a key, like /healthz
    expect(doc.paths['/openapi.json']!.get.security).toEqual([]);
  });

  it('with every feature on it is still valid and names each /v1/veil endpoint', async () => {
    const full = openApiDocument({ reveal: true, erase: true, collections: true, metrics: 'public' }) as Doc;
    const result = await validate(structuredClone(full) as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(Object.keys(full.paths).filter((p) => p.startsWith('/v1/veil/')).sort()).toEqual([
      '/v1/veil/collections/{name}/documents',
      '/v1/veil/collections/{name}/documents/{id}',
      '/v1/veil/collections/{name}/query',
      '/v1/veil/erase',
      '/v1/veil/restore',
      '/v1/veil/reveal',
      '/v1/veil/sanitize',
    ]);
    expect(openApiDocument({ reveal: false, erase: false, collections: false, metrics: 'off' }).paths).not.toHaveProperty('/metrics');
  });

  it("the sanitize request schema accepts exactly what the route accepts (fixed examples)", async () => {
    const check = compile(doc, 'TextsRequest');
    const examples: unknown[] = [
      { texts: ['call jane.roe@example.com'] },
      { texts: [''] },
      { texts: ['a'], extra: true },
      { texts: [] },
      { texts: 'a' },
      { texts: [1] },
      { texts: null },
      {},
      [],
      'texts',
      { texts: Array.from({ length: 2049 }, () => 'x') },
      { texts: Array.from({ length: 2048 }, () => '') },
    ];
    for (const body of examples) {
      const docSays = check(body);
      const r = await sanitize(body);
      expect([r.status, body], JSON.stringify(body).slice(0, 80)).toEqual([docSays ? 200 : 400, body]);
      if (!docSays) expect(r.json.error.type).toBe('invalid_request_error');
    }
  });

  it('the sanitize request schema accepts exactly what the route accepts (generated bodies)', async () => {
    const check = compile(doc, 'TextsRequest');
    const text = fc.string({ maxLength: 20 });
    const texts = fc.oneof(
      fc.array(text, { maxLength: 4 }),
      fc.array(fc.oneof(text, fc.integer(), fc.constant(null), fc.boolean()), { maxLength: 4 }),
      text,
      fc.integer(),
      fc.constant(null),
    );
    const body = fc.oneof(fc.record({ texts }, { requiredKeys: [] }), fc.record({ texts, other: fc.jsonValue() }), fc.jsonValue());
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const r = await sanitize(b);
        expect(r.status).toBe(check(b) ? 200 : 400);
      }),
      { numRuns: 60 },
    );
  });

  it('reveal and erase request schemas in the document agree with the zod schemas the routes use', () => {
    const full = openApiDocument({ reveal: true, erase: true, collections: false, metrics: 'admin' }) as Doc;
    const reveal = compile(full, 'RevealRequest');
    const erase = compile(full, 'EraseRequest');
    const token = fc.oneof(fc.constant('[EMAIL_K3P9ZA7Q]'), fc.string({ maxLength: 8 }), fc.string({ minLength: 199, maxLength: 202 }), fc.integer());
    const revealBody = fc.oneof(
      fc.record({ tokens: fc.oneof(fc.array(token, { maxLength: 3 }), token), purpose: fc.oneof(fc.string({ maxLength: 4 }), fc.integer()) }, { requiredKeys: [] }),
      fc.jsonValue(),
    );
    fc.assert(fc.property(revealBody, (b) => {
      expect(reveal(b)).toBe(RevealBody.safeParse(b).success);
    }), { numRuns: 300 });
    const eraseBody = fc.oneof(
      fc.record({ type: fc.constantFrom('EMAIL', 'CARD', 'email', 'NOPE'), value: fc.string({ maxLength: 4 }), token, x: fc.integer() }, { requiredKeys: [] }),
      fc.jsonValue(),
    );
    fc.assert(fc.property(eraseBody, (b) => {
      expect(erase(b)).toBe(EraseBody.safeParse(b).success);
    }), { numRuns: 300 });
  });

  it('real responses match the response schemas (sanitize, restore, errors, health, readiness)', async () => {
    const s = await sanitize({ texts: ['mail jane.roe@example.com', 'nothing here'] });
    expect(s.status).toBe(200);
    expect(s.json.data[0].entities).toHaveLength(1);
    expect(compile(doc, 'SanitizeResult')(s.json)).toBe(true);
    const res = await fetch(`${gw.url}/veil/restore`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ texts: [s.json.data[0].text] }) });
    const restored = (await res.json()) as any;
    expect(restored.data[0].text).toBe('mail jane.roe@example.com');
    expect(compile(doc, 'RestoreResult')(restored)).toBe(true);
    const bad = await sanitize({ texts: 'no' });
    expect(compile(doc, 'Error')(bad.json)).toBe(true);
    expect(compile(doc, 'Health')(await (await fetch(`${root}/healthz`)).json())).toBe(true);
    expect(compile(doc, 'Ready')(await (await fetch(`${root}/readyz`)).json())).toBe(true);
    // a schema that is wrong for the answer does fail (the check above can fail)
    expect(compile(doc, 'SanitizeResult')(restored)).toBe(false);
    expect(up.received).toHaveLength(0);
  });
});
