/**
 * Encrypted RAG collections (issue 13) over a {@link VectorStore}:
 * - add: document texts are sanitized with the tenant's stable placeholders, embedded through
 *   the upstream embeddings API with the sanitized text only, and stored sanitized. Metadata is
 *   flat (string/number/boolean/null); a field is sealed — AES-256-GCM under the tenant's DEK
 *   from the vault's keyring (no new crypto), AAD bound to tenant, collection, document and
 *   field — when the caller lists it in `encrypt_fields` or detection finds PII of a type the
 *   tenant's policy masks in it. Every field (sealed or not) gets a blind index
 *   HMAC(tenant blind key, collection|field|value) for exact filters; sealed values never sit
 *   in plaintext in the table or its indexes.
 * - query: sanitized with the same placeholders, embedded, nearest neighbours of the caller's
 *   tenant only, exact filters through the blind index; with `restore: true` text is restored
 *   through the chat restore path (src/rag/primitives.ts) and sealed fields are opened as the
 *   role's policy allows (value, partial mask, or left out); without it, sealed fields are left
 *   out and named in `encrypted_fields`. Chunks imported but not yet migrated are sanitized on
 *   the way out.
 * - delete by id.
 * Nothing here logs values: ids, counts and types only (by the caller).
 */
import type OpenAI from 'openai';
import { embeddingUnusable, isVeilError, vaultIntegrity } from '../core/errors.js';
import type { EntityType, RequestContext, Sensitivity } from '../core/types.js';
import { fromBase64, GCM_IV_BYTES, randomBytes, toBase64, utf8, fromUtf8 } from '../keys/crypto.js';
import type { MaskServices } from '../sanitize/sanitize.js';
import { maskValue, type Policy } from '../policy/index.js';
import type { Keyring } from '../keys/keyring.js';
import type { VaultCrypto } from '../vault/db-vault.js';
import { ClientAbortedError, mapUpstreamError } from '../http/upstream.js';
import { restoreTexts, sanitizeTexts } from './primitives.js';
import type { Filter, Hit, StoredChunk, VectorStore } from './store.js';
import type { AuditStore } from '../audit/store.js';
import { auditOpens, type Open } from './audit.js';
import type { PendingReader } from './pending.js';

export type MetaValue = string | number | boolean | null;
export type Metadata = Record<string, MetaValue>;

export interface DocumentIn {
  readonly id: string;
  readonly text: string;
  readonly metadata?: Metadata;
}

export interface QueryIn {
  readonly query: string;
  readonly k: number;
  readonly filter?: Metadata;
  readonly restore?: boolean;
}

export interface QueryResult {
  readonly id: string;
  readonly text: string;
  readonly metadata: Metadata;
  readonly encrypted_fields: string[];
  readonly distance: number;
}

/** Embeds sanitized texts (the upstream's embeddings API, or vectors kept by a migration). */
export type Embedder = (sanitizedTexts: string[]) => Promise<number[][]>;

export interface CollectionsDeps {
  readonly store: VectorStore;
  /** The vault's keyring (DB vault): DEKs and the blind-index key of each tenant. */
  readonly keyring: Keyring;
  readonly crypto: VaultCrypto;
  /**
   * The audit trail (src/audit): with it, opening sealed metadata (`restore: true`) writes a
   * `restore` event first — one entry per field, `meta:<id>:<field>` with type, outcome and key
   * version, never a value — and decrypts nothing when it cannot be written (503).
   */
  readonly audit?: Pick<AuditStore, 'append'>;
  /** Not-yet-migrated rows of a running table migration (src/rag/pending.ts), searched too. */
  readonly pending?: PendingReader;
}

export interface Sealed {
  /** Entity type found in the value, or null when sealed by `encrypt_fields` only. */
  t: EntityType | null;
  /** Tokens (`TYPE_ID`) of the values found in it, so erasure finds the field (src/rag/erase.ts). */
  k?: string[];
  v: number;
  iv: string;
  ct: string;
}

export const embeddingFailed = embeddingUnusable;

export const aad = (tenant: string, collection: string, id: string, field: string, version: number) =>
  utf8(`veil:rag:v1|${tenant}|${collection}|${id}|${field}|${version}`);
export const blindData = (collection: string, field: string, value: MetaValue) => utf8(`veil:rag:blind:v1|${collection}|${field}|${JSON.stringify(value)}`);

/** Embeds sanitized texts through the upstream (float vectors, same size, one per input). */
export async function embed(client: OpenAI, model: string, input: string[], signal?: AbortSignal): Promise<number[][]> {
  let res;
  try {
    res = await client.embeddings.create({ model, input, encoding_format: 'float' }, { signal });
  } catch (e) {
    const mapped = mapUpstreamError(e);
    if (mapped instanceof ClientAbortedError) throw mapped;
    throw mapped;
  }
  const data = Array.isArray(res?.data) ? res.data : [];
  if (data.length !== input.length) throw embeddingFailed('wrong number of embeddings');
  const out: number[][] = new Array(input.length);
  for (const d of data) {
    const i = d.index;
    if (!Number.isInteger(i) || i < 0 || i >= input.length || !Array.isArray(d.embedding)) throw embeddingFailed('malformed embedding');
    out[i] = d.embedding as number[];
  }
  const dims = out[0]?.length ?? 0;
  if (dims === 0 || out.some((e) => !e || e.length !== dims || !e.every((x) => typeof x === 'number' && Number.isFinite(x)))) throw embeddingFailed('embeddings of different or empty sizes');
  return out;
}

function actionFor(policy: Policy, role: string, type: EntityType | null) {
  const cls: Sensitivity = type ? policy.sensitivity[type] : 'sensitive';
  return (policy.restore[role] ?? policy.restoreDefault)[cls];
}

export function createCollections(deps: CollectionsDeps) {
  const { store, keyring, crypto: cx } = deps;

  async function blindOf(tenant: string, collection: string, fields: Metadata): Promise<Uint8Array[]> {
    const key = await keyring.blindKey(tenant);
    const out: Uint8Array[] = [];
    for (const [f, v] of Object.entries(fields)) out.push(await cx.hmac(key, blindData(collection, f, v)));
    return out;
  }

  return {
    /** Sanitizes, embeds (sanitized text only) and stores documents; returns their ids. */
    async add(ctx: RequestContext, mask: MaskServices, embedder: Embedder, collection: string, docs: readonly DocumentIn[], encryptFields: readonly string[]): Promise<{ ids: string[]; entities: number; sealed: number }> {
      const tenant = ctx.principal.tenantId;
      // One detection/tokenize pass over every text and string metadata value.
      const slots: string[] = [];
      const where: { doc: number; field: string | null }[] = [];
      docs.forEach((d, i) => {
        slots.push(d.text);
        where.push({ doc: i, field: null });
        for (const [f, v] of Object.entries(d.metadata ?? {})) {
          if (typeof v === 'string' && v.length > 0) {
            slots.push(v);
            where.push({ doc: i, field: f });
          }
        }
      });
      const s = await sanitizeTexts(slots, mask, ctx);
      const texts: string[] = new Array(docs.length);
      const found = docs.map(() => new Map<string, EntityType>());
      const tokensIn = docs.map(() => new Map<string, string[]>());
      s.items.forEach((it, j) => {
        const w = where[j]!;
        if (w.field === null) texts[w.doc] = it.text;
        else if (it.entities.length > 0) {
          found[w.doc]!.set(w.field, it.entities[0]!.type);
          tokensIn[w.doc]!.set(w.field, it.entities.map((e) => e.placeholder.slice(1, -1)));
        }
      });
      const force = new Set(encryptFields);
      const vectors = await embedder(texts);
      if (vectors.length !== texts.length) throw embeddingFailed('wrong number of embeddings');

      let sealedCount = 0;
      const chunks: StoredChunk[] = [];
      for (let i = 0; i < docs.length; i++) {
        const d = docs[i]!;
        const md = d.metadata ?? {};
        const plain: Metadata = {};
        const toSeal: [string, MetaValue, EntityType | null][] = [];
        for (const [f, v] of Object.entries(md)) {
          if (found[i]!.has(f) || force.has(f)) toSeal.push([f, v, found[i]!.get(f) ?? null]);
          else plain[f] = v;
        }
        const sealed: Record<string, Sealed> = {};
        if (toSeal.length > 0) {
          const uses = await keyring.reserveEncryptions(tenant, toSeal.length);
          for (let j = 0; j < toSeal.length; j++) {
            const [f, v, t] = toSeal[j]!;
            const use = uses[j]!;
            const iv = randomBytes(GCM_IV_BYTES);
            const ct = await cx.encrypt(use.key, iv, utf8(JSON.stringify(v)), aad(tenant, collection, d.id, f, use.version));
            const k = tokensIn[i]!.get(f);
            sealed[f] = { t, ...(k ? { k } : {}), v: use.version, iv: toBase64(iv), ct: toBase64(ct) };
          }
          sealedCount += toSeal.length;
        }
        chunks.push({ id: d.id, text: texts[i]!, metadata: plain, sealed, blind: await blindOf(tenant, collection, md), embedding: vectors[i]! });
      }
      await store.upsert(tenant, collection, chunks);
      let entities = 0;
      for (const v of Object.values(s.counts)) entities += v ?? 0;
      return { ids: docs.map((d) => d.id), entities, sealed: sealedCount };
    },

    async query(ctx: RequestContext, mask: MaskServices, client: OpenAI, model: string, collection: string, q: QueryIn): Promise<QueryResult[]> {
      const tenant = ctx.principal.tenantId;
      const [sq] = (await sanitizeTexts([q.query], mask, ctx)).items;
      const [vector] = await embed(client, model, [sq!.text], ctx.signal);
      const filter: Filter = { plain: {}, blind: q.filter ? await blindOf(tenant, collection, q.filter) : [] };
      const stored: Hit[] = await store.query(tenant, collection, vector!, q.k, filter);
      const pending = deps.pending ? await deps.pending.nearest(tenant, collection, vector!, q.k, q.filter) : [];
      const hits = pending.length > 0 ? [...stored, ...pending].sort((a, b) => a.distance - b.distance).slice(0, q.k) : stored;

      // Chunks not yet migrated hold raw text and metadata: sanitized before anything leaves; a
      // metadata value with PII is then treated like a sealed field (left out, or restored per role).
      const texts = hits.map((h) => h.text);
      const rawMeta = new Map<number, Map<string, number>>(); // hit → field → index in `texts`
      const raw = hits.map((h, i) => (h.migrated === false ? i : -1)).filter((i) => i >= 0);
      if (raw.length > 0) {
        const slots: string[] = [];
        const at: [number, string | null][] = [];
        for (const i of raw) {
          slots.push(texts[i]!);
          at.push([i, null]);
          for (const [f, v] of Object.entries(hits[i]!.metadata)) if (typeof v === 'string' && v.length > 0) (slots.push(v), at.push([i, f]));
        }
        const s = await sanitizeTexts(slots, mask, ctx);
        s.items.forEach((it, j) => {
          const [i, f] = at[j]!;
          if (f === null) texts[i] = it.text;
          else if (it.entities.length > 0) {
            if (!rawMeta.has(i)) rawMeta.set(i, new Map());
            rawMeta.get(i)!.set(f, texts.push(it.text) - 1);
          }
        });
      }
      const out = q.restore ? await restoreTexts(texts, mask, ctx) : texts;
      const role = ctx.principal.role;
      // What each sealed field gives this role; audited before anything is decrypted.
      const plan = hits.map((h) => Object.entries(h.sealed as Record<string, Sealed>).map(([f, raw]): Open => ({ id: h.id, field: f, type: raw.t, version: raw.v, action: q.restore ? actionFor(mask.policy, role, raw.t) : 'placeholder' })));
      if (q.restore && deps.audit) await auditOpens(deps.audit, ctx, collection, plan.flat());
      const results: QueryResult[] = [];
      for (let i = 0; i < hits.length; i++) {
        const h = hits[i]!;
        const metadata: Metadata = { ...(h.metadata as Metadata) };
        const encrypted: string[] = [];
        for (const [f, j] of rawMeta.get(i) ?? []) {
          if (q.restore) metadata[f] = out[j]!;
          else {
            delete metadata[f];
            encrypted.push(f);
          }
        }
        for (const o of plan[i]!) {
          const raw = (h.sealed as Record<string, Sealed>)[o.field]!;
          if (o.action === 'placeholder') {
            encrypted.push(o.field);
            continue;
          }
          const key = await keyring.dek(tenant, raw.v);
          if (!key) throw vaultIntegrity();
          let value: MetaValue;
          try {
            value = JSON.parse(fromUtf8(await cx.decrypt(key, fromBase64(raw.iv), fromBase64(raw.ct), aad(tenant, collection, h.id, o.field, raw.v)))) as MetaValue;
          } catch (e) {
            throw isVeilError(e) ? e : vaultIntegrity();
          }
          metadata[o.field] = o.action === 'value' ? value : typeof value === 'string' ? maskValue(raw.t ?? 'PERSON', value) : '•••';
        }
        results.push({ id: h.id, text: out[i]!, metadata, encrypted_fields: encrypted, distance: h.distance });
      }
      return results;
    },

    delete(ctx: RequestContext, collection: string, id: string): Promise<boolean> {
      return store.delete(ctx.principal.tenantId, collection, id);
    },
  };
}

export type Collections = ReturnType<typeof createCollections>;
