/**
 * An exact port of `../shared/pii-dev/score.mjs` (the project's scoring for the PII dev set),
 * returning per-document detail for error analysis: which gold spans leaked, which ordinary
 * words disappeared. `npm run eval:pii` also runs score.mjs itself and checks both agree.
 *
 * - a span is leaked when one of its key tokens occurs in the sanitized text more often than
 *   in the original with every gold span blanked out (names: every word of ≥ 2 letters except
 *   titles; addresses: the words of the first comma-separated part minus street words;
 *   identifiers: the value with separators removed);
 * - collateral: ordinary words (≥ 3 characters with a letter, outside gold spans) that
 *   disappeared from the sanitized text.
 */
export interface GoldSpan {
  readonly start: number;
  readonly end: number;
  readonly type: string;
  readonly value: string;
}
export interface GoldDoc {
  readonly id: string;
  readonly text: string;
  readonly spans: readonly GoldSpan[];
}

const TITLES = new Set(['dr', 'mr', 'ms', 'mrs', 'frau', 'herr', 'miss']);
const STREET = new Set(['street', 'st', 'ave', 'avenue', 'terrace', 'lane', 'blvd', 'apt', 'unit', 'road', 'rd', 'rue', 'de']);
const words = (s: string): string[] =>
  (s.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'’.-]*[\p{L}\p{N}]|[\p{L}\p{N}]/gu) || []).map((w) => w.replace(/[.'’-]+$/, ''));
const count = (hay: string, tok: string): number => {
  let n = 0;
  for (const w of words(hay)) if (w === tok) n++;
  return n;
};
const norm = (s: string): string => s.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');

function keyTokens(sp: GoldSpan): string[] {
  const v = sp.value;
  switch (sp.type) {
    case 'PERSON':
      return words(v).filter((w) => !TITLES.has(w.replace(/\.$/, '')) && w.length > 1);
    case 'EMAIL':
      return [v.toLowerCase()];
    case 'ADDRESS':
      return words(v.split(',')[0]!).filter((w) => !STREET.has(w) && w.length > 1);
    case 'ORG':
    case 'LOCATION':
      return words(v).filter((w) => w.length > 3);
    default:
      return [norm(v)];
  }
}

function present(text: string, sp: GoldSpan, tok: string, baseline: string): boolean {
  if (sp.type === 'EMAIL') return text.toLowerCase().split(tok).length - 1 > baseline.toLowerCase().split(tok).length - 1;
  if (!['PERSON', 'ADDRESS', 'ORG', 'LOCATION'].includes(sp.type)) return norm(text).split(tok).length - 1 > norm(baseline).split(tok).length - 1;
  return count(text, tok) > count(baseline, tok);
}

export const SENSITIVE = ['PERSON', 'EMAIL', 'PHONE', 'ADDRESS', 'SSN', 'NATIONAL_ID', 'CREDIT_CARD', 'IBAN', 'ACCOUNT', 'MRN', 'DATE', 'IP', 'PASSPORT', 'DRIVER_LICENSE', 'USERNAME', 'VEHICLE', 'URL'];

export interface DocDetail {
  readonly id: string;
  readonly leaked: GoldSpan[];
  /** ordinary words that disappeared, with how many times */
  readonly lost: [string, number][];
}
export interface PiiScore {
  readonly types: Record<string, { n: number; leaked: number }>;
  readonly collateral: number;
  readonly plainWords: number;
  readonly missing: number;
  readonly sensitive: { n: number; leaked: number };
  readonly docs: DocDetail[];
}

export function scorePii(gold: readonly GoldDoc[], sanitized: ReadonlyMap<string, string>): PiiScore {
  const stats: Record<string, { n: number; leaked: number }> = {};
  let collateral = 0;
  let plainWords = 0;
  let missing = 0;
  const docs: DocDetail[] = [];
  for (const g of gold) {
    const out = sanitized.get(g.id);
    if (out === undefined) {
      missing++;
      continue;
    }
    let baseline = '';
    let pos = 0;
    for (const sp of g.spans) {
      baseline += g.text.slice(pos, sp.start) + ' ';
      pos = sp.end;
    }
    baseline += g.text.slice(pos);
    const leaked: GoldSpan[] = [];
    for (const sp of g.spans) {
      const s = (stats[sp.type] ??= { n: 0, leaked: 0 });
      s.n++;
      if (keyTokens(sp).some((t) => present(out, sp, t, baseline))) {
        s.leaked++;
        leaked.push(sp);
      }
    }
    const bw = words(baseline).filter((w) => /\p{L}/u.test(w) && w.length > 2);
    const seen = new Map<string, number>();
    for (const w of bw) seen.set(w, (seen.get(w) || 0) + 1);
    const lost: [string, number][] = [];
    for (const [w, n] of seen) {
      plainWords += n;
      const gone = Math.max(0, n - count(out, w));
      collateral += gone;
      if (gone > 0) lost.push([w, gone]);
    }
    docs.push({ id: g.id, leaked, lost });
  }
  let n = 0;
  let leakedN = 0;
  for (const [t, s] of Object.entries(stats)) {
    if (SENSITIVE.includes(t)) {
      n += s.n;
      leakedN += s.leaked;
    }
  }
  return { types: stats, collateral, plainWords, missing, sensitive: { n, leaked: leakedN }, docs };
}

/** The report lines exactly as score.mjs prints them. */
export function formatScore(s: PiiScore): string[] {
  const rows = Object.entries(s.types)
    .sort()
    .map(
      ([t, x]) =>
        `${t.padEnd(15)} ${String(x.n).padStart(4)} spans  ${String(x.leaked).padStart(3)} leaked  protected ${(100 * (1 - x.leaked / x.n)).toFixed(1)}%`,
    );
  const lines = [...rows];
  if (s.missing) lines.push(`missing outputs: ${s.missing}`);
  lines.push(`collateral: ${s.collateral}/${s.plainWords} non-PII words masked (${((100 * s.collateral) / s.plainWords).toFixed(1)}%)`);
  lines.push(headline(s));
  return lines;
}

export function headline(s: PiiScore): string {
  const { n, leaked } = s.sensitive;
  return `SENSITIVE protected ${(100 * (1 - leaked / n)).toFixed(1)}% (${n - leaked}/${n}), collateral ${((100 * s.collateral) / s.plainWords).toFixed(1)}%`;
}
