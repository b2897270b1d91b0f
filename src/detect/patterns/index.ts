import type { EntityType } from '../../core/types.js';
import { abortError } from '../../core/errors.js';
import { resolveSpans } from '../resolve.js';
import type { Detector, Span } from '../types.js';
import { findAddresses } from './address.js';
import { findCards } from './card.js';
import { findContextValues } from './context.js';
import { findDobs } from './dob.js';
import { emailSteps, findEmails } from './email.js';
import { findHandlesAndVehicles } from './handles.js';
import { findIbans } from './iban.js';
import { findIps } from './ip.js';
import { findPhones } from './phone.js';
import { findNationalIds, nationalIdSteps } from './national.js';
import { findSpokenNumbers } from './spoken.js';
import { findSsns } from './ssn.js';
import { TextContext } from './textctx.js';
import type { Candidate } from './util.js';

/**
 * Validated pattern detection: EMAIL, PHONE, CARD, IBAN, SSN, IP and context-word identifiers
 * (BANK_ACCOUNT, ROUTING, PASSPORT, DRIVER_LICENSE, NATIONAL_ID, MEDICAL_RECORD, INSURANCE_ID,
 * DOB). Pure TypeScript (no Node APIs), synchronous at the core; runs on Workers.
 *
 * Overlaps between families are resolved by the one rule of src/detect/resolve.ts (rank of the
 * type, then score, length, start): a more specific, validated type beats a looser one over the
 * same characters, e.g. EMAIL > IBAN > CARD > SSN > ROUTING > DOB > context ids > BANK_ACCOUNT >
 * IP > PHONE (the `rank` column of the entity table, src/core/entities.ts). Text inside Veil's
 * own placeholders (`[PERSON_7QX2M4AB]`) is never reported (the same rule).
 *
 * The work is a sequence of steps (one per family, one per national-ID format, one per 1,024
 * '@' signs, then the merge); the detector runs texts of {@link PATTERN_YIELD_CHARS} characters or more with an
 * event-loop turn between steps, on the whole text, so spans never depend on where it yielded.
 */
const SHAPE_ONLY: ReadonlySet<EntityType> = new Set<EntityType>(['NATIONAL_ID', 'VEHICLE', 'DRIVER_LICENSE']);

const FAMILIES: ReadonlyArray<(text: string, out: Candidate[], ctx: TextContext) => void> = [
  findEmails,
  findIbans,
  findCards,
  findSsns,
  findIps,
  findContextValues,
  findPhones,
  findNationalIds,
  findDobs,
  findHandlesAndVehicles,
  findAddresses,
  findSpokenNumbers,
];

/** All pattern spans of one text, sorted by start and non-overlapping. Pure and synchronous. */
export function findPatternSpans(text: string): Span[] {
  const steps = patternSteps(text);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Texts at least this long are detected with event-loop turns between the steps. */
export const PATTERN_YIELD_CHARS = 32_768;

const macrotask: () => Promise<void> = () =>
  new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/**
 * {@link findPatternSpans} for one text, giving the event loop a turn between its steps (one
 * family of patterns, then the merge) when the text has {@link PATTERN_YIELD_CHARS} characters
 * or more, and stopping when `signal` aborts. The same steps on the same whole text, so the
 * spans are exactly those of {@link findPatternSpans}.
 */
export async function findPatternSpansAsync(text: string, signal?: AbortSignal): Promise<Span[]> {
  const steps = patternSteps(text);
  const large = text.length >= PATTERN_YIELD_CHARS;
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (!large) continue;
    await macrotask();
    if (signal?.aborted) throw abortError(signal);
  }
}

/** The work of {@link findPatternSpans} as steps: each `yield` ends one family's scan. */
function* patternSteps(text: string): Generator<void, Span[]> {
  const cands: Candidate[] = [];
  const ctx = new TextContext(text);
  yield;
  for (const find of FAMILIES) {
    // the ID formats are the longest family: a step per format
    if (find === findNationalIds) yield* nationalIdSteps(text, cands, ctx);
    else if (find === findEmails) yield* emailSteps(text, cands);
    else find(text, cands, ctx);
    yield;
  }
  if (cands.length === 0) return [];
  // The same characters found by an ID shape (a check digit that holds by chance one time in
  // ten to a hundred) and right after a context word naming a type ("account number
  // 8803155009086"): the named type wins. Cards, IBANs and e-mails keep winning on structure.
  let kept = cands;
  if (kept.some((c) => c.named)) {
    const named = new Set(kept.filter((c) => c.named).map((c) => `${c.start}:${c.end}`));
    kept = kept.filter((c) => c.named || !SHAPE_ONLY.has(c.type) || !named.has(`${c.start}:${c.end}`));
  }
  // overlaps and placeholders: the one rule (rank of the type, then score, length, start)
  return resolveSpans(
    text,
    kept.map((c): Span => ({ start: c.start, end: c.end, type: c.type, score: c.score, source: 'pattern' })),
  );
}

/** The `Detector` for validated patterns and context words (name `patterns`). */
export function createPatternDetector(): Detector {
  return {
    name: 'patterns',
    async detect(texts, signal) {
      const out: Span[][] = [];
      let since = performance.now();
      for (const t of texts) {
        // many texts: let other requests run between them every ~8 ms of work
        if (performance.now() - since > 8) {
          await new Promise((r) => setTimeout(r, 0));
          since = performance.now();
        }
        if (signal?.aborted) throw abortError(signal);
        // a large text: event-loop turns between the families (same spans as in one go)
        out.push(t.length >= PATTERN_YIELD_CHARS ? await findPatternSpansAsync(t, signal) : findPatternSpans(t));
        if (t.length >= PATTERN_YIELD_CHARS) since = performance.now();
      }
      return out;
    },
    async ready() {},
    async close() {},
  };
}
