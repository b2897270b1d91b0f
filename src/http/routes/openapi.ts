/**
 * `GET /openapi.json`: an OpenAPI 3.1 document of Veil's own endpoints (`/v1/veil/*`, `/healthz`,
 * `/readyz`, `/metrics`), built from the zod schemas that validate those requests (reveal.ts,
 * erase.ts, src/rag/routes.ts) with zod's `z.toJSONSchema` (JSON Schema 2020-12, which is
 * OpenAPI 3.1's dialect), so the document and the validation cannot drift. Only the endpoints
 * this gateway serves are listed (reveal and erase need the audit trail, collections the
 * database vault, `/metrics` is absent when `VEIL_METRICS=off`). Response bodies are described
 * by the zod schemas below (checked against real responses in openapi.test.ts). Served without
 * authentication: it holds no tenant data. Pure (runs on Workers).
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { ENTITY_TYPES } from '../../core/types.js';
import { DocumentsBody, QueryBody, TextsBody } from '../../rag/routes.js';
import type { Env } from '../context.js';
import { EraseBody } from './erase.js';
import type { MetricsAccess } from './metrics.js';
import { RevealBody } from './reveal.js';

/** What this gateway serves (see the file comment). */
export interface OpenApiFeatures {
  readonly reveal: boolean;
  readonly erase: boolean;
  readonly collections: boolean;
  readonly metrics: MetricsAccess;
}

type JsonSchema = Record<string, unknown>;

/** A zod schema as an OpenAPI 3.1 schema object: what a request may send (`input`) or what a response holds. */
function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const ErrorBody = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
});
const SanitizeResult = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({
      index: z.number().int(),
      text: z.string(),
      entities: z.array(z.object({ type: z.enum(ENTITY_TYPES), placeholder: z.string(), start: z.number().int(), end: z.number().int() })),
    }),
  ),
});
const RestoreResult = z.object({ object: z.literal('list'), data: z.array(z.object({ index: z.number().int(), text: z.string() })) });
const RevealResult = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({ token: z.string(), type: z.enum(ENTITY_TYPES).nullable(), value: z.string().nullable(), outcome: z.enum(['revealed', 'masked', 'denied']) }),
  ),
});
const EraseResult = z.object({ object: z.literal('veil.erasure'), erased: z.number().int() });
const MetaValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const DocumentsResult = z.object({ object: z.literal('list'), data: z.array(z.object({ id: z.string(), stored: z.literal(true) })) });
const QueryResult = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({ id: z.string(), text: z.string(), metadata: z.record(z.string(), MetaValue), encrypted_fields: z.array(z.string()), distance: z.number() }),
  ),
});
const DeleteResult = z.object({ id: z.string(), deleted: z.literal(true) });
const Health = z.object({ status: z.literal('ok') });
const Ready = z.object({ status: z.enum(['ready', 'not_ready']), reason: z.string().optional() });

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string) => ({ content: { 'application/json': { schema: ref(name) } } });
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: ERROR_TEXT[s] ?? 'Error', ...json('Error') }]));
const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid request (`invalid_json`, `veil_too_deep`, a parameter that fails the schema…)',
  401: 'Missing or invalid Veil API key',
  403: 'Tenant disabled, or the role may not do this',
  404: 'Not found',
  413: 'Request body over `VEIL_MAX_BODY_BYTES`',
  429: 'Rate limited',
  503: 'A dependency (detection, vault, audit trail) is unavailable; nothing was revealed or sent upstream',
};
const V1_ERRORS = [400, 401, 403, 413, 503];

/** Why the caller restores or reveals, written to the audit trail (at most 200 characters kept). */
const PURPOSE_HEADER = { name: 'x-veil-purpose', in: 'header', required: false, description: 'Purpose recorded in the audit trail.', schema: { type: 'string' } };

/** One `POST` with a JSON body validated by `body`. */
const post = (summary: string, body: string, result: string, extra: { description?: string; errors?: number[]; parameters?: unknown[] } = {}) => ({
  post: {
    summary,
    ...(extra.description ? { description: extra.description } : {}),
    parameters: [...(extra.parameters ?? []), PURPOSE_HEADER],
    requestBody: { required: true, ...json(body) },
    responses: { '200': { description: 'OK', ...json(result) }, ...errors(...(extra.errors ?? V1_ERRORS)) },
  },
});

const pathParam = (name: string, description: string, schema: JsonSchema) => ({ name, in: 'path', required: true, description, schema });
const COLLECTION_PARAM = pathParam('name', 'Collection name', { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' });

/** The document for a gateway serving `features`. */
export function openApiDocument(features: OpenApiFeatures): Record<string, unknown> {
  const schemas: Record<string, JsonSchema> = {
    Error: schemaOf(ErrorBody, 'output'),
    TextsRequest: schemaOf(TextsBody, 'input'),
    SanitizeResult: schemaOf(SanitizeResult, 'output'),
    RestoreResult: schemaOf(RestoreResult, 'output'),
    Health: schemaOf(Health, 'output'),
    Ready: schemaOf(Ready, 'output'),
  };
  const paths: Record<string, unknown> = {
    '/v1/veil/sanitize': post('Sanitize texts', 'TextsRequest', 'SanitizeResult', {
      description: 'Masks PII in each text as a chat request would be masked and lists every placeholder with its UTF-16 offsets. Nothing is decrypted.',
    }),
    '/v1/veil/restore': post('Restore texts', 'TextsRequest', 'RestoreResult', {
      description: "Restores placeholders as the caller's role allows (value, partial mask, or left as is). Other tenants' and unknown placeholders are left as written.",
    }),
  };
  if (features.reveal) {
    schemas.RevealRequest = schemaOf(RevealBody, 'input');
    schemas.RevealResult = schemaOf(RevealResult, 'output');
    paths['/v1/veil/reveal'] = post('Reveal tokens', 'RevealRequest', 'RevealResult', {
      description: 'Audited, rate-limited reveal of placeholders, in order; a purpose is required for the highly sensitive class.',
      errors: [...V1_ERRORS, 429],
    });
  }
  if (features.erase) {
    schemas.EraseRequest = schemaOf(EraseBody, 'input');
    schemas.EraseResult = schemaOf(EraseResult, 'output');
    paths['/v1/veil/erase'] = post('Erase a subject (admin role)', 'EraseRequest', 'EraseResult', {
      description: "Deletes the mapping of a value (by type and value, or by token) in the caller's tenant. Audited with counts only.",
    });
  }
  if (features.collections) {
    // rules JSON Schema cannot state (zod refinements), checked by the route
    schemas.DocumentsRequest = { ...schemaOf(DocumentsBody, 'input'), description: 'Document ids must be unique within the request; metadata has at most 64 fields.' };
    schemas.DocumentsResult = schemaOf(DocumentsResult, 'output');
    schemas.QueryRequest = { ...schemaOf(QueryBody, 'input'), description: '`filter` has at most 64 fields.' };
    schemas.QueryResult = schemaOf(QueryResult, 'output');
    schemas.DeleteResult = schemaOf(DeleteResult, 'output');
    paths['/v1/veil/collections/{name}/documents'] = post('Store documents', 'DocumentsRequest', 'DocumentsResult', {
      description: 'Sanitizes, embeds (sanitized text only) and stores documents; PII metadata fields are sealed. Document ids must be unique and hold no identifier.',
      parameters: [COLLECTION_PARAM],
    });
    paths['/v1/veil/collections/{name}/query'] = post('Query a collection', 'QueryRequest', 'QueryResult', {
      description: "Searches the caller's tenant's documents by cosine distance; `filter` is exact equality through the blind index.",
      parameters: [COLLECTION_PARAM],
    });
    paths['/v1/veil/collections/{name}/documents/{id}'] = {
      delete: {
        summary: 'Delete a document',
        parameters: [COLLECTION_PARAM, pathParam('id', 'Document id', { type: 'string' })],
        responses: { '200': { description: 'Deleted', ...json('DeleteResult') }, ...errors(400, 401, 403, 404, 503) },
      },
    };
  }
  paths['/healthz'] = { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'The process answers', ...json('Health') } } } };
  paths['/readyz'] = {
    get: {
      summary: 'Readiness',
      security: [],
      responses: { '200': { description: 'Ready', ...json('Ready') }, '503': { description: 'Not ready (`reason` when known)', ...json('Ready') } },
    },
  };
  if (features.metrics !== 'off') {
    paths['/metrics'] = {
      get: {
        summary: 'Prometheus metrics',
        ...(features.metrics === 'public' ? { security: [] } : { description: 'Admin-role key (anyone in open mode).' }),
        responses: {
          '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...(features.metrics === 'public' ? {} : errors(401, 403)),
        },
      },
    };
  }
  paths['/openapi.json'] = {
    get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Veil',
      version: '0.1.0',
      description:
        "Veil's own endpoints. The OpenAI- and Anthropic-compatible surfaces (/v1/chat/completions, /v1/responses, /v1/messages…) follow their providers' specifications and are not repeated here.",
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ bearer: [] }, { apiKey: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A Veil API key (`vk_…`); none needed in open mode.' },
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'A Veil API key in the header the Anthropic SDK sends.' },
      },
    },
  };
}

/** Registers `GET /openapi.json` (built once per app). */
export function openApiRoute(app: Hono<Env>, features: OpenApiFeatures): void {
  const text = JSON.stringify(openApiDocument(features));
  app.get('/openapi.json', (c) => c.body(text, 200, { 'content-type': 'application/json' }));
}
