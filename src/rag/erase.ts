/**
 * Erasure reaches the collections (issue 13): called by `eraseSubject` (src/compliance/erase.ts,
 * through its optional `collections` hook) before the subject's mapping is deleted. In the
 * tenant's chunks (`veil_rag_chunks`, every collection):
 * - text: every placeholder of the subject is replaced by `[TYPE_ERASED]` (not a placeholder, so
 *   it restores to nothing). The stored vector is kept: it was computed from the sanitized text,
 *   so it holds the random placeholder, never the value.
 * - metadata: a sealed field whose value held one of the subject's tokens, and (erasing by value)
 *   any field, sealed or plain, whose blind index equals the value's, is removed together with
 *   its blind index (recomputed from the opened value, or from the erased value itself).
 * Returns how many chunks changed and how many fields were removed; never logs or returns a
 * value. A database without collections (no `veil_rag_chunks`) has nothing to erase (null).
 * `dropTenant` deletes a shredded tenant's chunks (`veil tenants shred`).
 */
import type { EntityType } from '../core/types.js';
import type { Db } from '../db/client.js';
import { fromBase64, fromHex, fromUtf8, toHex } from '../keys/crypto.js';
import type { Keyring } from '../keys/keyring.js';
import type { VaultCrypto } from '../vault/db-vault.js';
import { aad, blindData, type MetaValue, type Sealed } from './collections.js';

export interface CollectionEraser {
  erase(tenantId: string, subject: { readonly tokens: readonly string[]; readonly value?: { readonly type: EntityType; readonly value: string } }): Promise<{ chunks: number; fields: number } | null>;
  /** Deletes every chunk of the tenant (crypto-shredding); returns how many. */
  dropTenant(tenantId: string): Promise<number>;
}

export const erasedMarker = (token: string) => `[${token.slice(0, token.lastIndexOf('_'))}_ERASED]`;

interface Row {
  collection: string;
  id: string;
  text: string;
  metadata: Record<string, MetaValue>;
  sealed: Record<string, Sealed>;
  blind: Uint8Array[];
}

export function createCollectionEraser(deps: { db: Db; keyring: Keyring; crypto: VaultCrypto }): CollectionEraser {
  const { db, keyring, crypto: cx } = deps;
  const haveChunks = async () => !!(await db.query<{ t: string | null }>("select to_regclass('veil_rag_chunks')::text as t", []))[0]?.t;
  return {
    async dropTenant(tenantId) {
      if (!(await haveChunks())) return 0;
      return (await db.query('delete from veil_rag_chunks where tenant_id = $1 returning 1', [tenantId])).length;
    },

    async erase(tenantId, subject) {
      if (!(await haveChunks())) return null;
      const tokens = [...new Set(subject.tokens)];
      // Erasing by value: the value's blind index in every (collection, field) of the tenant.
      const byBlind = new Map<string, string>(); // hex blind → `collection\0field`
      let blindKey: Uint8Array | null = null;
      const keyOf = async () => (blindKey ??= await keyring.blindKey(tenantId));
      if (subject.value) {
        const pairs = await db.query<{ collection: string; f: string }>(
          'select distinct collection, jsonb_object_keys(metadata || sealed) as f from veil_rag_chunks where tenant_id = $1',
          [tenantId],
        );
        const forms = [...new Set([subject.value.value, subject.value.value.trim()])];
        for (const p of pairs) {
          for (const v of forms) byBlind.set(toHex(await cx.hmac(await keyOf(), blindData(p.collection, p.f, v))), `${p.collection}\u0000${p.f}`);
        }
      }
      if (tokens.length === 0 && byBlind.size === 0) return { chunks: 0, fields: 0 };
      const blinds = [...byBlind.keys()].map(fromHex);
      const rows = await db.query<Row>(
        `select collection, id, text, metadata, sealed, blind from veil_rag_chunks
          where tenant_id = $1
            and (exists (select 1 from unnest($2::text[]) p where strpos(text, p) > 0)
              or exists (select 1 from jsonb_each(sealed) e where (e.value -> 'k') ?| $3::text[])
              or blind && $4::bytea[])`,
        [tenantId, tokens.map((t) => `[${t}]`), tokens, blinds],
      );
      let fields = 0;
      for (const r of rows) {
        let text = r.text;
        for (const t of tokens) text = text.split(`[${t}]`).join(erasedMarker(t));
        const metadata = { ...r.metadata };
        const sealed = { ...r.sealed };
        const drop = new Set<string>(); // hex blinds to remove
        for (const b of r.blind) {
          const at = byBlind.get(toHex(b));
          if (!at) continue;
          const [collection, f] = at.split('\u0000') as [string, string];
          if (collection !== r.collection || !(f in metadata || f in sealed)) continue;
          delete metadata[f];
          delete sealed[f];
          drop.add(toHex(b));
          fields++;
        }
        for (const [f, s] of Object.entries(sealed)) {
          if (!s.k?.some((k) => tokens.includes(k))) continue;
          delete sealed[f];
          fields++;
          // its blind index: recomputed from the opened value (left in place if it cannot be opened)
          const key = await keyring.dek(tenantId, s.v);
          if (!key) continue;
          try {
            const value = JSON.parse(fromUtf8(await cx.decrypt(key, fromBase64(s.iv), fromBase64(s.ct), aad(tenantId, r.collection, r.id, f, s.v)))) as MetaValue;
            drop.add(toHex(await cx.hmac(await keyOf(), blindData(r.collection, f, value))));
          } catch {
            // unreadable: the field is gone anyway
          }
        }
        await db.query('update veil_rag_chunks set text = $4, metadata = $5::jsonb, sealed = $6::jsonb, blind = $7::bytea[], updated_at = now() where tenant_id = $1 and collection = $2 and id = $3', [
          tenantId,
          r.collection,
          r.id,
          text,
          JSON.stringify(metadata),
          JSON.stringify(sealed),
          r.blind.filter((b) => !drop.has(toHex(b))),
        ]);
      }
      return { chunks: rows.length, fields };
    },
  };
}
