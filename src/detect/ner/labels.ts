/**
 * Label maps for token-classification models: turn a model's `id2label` (BIO tags such as
 * `B-PER`, `I-LOCATION`, `O`) into Veil entity types. Pure; Workers-safe.
 */
import { type EntityType, isEntityType } from '../../core/types.js';

/** Model entity name (without the B-/I- prefix, upper-cased) → Veil type; `null` = ignore. */
export type LabelMap = Readonly<Record<string, EntityType | null>>;

/** Handles Veil's own model and the common public ones (CoNLL / OntoNotes / Presidio names). */
export const DEFAULT_LABEL_MAP: LabelMap = Object.freeze({
  PER: 'PERSON',
  PERSON: 'PERSON',
  LOC: 'LOCATION',
  LOCATION: 'LOCATION',
  GPE: 'LOCATION',
  ORG: 'ORGANIZATION',
  ORGANIZATION: 'ORGANIZATION',
  CORPORATION: 'ORGANIZATION',
  ADDRESS: 'ADDRESS',
  STREET_ADDRESS: 'ADDRESS',
  ADDR: 'ADDRESS',
  MISC: null,
});

export type BioPrefix = 'B' | 'I' | 'O';

export interface ResolvedLabel {
  readonly prefix: BioPrefix;
  /** null for `O` and for entity names the label map ignores or does not know. */
  readonly type: EntityType | null;
}

/** Parses `B-PER`, `I_PER`, `S-PER`/`E-PER` (BIOES, read as B/I), `U-PER`, `PER` (IO scheme) or `O`. */
export function resolveLabel(label: string, map: LabelMap = DEFAULT_LABEL_MAP): ResolvedLabel {
  const raw = label.trim();
  if (raw === '' || raw.toUpperCase() === 'O') return { prefix: 'O', type: null };
  const m = /^([BIESLU])[-_](.+)$/i.exec(raw);
  let prefix: BioPrefix;
  let name: string;
  if (m) {
    const p = m[1]!.toUpperCase();
    prefix = p === 'B' || p === 'S' || p === 'U' ? 'B' : 'I';
    name = m[2]!;
  } else {
    prefix = 'I';
    name = raw;
  }
  const key = name.toUpperCase();
  const mapped = Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;
  const type = mapped === undefined ? (isEntityType(key) ? key : null) : mapped;
  return type === null ? { prefix: 'O', type: null } : { prefix, type };
}

/**
 * Resolves a model's `id2label` (object keyed by stringified id, or an array) into a dense
 * table indexed by class id. Throws on gaps so a broken config is caught at load time.
 */
export function buildLabelTable(
  id2label: Readonly<Record<string, string>> | readonly string[],
  map: LabelMap = DEFAULT_LABEL_MAP,
): ResolvedLabel[] {
  const entries: [number, string][] = Array.isArray(id2label)
    ? (id2label as readonly string[]).map((l, i) => [i, l])
    : Object.entries(id2label as Record<string, string>).map(([k, v]) => [Number(k), v]);
  const n = entries.length;
  const table: ResolvedLabel[] = new Array(n);
  for (const [id, label] of entries) {
    if (!Number.isInteger(id) || id < 0 || id >= n) throw new Error(`id2label has a bad id: ${id}`);
    table[id] = resolveLabel(label, map);
  }
  for (let i = 0; i < n; i++) if (!table[i]) throw new Error(`id2label is missing id ${i}`);
  return table;
}

/**
 * Parses `VEIL_NER_LABEL_MAP` (JSON object of model entity name → Veil type or null) and
 * merges it over the defaults. Throws with a message naming the bad key (never a value).
 */
export function parseLabelMap(json: string | undefined, base: LabelMap = DEFAULT_LABEL_MAP): LabelMap {
  if (json === undefined || json.trim() === '') return base;
  let obj: unknown;
  try {
    obj = JSON.parse(json);
  } catch {
    throw new Error('VEIL_NER_LABEL_MAP is not valid JSON');
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new Error('VEIL_NER_LABEL_MAP must be a JSON object like {"PER":"PERSON","MISC":null}');
  }
  const out: Record<string, EntityType | null> = { ...base };
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (v !== null && (typeof v !== 'string' || !isEntityType(v))) {
      throw new Error(`VEIL_NER_LABEL_MAP: key ${JSON.stringify(k)} maps to an unknown entity type`);
    }
    out[k.toUpperCase()] = v as EntityType | null;
  }
  return Object.freeze(out);
}
