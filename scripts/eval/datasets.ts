/**
 * Evaluation data sets (read from NER_DATA_DIR, default ../shared/ner-data next to the repo):
 * CoNLL-style token files are turned back into text by joining tokens with single spaces,
 * with gold spans as character offsets into that text.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EntityType } from '../../src/core/types.js';

export interface GoldSpan {
  readonly start: number;
  readonly end: number;
  /** Veil type, or the dataset's own label when it has no Veil equivalent (then ignored) */
  readonly type: string;
}

export interface Doc {
  readonly text: string;
  readonly gold: readonly GoldSpan[];
}

export interface Dataset {
  readonly name: string;
  readonly docs: readonly Doc[];
  /** the Veil types scored on this dataset */
  readonly types: readonly EntityType[];
  /** gold labels that are ignored: predictions overlapping them are neither TP nor FP */
  readonly ignore?: readonly string[];
}

export function dataDir(): string {
  const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
  return path.resolve(repo, process.env['NER_DATA_DIR'] ?? '../shared/ner-data');
}

/** Reads a BIO/IOB2 token file: one token per line, blank line between sentences. */
export function readConll(
  file: string,
  cols: { token: number; tag: number },
  mapType: (label: string) => string | null,
  limit?: number,
): Doc[] {
  const docs: Doc[] = [];
  let toks: string[] = [];
  let tags: string[] = [];
  const flush = () => {
    if (toks.length === 0) return;
    let text = '';
    const starts: number[] = [];
    toks.forEach((t, i) => {
      if (i > 0) text += ' ';
      starts.push(text.length);
      text += t;
    });
    const gold: GoldSpan[] = [];
    let cur: { start: number; end: number; type: string } | null = null;
    tags.forEach((tag, i) => {
      const m = /^([BI])-(.+)$/.exec(tag);
      const type = m ? mapType(m[2]!) : null;
      const s = starts[i]!;
      const e = s + toks[i]!.length;
      if (!m || type === null) {
        if (cur) gold.push(cur);
        cur = null;
      } else if (m[1] === 'I' && cur && cur.type === type) {
        cur.end = e;
      } else {
        if (cur) gold.push(cur);
        cur = { start: s, end: e, type };
      }
    });
    if (cur) gold.push(cur);
    docs.push({ text, gold });
    toks = [];
    tags = [];
  };
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    if (limit !== undefined && docs.length >= limit) break;
    if (line.startsWith('#')) continue;
    if (line.trim() === '') {
      flush();
      continue;
    }
    const parts = line.split('\t');
    const tok = parts[cols.token];
    const tag = parts[cols.tag];
    if (tok === undefined || tag === undefined || tok.trim() === '') continue;
    toks.push(tok);
    tags.push(tag.trim());
  }
  if (limit === undefined || docs.length < limit) flush();
  return docs;
}

const CONLL3: Record<string, EntityType> = { PER: 'PERSON', LOC: 'LOCATION', ORG: 'ORGANIZATION' };
const WNUT: Record<string, EntityType> = { person: 'PERSON', location: 'LOCATION', corporation: 'ORGANIZATION' };
const NER_TYPES: EntityType[] = ['PERSON', 'LOCATION', 'ORGANIZATION'];

export function loadUner(limit?: number): Dataset {
  const f = path.join(dataDir(), 'uner-en-ewt', 'en_ewt-ud-test.iob2');
  return { name: 'UNER English-EWT test', docs: readConll(f, { token: 1, tag: 2 }, (l) => CONLL3[l] ?? l, limit), types: NER_TYPES, ignore: ['OTHER'] };
}

export function loadWnut(limit?: number): Dataset {
  const f = path.join(dataDir(), 'wnut17', 'test.conll');
  // group / product / creative-work have no Veil type: ignored, not counted against the model
  return { name: 'WNUT-17 test', docs: readConll(f, { token: 0, tag: 1 }, (l) => WNUT[l] ?? l, limit), types: NER_TYPES, ignore: ['group', 'product', 'creative-work'] };
}

export function loadBtc(limit?: number): Dataset {
  const f = path.join(dataDir(), 'btc', 'h.conll');
  return { name: 'BTC section h', docs: readConll(f, { token: 0, tag: 1 }, (l) => CONLL3[l] ?? l, limit), types: NER_TYPES };
}

const PRESIDIO: Record<string, EntityType> = {
  PERSON: 'PERSON',
  STREET_ADDRESS: 'ADDRESS',
  GPE: 'LOCATION',
  ORGANIZATION: 'ORGANIZATION',
  CREDIT_CARD: 'CARD',
  PHONE_NUMBER: 'PHONE',
  EMAIL_ADDRESS: 'EMAIL',
  IBAN_CODE: 'IBAN',
  US_SSN: 'SSN',
  IP_ADDRESS: 'IP',
};
export const PRESIDIO_TYPES: EntityType[] = ['PERSON', 'ADDRESS', 'LOCATION', 'ORGANIZATION', 'CARD', 'PHONE', 'EMAIL', 'IBAN', 'SSN', 'IP'];

export function loadPresidio(limit?: number): Dataset {
  const f = path.join(dataDir(), 'presidio-research', 'synth_dataset_v2.json');
  const raw = JSON.parse(readFileSync(f, 'utf8')) as {
    full_text: string;
    spans: { entity_type: string; start_position: number; end_position: number }[];
  }[];
  const docs = raw.slice(0, limit ?? raw.length).map((r) => ({
    text: r.full_text,
    gold: r.spans.map((s) => ({ start: s.start_position, end: s.end_position, type: PRESIDIO[s.entity_type] ?? s.entity_type })),
  }));
  // DATE_TIME and the other Presidio labels have no scored Veil type; a DOB found inside a DATE_TIME is fine
  return { name: 'Presidio synthetic (synth_dataset_v2)', docs, types: PRESIDIO_TYPES, ignore: ['DATE_TIME', 'TITLE', 'AGE', 'NRP', 'ZIP_CODE', 'DOMAIN_NAME', 'US_DRIVER_LICENSE'] };
}
