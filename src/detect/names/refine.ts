/**
 * Request-level name passes over the merged spans of every text of one request (all messages,
 * tool arguments, RAG context). Pure and linear in the total length; Workers-safe.
 *
 * In order:
 *  1. precision — NER PERSON / ORGANIZATION / LOCATION / ADDRESS spans made only of words that
 *     are not names (context words such as `SSN` or `IBAN`, titles, month and weekday names,
 *     drug, test and diagnosis shapes, ordinary English words that are no one's name, country and
 *     language names, camelCase, eponyms, short acronyms) are dropped; titles, roles and context
 *     words at a span's edges are trimmed off; spans holding two or more digits are kept;
 *  2. complete spans — a PERSON span grows over capitalised name words next to it, particles
 *     (van, de, bin), initials, `SURNAME, GIVEN` in capitals;
 *  3. names the model missed — given + family name (either order) in title case or capitals,
 *     `SURNAME/GIVEN`, HL7 `A^B^C`, values of name-like keys (`Name:`, `"patient": "…"`,
 *     `first_name=`, git trailers, `Name <address>`), CSV / TSV / markdown table and SQL INSERT
 *     columns, names after a title / relation / self-introduction, a lone given name with a cue
 *     (`hi Rania`, a sign-off line), lowercase chat names with a cue (`hey its marcus, tell
 *     aisha`), romanized East Asian names, CJK / Korean names by honorific, spelled-out names;
 *  4. consistency — every word of every PERSON span is a name for the whole request: other
 *     occurrences are masked in any case and with a possessive; a name part that is also an
 *     ordinary word (Will, Rose, Grace, May) only where it is used as a name (capitalised
 *     mid-sentence, possessive, next to another part, after a title), never the lowercase word.
 *  5. one decision per value — an identifier, address, place or organization masked once is
 *     masked wherever the same value recurs in the request.
 * New and grown spans never cut into a pattern span (EMAIL, IBAN …); NER spans they cover are
 * replaced. Texts are handled in segments of at most {@link SEGMENT_CHARS} characters (cut at
 * line breaks, never inside a span); {@link refineNamesAsync} yields to the event loop between
 * steps of large requests. Every size is bounded: keys ≤ 40 characters, values ≤ 80, table rows
 * ≤ 4,000, SQL column lists ≤ 2,000, recurring values ≤ 256.
 */
import { abortError } from '../../core/errors.js';
import type { EntityType } from '../../core/types.js';
import { firstEndingAfter, joinRuns, resolveSpans } from '../resolve.js';
import type { Span } from '../types.js';
import {
  CONTEXT_WORDS,
  CREDENTIALS,
  isCommonWord,
  isCountryOrLanguage,
  isFirstName,
  isForeignMonthOrDay,
  isMonthOrDay,
  isNameWord,
  isSurname,
  looksMedical,
  PARTICLES,
  TITLES,
} from './lexicon.js';
import { type Tok, tokenize } from './tokens.js';

const NER_NAMEISH: ReadonlySet<EntityType> = new Set(['PERSON', 'ORGANIZATION', 'LOCATION']);
/** Roles written before a name ("Co-borrower Joy Martinez", "Spouse — Meenakshi Nair"). */
const ROLE_WORDS = new Set(
  'borrower co-borrower applicant co-applicant guarantor beneficiary interviewer interviewee candidate witness spouse partner claimant defendant plaintiff respondent petitioner tenant landlord employee employer member insured policyholder cardholder volunteer assignee reporter reviewer approver requester'.split(' '),
);
/** Words that make a phrase of ordinary words a proper name: "Kestrel Bay Regional Hospital". */
const ORG_PLACE_WORDS = new Set(
  ('hospital hospitals clinic clinics university college school academy institute institution centre center bank inc ltd llc llp plc gmbh ag bv nv sa srl corp corporation company co group associates partners partnership services solutions logistics dental health healthcare council trust foundation society church agency department ministry court police pharmacy labs laboratories laboratory systems technologies energy insurance union mutual authority commission board fund capital holdings ventures industries studio studios media press ' +
    'city county borough district province state village town bay river valley hills heights park island islands lake mount mountain port harbour harbor beach springs falls creek forest grove ridge point airport station').split(' '),
);
/** Degrees and post-nominals that NER glues to subjects and names. */
const DEGREES = new Set('bsc msc ba ma mba phd md llb llm beng meng mphil dphil bcom mcom btech mtech bs ms'.split(' '));
/** Most characters a value of a name-like key may have. */
const MAX_KV_VALUE = 80;
/** Most characters looked back for a key before `:` / `=`. */
const MAX_KEY = 40;
/** Longest line examined as a table row. */
const MAX_ROW = 4000;

/** Not a name on its own: context word, title, credential, month/day, medical shape. */
function labelWord(l: string): boolean {
  return CONTEXT_WORDS.has(l) || TITLES.has(l) || CREDENTIALS.has(l) || isMonthOrDay(l);
}

/** A word that is never a name part: label words, ordinary words that are no one's name, medical shapes. */
function plainWord(l: string): boolean {
  if (CONTEXT_WORDS.has(l) || TITLES.has(l) || CREDENTIALS.has(l)) return true;
  if (isNameWord(l)) return false;
  if (isMonthOrDay(l) || isForeignMonthOrDay(l)) return true;
  if (l.length < 2 || isCommonWord(l) || looksMedical(l) || isCommonWord(l.replace(/s$/, '')) || ROLE_WORDS.has(l) || RELATION.has(l)) return true;
  // "co-borrower", "follow-up": every part an ordinary word
  return l.includes('-') && l.split('-').every((p) => p.length > 0 && !isNameWord(p) && (isCommonWord(p) || p.length <= 3));
}

/** A capitalised word that can be part of a name next to a known name. */
function nameLike(t: Tok): boolean {
  return (t.cap || t.upper) && !plainWord(t.l) && !/^\p{Lu}$/u.test(t.w);
}

/** An ordinary word that is also a name (Will, Rose, Grace, May, Mark …). */
function ambiguousName(l: string): boolean {
  return isCommonWord(l) || isMonthOrDay(l) || TITLES.has(l) || CONTEXT_WORDS.has(l);
}

interface Work {
  readonly text: string;
  toks: Tok[];
  /** index of the token starting at an offset */
  spans: Span[];
  /** PERSON spans found by a pass, merged by {@link flush} */
  pending: Span[];
}

const isInitial = (text: string, t: Tok): boolean => /^\p{Lu}$/u.test(t.w) && (text[t.e] === '.' || text[t.e] === ' ' || text[t.e] === undefined || text[t.e] === '\n' || text[t.e] === ',');

/** Only spaces (one to three) or a hyphen between a and b. */
function tight(text: string, a: number, b: number): boolean {
  if (b - a < 1 || b - a > 3) return b === a;
  for (let i = a; i < b; i++) if (text[i] !== ' ' && text[i] !== '-' && text[i] !== '\u00a0') return false;
  return !(text[a] === '-' && b - a > 1);
}

function spanTokens(w: Work, s: Span): number[] {
  const out: number[] = [];
  for (let i = firstEndingAfter(w.toks, s.start, (t) => t.e); i < w.toks.length && w.toks[i]!.s < s.end; i++) if (w.toks[i]!.s >= s.start && w.toks[i]!.e <= s.end) out.push(i);
  return out;
}

/** Words around a name that are not part of it: label words, and ordinary words that are no one's name. */
function edgeWord(t: Tok, type: EntityType): boolean {
  // Dr, St at an address's edge are Drive and Street
  if (type === 'ADDRESS') return CONTEXT_WORDS.has(t.l);
  if (type === 'PERSON') {
    if (CONTEXT_WORDS.has(t.l) || TITLES.has(t.l) || CREDENTIALS.has(t.l) || DEGREES.has(t.l) || ROLE_WORDS.has(t.l) || camel(t.w)) return true;
    // ordinary words glued to a name are lowercase ("Jade corroborates"); a capitalised one may be a family name (Woods)
    if (t.lower && plainWord(t.l)) return true;
    return (isMonthOrDay(t.l) || isMonthOrDay(t.l.replace(/s$/, ''))) && !isFirstName(t.l) && t.w.length > 3;
  }
  return labelWord(t.l) || DEGREES.has(t.l);
}

/** `ImportError`, `EpiPen`: an inner capital after lower case (Mc, Mac, O', De… excepted). */
function camel(w: string): boolean {
  return /\p{Ll}\p{Lu}/u.test(w) && !/^(?:Mc|Mac|Fitz|De|Di|Da|La|Le|Van|Von|Du|Al|El)\p{Lu}/u.test(w);
}

/** Eponyms: "Hashimoto's thyroiditis", "Hadrian's Wall" — a possessive before a medical or eponym word. */
const EPONYM_NEXT = new Set('disease syndrome sign law laws principle principles wall test reflex phenomenon palsy ulcer fracture theorem rule razor contracture node nodes triad criteria scale score classification manoeuvre maneuver procedure operation method equation constant formula paradox effect algorithm'.split(' '));

/** Words that follow a verb, not a name, at a sentence start: "Mark the invoice", "Will you". */
const IMPERATIVE_OBJECT = new Set('the a an this that these those it them me us him her my your our their all as you we i up down out off'.split(' '));
const eponym = (next: Tok | undefined): boolean => !!next && (EPONYM_NEXT.has(next.l) || looksMedical(next.l));

/** Offsets of the pieces of a span: cut at line breaks, and for names at runs of 2+ spaces or tabs. */
function pieces(text: string, sp: Span): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const cut = sp.type === 'ADDRESS' ? /\r?\n/g : /\r?\n|\t| {2,}|\s[—–|·•]\s/g;
  const body = text.slice(sp.start, sp.end);
  let from = 0;
  for (const m of body.matchAll(cut)) {
    out.push([sp.start + from, sp.start + m.index!]);
    from = m.index! + m[0].length;
  }
  out.push([sp.start + from, sp.end]);
  return out;
}

/** 1. Precision: drop or trim NER spans made of words that are not names. */
function precision(w: Work): void {
  const kept: Span[] = [];
  for (const sp of w.spans) {
    if (sp.source !== 'ner' || !(NER_NAMEISH.has(sp.type) || sp.type === 'ADDRESS')) {
      kept.push(sp);
      continue;
    }
    // digits: an identifier the model caught under another name is still worth masking
    if (sp.type !== 'ADDRESS' && /\d[^\d]*\d/.test(w.text.slice(sp.start, sp.end))) {
      kept.push(sp);
      continue;
    }
    const parts: Span[] = [];
    for (const [ps, pe] of pieces(w.text, sp)) {
      const piece = { ...sp, start: ps, end: pe };
      const idx = spanTokens(w, piece);
      if (idx.length === 0) {
        if (/\d/.test(w.text.slice(ps, pe)) && sp.type !== 'PERSON') parts.push(piece);
        continue;
      }
      const toks = idx.map((i) => w.toks[i]!);
      // in a mixed-case name, an acronym at the edge is a label ("HRBP Dawn Ellis")
      const mixed = sp.type === 'PERSON' && toks.some((t) => !t.upper);
      const edge = (t: Tok) => edgeWord(t, sp.type) || (mixed && t.upper && !isNameWord(t.l));
      let a = 0;
      let b = toks.length;
      while (a < b && edge(toks[a]!)) a++;
      while (b > a && edge(toks[b - 1]!)) b--;
      if (a === b) {
        // only label words and a number ("SSN 987-65-4320"): the number stays masked
        const body = w.text.slice(ps, pe);
        const d0 = body.search(/\d/);
        if (d0 >= 0) {
          const d1 = body.length - [...body].reverse().join('').search(/\d/);
          let s0 = ps + d0;
          while (s0 > ps && /[\p{L}\p{N}._@#/+-]/u.test(w.text[s0 - 1]!)) s0--;
          let e0 = ps + d1;
          while (e0 < pe && /[\p{L}\p{N}._@#/+-]/u.test(w.text[e0]!)) e0++;
          parts.push({ ...sp, start: s0, end: e0 });
        }
        continue;
      }
      const core = toks.slice(a, b);
      const start = a > 0 ? core[0]!.s : ps;
      let end = b < toks.length ? core.at(-1)!.e : pe;
      // Japanese and Indian honorific suffixes: "Kenji-san"
      const hon = sp.type === 'PERSON' ? /-(?:san|sama|kun|chan|sensei|senpai|ji|jee)$/i.exec(core.at(-1)!.w) : null;
      if (hon && end === core.at(-1)!.e) end -= hon[0].length;
      if (!keepCore(w, sp.type, core, w.toks[idx[b - 1]! + 1], ps, pe)) continue;
      parts.push({ ...sp, start, end });
    }
    // an ADDRESS keeps its lines together when its first and last lines stay
    if (sp.type === 'ADDRESS' && parts.length > 0) {
      kept.push({ ...sp, start: parts[0]!.start, end: parts.at(-1)!.end });
    } else kept.push(...parts);
  }
  w.spans = kept;
}

function keepCore(w: Work, type: EntityType, core: Tok[], after: Tok | undefined, start: number, end: number): boolean {
  const phrase = w.text.slice(core[0]!.s, core.at(-1)!.e).toLowerCase().replace(/\s+/g, ' ');
  const single = core.length === 1 ? core[0]! : null;
  if (type === 'ADDRESS') {
    // "40 milligrams", "Dock 4", "Diagnosis": one ordinary word (and a short number) is not an address
    const digits = Math.max(0, ...(w.text.slice(start, end).match(/\d+/g) ?? []).map((d) => d.length));
    return !(core.length === 1 && digits <= 3 && (plainWord(single!.l) || single!.upper || isCommonWord(single!.l)));
  }
  if (isCountryOrLanguage(phrase) && !(single && isFirstName(single.l) && type === 'PERSON')) return false;
  if (type === 'PERSON') {
    if (core.every((t) => plainWord(t.l) || camel(t.w))) return false;
    if (single) {
      // a one-word header ("Grace:" at a line start) is a label, not a person
      if (single.lineStart && w.text[single.e] === ':' && ambiguousName(single.l)) return false;
      // an imperative at a sentence start: "Mark the invoice", "Bill the client"
      if (single.sentStart && isCommonWord(single.l) && after && IMPERATIVE_OBJECT.has(after.l)) return false;
      // lowercase: not an ordinary word
      if (single.lower && !isNameWord(single.l) && (isCommonWord(single.l) || looksMedical(single.l))) return false;
      // short capitals: an acronym
      if (single.upper && single.w.length <= 3) return false;
      if (camel(single.w)) return false;
      // eponyms
      if (single.poss) {
        if (eponym(after)) return false;
      }
    } else if (core.every((t) => t.lower) && !core.some((t) => isNameWord(t.l))) return false;
    return true;
  }
  // places and organizations: ordinary words alone, acronyms alone, are not worth masking
  if (single && single.upper && single.w.length <= 5) return false;
  if (single) return !(plainWord(single.l) || isCommonWord(single.l) || camel(single.w));
  // several words: a proper name when one is not an ordinary word, or one names a kind of place or body
  if (core.every((t) => t.lower)) return false;
  return core.some((t) => !(plainWord(t.l) || isCommonWord(t.l) || DEGREES.has(t.l) || camel(t.w)) || ORG_PLACE_WORDS.has(t.l));
}

/** Index of the first span ending after `pos`. Spans are sorted and disjoint. */
const firstSpanFrom = (spans: readonly Span[], pos: number): number => firstEndingAfter(spans, pos);

/** Index of the span covering offset `pos`, or -1. Spans are sorted and disjoint. */
function spanAt(spans: readonly Span[], pos: number): number {
  const i = firstEndingAfter(spans, pos);
  return i < spans.length && spans[i]!.start <= pos ? i : -1;
}

/** Queues a PERSON span [start, end); {@link flush} decides against the existing spans. */
function addPerson(w: Work, start: number, end: number, score: number): void {
  if (end > start) w.pending.push({ start, end, type: 'PERSON', score, source: 'ner' });
}

/**
 * Merges the queued PERSON spans into the span list in one sorted sweep: overlapping queued
 * spans are joined; one that lies inside an existing span, or would cut into a pattern span,
 * an ADDRESS or a longer span of another type, is dropped; otherwise the NER spans it
 * overlaps are absorbed into it.
 */
function flush(w: Work): void {
  if (w.pending.length === 0) return;
  const pend = w.pending.sort((a, b) => a.start - b.start || b.end - a.end);
  w.pending = [];
  const cands: Span[] = [];
  for (const c of pend) {
    const last = cands.at(-1);
    if (last && c.start < last.end) cands[cands.length - 1] = { ...last, end: Math.max(last.end, c.end), score: Math.max(last.score, c.score) };
    else cands.push(c);
  }
  const old = w.spans;
  const out: Span[] = [];
  let k = 0;
  for (const c of cands) {
    while (k < old.length && old[k]!.end <= c.start) out.push(old[k++]!);
    let j = k;
    let ok = true;
    let ns = c.start;
    let ne = c.end;
    // the model's place or organization that a name pass knows to be a person: retyped
    if (j < old.length) {
      const o = old[j]!;
      if (o.source === 'ner' && (o.type === 'LOCATION' || o.type === 'ORGANIZATION') && o.start <= c.start && o.end >= c.end && (c.end - c.start) * 2 >= o.end - o.start && c.score >= 0.75) {
        out.push({ ...o, type: 'PERSON' });
        k = j + 1;
        continue;
      }
    }
    while (j < old.length && old[j]!.start < c.end) {
      const o = old[j]!;
      // a short address guess without digits inside a name ("Lucía Ferrer Ortega") is the name
      const looseAddress = o.type === 'ADDRESS' && o.source === 'ner' && !/[\d\n,]/.test(w.text.slice(o.start, o.end)) && o.end - o.start <= 24;
      if ((o.start <= c.start && o.end >= c.end) || o.source === 'pattern' || (o.type === 'ADDRESS' && !looseAddress) || (o.end - o.start > c.end - c.start && o.type !== 'PERSON')) ok = false;
      ns = Math.min(ns, o.start);
      ne = Math.max(ne, o.end);
      j++;
    }
    const prev = out.at(-1);
    if (ok && prev && prev.end > ns) ok = prev.type === 'PERSON' && prev.source === 'ner';
    if (!ok) continue; // the existing spans old[k..j) stay; they are output by the next iterations
    if (prev && prev.end > ns) {
      out[out.length - 1] = { ...prev, end: Math.max(prev.end, ne), score: Math.max(prev.score, c.score) };
    } else out.push({ ...c, start: ns, end: ne });
    k = j;
  }
  while (k < old.length) out.push(old[k++]!);
  // an absorbed span can reach over a kept one: the one overlap rule keeps the list disjoint
  w.spans = resolveSpans(w.text, out);
}

/** Grows a token range [i, j] of a name over neighbours; returns the new [i, j]. */
function grow(w: Work, i: number, j: number): [number, number] {
  const { toks, text } = w;
  const upper = toks.slice(i, j + 1).every((t) => t.upper);
  const fits = (t: Tok) => nameLike(t) && (!upper || t.upper) && (upper || !t.upper || isNameWord(t.l)) && !ambiguousName(t.l);
  for (let n = 0; n < 4; n++) {
    const r = toks[j + 1];
    if (!r || !tight(text, toks[j]!.e + (toks[j]!.poss ? 2 : 0), r.s) || toks[j]!.poss) break;
    if (fits(r) || (isInitial(text, r) && (upper || text[r.e] === '.'))) {
      j++;
      continue;
    }
    const r2 = toks[j + 2];
    if (PARTICLES.has(r.l) && r2 && tight(text, r.e, r2.s) && (fits(r2) || (r2.cap && !labelWord(r2.l) && !r2.upper))) {
      j += 2;
      continue;
    }
    const r3 = toks[j + 3];
    const afterParticle = (x: Tok) => (x.cap || x.upper) && !labelWord(x.l) && (!upper || x.upper);
    if (PARTICLES.has(r.l) && r2 && PARTICLES.has(r2.l) && r3 && tight(text, r.e, r2.s) && tight(text, r2.e, r3.s) && afterParticle(r3)) {
      j += 3;
      continue;
    }
    break;
  }
  for (let n = 0; n < 3; n++) {
    const l = toks[i - 1];
    if (!l || !tight(text, l.e, toks[i]!.s) || l.poss) break;
    const ambiguousFirst = (l.cap || l.upper) && (!upper || l.upper) && isFirstName(l.l) && !l.sentStart && !labelWord(l.l);
    if ((fits(l) && !(l.sentStart && isCommonWord(l.l))) || ambiguousFirst) {
      i--;
      continue;
    }
    // a particle joins with the given name before it: "Noor van Dijk"
    const l2 = toks[i - 2];
    if (PARTICLES.has(l.l) && toks[i]!.cap && l2 && tight(text, l2.e, l.s) && (l2.cap || l2.upper) && !plainWord(l2.l) && !l2.poss) {
      i -= 2;
      continue;
    }
    break;
  }
  // SURNAME, GIVEN in capitals: "OKONKWO, CHIDINMA A."
  if (upper) {
    const l = toks[i - 1];
    if (l && l.upper && nameLike(l) && text.slice(l.e, toks[i]!.s) === ', ' && !(toks[i - 2] && text.slice(toks[i - 2]!.e, l.s) === ', ')) i--;
    const r = toks[j + 1];
    if (i === j && r && r.upper && nameLike(r) && text.slice(toks[j]!.e, r.s) === ', ') {
      j++;
      while (toks[j + 1] && tight(text, toks[j]!.e, toks[j + 1]!.s) && (fits(toks[j + 1]!) || isInitial(text, toks[j + 1]!))) j++;
    }
  }
  return [i, j];
}

/** End offset of a token range, with a trailing initial's period. */
function rangeEnd(w: Work, j: number): number {
  const t = w.toks[j]!;
  return /^\p{Lu}$/u.test(t.w) && w.text[t.e] === '.' ? t.e + 1 : t.e;
}

/** 2. Complete every PERSON span over its neighbours. */
function complete(w: Work): void {
  for (const sp of [...w.spans]) {
    if (sp.type !== 'PERSON') continue;
    const idx = spanTokens(w, sp);
    if (idx.length === 0) continue;
    const [i, j] = grow(w, idx[0]!, idx.at(-1)!);
    if (i !== idx[0] || j !== idx.at(-1)) addPerson(w, Math.min(sp.start, w.toks[i]!.s), Math.max(sp.end, rangeEnd(w, j)), sp.score);
  }
}

const CUE_BEFORE = new Set(
  "hi hey hello dear thanks thank thx ty cheers cc attn attention ping tell ask asked told call called text texted message meet met remind with and from by regards best love sincerely yours its im i'm it's sorry".split(' '),
);
const CUE_AFTER = new Set(
  "said says asked wants wanted will would can could is was has had here called emailed wrote replied and doesn't isn't wasn't can't won't didn't hasn't hadn't couldn't wouldn't".split(' '),
);
/** People named by their relation or role: "my son Mark", "neighbour Dawn", "patient Rose". */
const RELATION = new Set(
  'son daughter wife husband mother father mum mom dad brother sister sibling friend colleague coworker co-worker partner boss manager neighbour neighbor uncle aunt auntie cousin grandson granddaughter grandma grandpa grandmother grandfather nephew niece fiancé fiancée fiance fiancee girlfriend boyfriend roommate flatmate housemate carer caregiver caretaker teacher tutor coach nurse landlord landlady tenant client customer patient pt assistant intern stepson stepdaughter stepmother stepfather child kid baby toddler spouse widow widower'.split(' '),
);
const SIGN_OFF = /(?:^|\n)[ \t]*(?:best|regards|kind regards|best regards|warm regards|cheers|thanks|thank you|many thanks|sincerely|yours|yours sincerely|yours truly|love|br|mfg|viele grüße|liebe grüße|beste grüße|freundliche grüße|mit freundlichen grüßen|cordialement|bien cordialement|salutations|bien à vous|saludos|un saludo|saludos cordiales|atentamente|groeten|groetjes|met vriendelijke groet|hartelijke groet|üdvözlettel|tisztelettel|distinti saluti|cordiali saluti|cumprimentos|atenciosamente)[ \t]*[,.!]?[ \t]*\r?\n[ \t]*$/i;

/** Romanized Chinese, Korean, Vietnamese and Japanese family names (the most common). */
const EAST_ASIAN_SURNAMES = new Set(
  ('wang li zhang liu chen yang huang zhao wu zhou xu sun zhu hu guo lin luo gao zheng liang xie song tang han feng deng cao peng zeng xiao tian dong pan yuan cai jiang yu du ye cheng wei su lu ding ren shen yao jin cui zhong tan lim lee ng ong goh teo tay koh chua wong cheung chan leung lau lam tsang yeung chow kwok fung yip tse ' +
    'kim park choi jung jeong kang cho yoon jang oh seo shin kwon hwang ahn yoo hong jeon ko moon baek nam ' +
    'nguyen tran le pham hoang huynh phan vu vo dang bui ngo duong ly truong dinh ' +
    'sato suzuki takahashi tanaka watanabe ito yamamoto nakamura kobayashi kato yoshida yamada sasaki yamaguchi matsumoto inoue kimura hayashi shimizu yamazaki mori abe ikeda hashimoto yamashita ishikawa nakajima maeda fujita ogawa goto okada hasegawa murakami kondo ishii saito sakamoto endo aoki fujii nishimura fukuda ota miura fujiwara okamoto matsuda nakagawa'
  ).split(' '),
);
/** One to three Mandarin syllables in pinyin without tones: "haoran", "xiuying", "jiahao". */
const PINYIN = /^(?:(?:[bpmfdtnlgkhjqxrzcsyw]|zh|ch|sh)?(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|ai|ei|ao|ou|an|en|in|un|ia|ie|iu|ua|uo|ui|ue|er|a|o|e|i|u|v)){1,3}$/;
function givenSyllables(t: Tok): boolean {
  if (!(t.cap || t.upper) || t.l.length > 12 || plainWord(t.l)) return false;
  return PINYIN.test(t.l) || (t.l.length <= 7 && !isCommonWord(t.l)) || /^[a-z]{2,6}-[a-z]{2,6}$/.test(t.l);
}

/** Self-introductions: "i'm rose", "my name is Will", "this is Grace", "call me Hope". */
function introCue(prev: Tok | undefined, prev2: Tok | undefined): boolean {
  if (!prev) return false;
  if (prev.l === "i'm" || prev.l === 'im' || prev.l === "name's") return true;
  if (prev.l === 'am' && prev2?.l === 'i') return true;
  if (prev.l === 'is' && (prev2?.l === 'name' || prev2?.l === 'this')) return true;
  return prev.l === 'me' && prev2?.l === 'call';
}

/** 3a. First name + family name, lone names with a cue, lowercase chat names. */
/** Particles at `k` ("van der …") followed by a capitalised word that is not an ordinary one. */
function afterParticles(toks: readonly Tok[], text: string, k: number): boolean {
  let m = k;
  while (m - k < 2 && PARTICLES.has(toks[m]!.l) && toks[m + 1] && tight(text, toks[m]!.e, toks[m + 1]!.s)) m++;
  return m > k && toks[m]!.cap === true && !plainWord(toks[m]!.l);
}

function lexiconNames(w: Work): void {
  const { toks, text } = w;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (spanAt(w.spans, t.s) >= 0) continue;
    if (labelWord(t.l)) continue;
    const next = toks[i + 1];
    const prev = toks[i - 1] && tight(text, toks[i - 1]!.e + (text[toks[i - 1]!.e] === '.' ? 1 : 0), t.s) ? toks[i - 1] : undefined;
    const prev2 = prev ? toks[i - 2] : undefined;
    const capital = t.cap || t.upper;
    // East Asian names: "Zhou Haoran", "Nguyen Thi Lan", "Haoran Zhou"
    if (capital && next && tight(text, t.e, next.s) && !t.poss && spanAt(w.spans, next.s) < 0) {
      if (EAST_ASIAN_SURNAMES.has(t.l) && givenSyllables(next) && !(t.sentStart && isCommonWord(t.l))) {
        let j = i + 1;
        if (toks[j + 1] && tight(text, toks[j]!.e, toks[j + 1]!.s) && givenSyllables(toks[j + 1]!) && !toks[j]!.poss) j++;
        addPerson(w, t.s, toks[j]!.e, 0.75);
        i = j;
        continue;
      }
      if (EAST_ASIAN_SURNAMES.has(next.l) && (next.cap || next.upper) && PINYIN.test(t.l) && t.l.length >= 4 && !plainWord(t.l) && !isCommonWord(next.l)) {
        addPerson(w, t.s, next.e, 0.75);
        i++;
        continue;
      }
    }
    // Family Given (Hungarian and East Asian order, lists and forms): "Kovács Ágnes"
    if (capital && next && tight(text, t.e, next.s) && !t.poss && isSurname(t.l) && !isFirstName(t.l) && !isCommonWord(t.l) && (next.cap || next.upper) && next.upper === t.upper && isFirstName(next.l) && !isCommonWord(next.l) && spanAt(w.spans, next.s) < 0) {
      const [a, b] = grow(w, i, i + 1);
      addPerson(w, toks[a]!.s, rangeEnd(w, b), 0.75);
      i = b;
      continue;
    }
    // a word confirmed by spelling it out: "It's Adaeze, A-D-A-E-Z-E"
    if (capital && t.l.length >= 3 && !plainWord(t.l)) {
      for (let k = i + 1; k <= i + 3 && k < toks.length; k++) {
        const sp = toks[k]!;
        if (sp.l.length >= 5 && SPELLED.test(sp.l) && sp.l.replace(/-/g, '') === t.l.replace(/['-]/g, '')) {
          addPerson(w, t.s, t.e, 0.8);
          addPerson(w, sp.s, sp.e, 0.8);
          break;
        }
      }
    }
    // "Given Family <given@example.com>": the display name of an address
    if (capital && !plainWord(t.l) && (!prev || !(prev.cap || prev.upper) || !tight(text, prev.e, t.s))) {
      let j = i;
      while (j - i < 3 && toks[j + 1] && tight(text, toks[j]!.e, toks[j + 1]!.s) && (toks[j + 1]!.cap || toks[j + 1]!.upper || PARTICLES.has(toks[j + 1]!.l))) j++;
      const m = /^"?\s?<?/.exec(text.slice(toks[j]!.e, toks[j]!.e + 3))!;
      const at = firstSpanFrom(w.spans, toks[j]!.e);
      const email = w.spans[at];
      if (m[0].includes('<') && email && email.type === 'EMAIL' && email.start === toks[j]!.e + m[0].length && toks.slice(i, j + 1).some((x) => !plainWord(x.l))) {
        addPerson(w, t.s, toks[j]!.e, 0.8);
        i = j;
        continue;
      }
    }
    // a title, a relation or a self-introduction names whoever follows
    const title = prev && TITLES.has(prev.l);
    const relation = prev && RELATION.has(prev.l);
    const intro = introCue(prev, prev2);
    if (capital && title && (!plainWord(t.l) || afterParticles(toks, text, i))) {
      const [a, b] = grow(w, i, i);
      addPerson(w, toks[a]!.s, rangeEnd(w, b), 0.75);
      i = b;
      continue;
    }
    if ((relation || intro) && isFirstName(t.l) && (capital || intro || !isCommonWord(t.l)) && !(t.lower && relation && isCommonWord(t.l))) {
      const [a, b] = capital ? grow(w, i, i) : [i, i];
      addPerson(w, toks[a]!.s, rangeEnd(w, b), 0.7);
      i = b;
      continue;
    }
    if (capital && isFirstName(t.l)) {
      // Given Family (title case or capitals)
      if (next && tight(text, t.e, next.s) && !t.poss && (next.upper === t.upper || (!t.upper && next.cap)) && nameLike(next) && (isSurname(next.l) || !isCommonWord(next.l)) && spanAt(w.spans, next.s) < 0) {
        if (!(t.sentStart && isCommonWord(t.l) && isCommonWord(next.l))) {
          const [a, b] = grow(w, i, i + 1);
          addPerson(w, toks[a]!.s, rangeEnd(w, b), 0.8);
          i = b;
          continue;
        }
      }
      if (isCommonWord(t.l) && !t.upper) continue;
      // a lone given name with a cue
      const cueBefore = prev && CUE_BEFORE.has(prev.l) && text.slice(prev.e, t.s).length <= 3 && !/\n/.test(text.slice(prev.e, t.s));
      const cueAfter = (t.poss && !eponym(next)) || (next && CUE_AFTER.has(next.l) && tight(text, t.e, next.s)) || /^\s*[,:]\s*(?:can|could|please|pls|thanks|i|we)\b/i.test(text.slice(t.e, t.e + 12));
      const signOff = t.lineStart && /^[ \t]*(?:\r?\n|$)/.test(text.slice(t.e, t.e + 4)) && SIGN_OFF.test(text.slice(Math.max(0, t.s - 40), t.s));
      if (!t.upper && (cueBefore || cueAfter || signOff)) addPerson(w, t.s, t.e, 0.7);
      continue;
    }
    // lowercase chat names: "hey its marcus, tell aisha"
    if (t.lower && t.l.length >= 3 && isFirstName(t.l) && !isCommonWord(t.l) && !isCommonWord(t.l.replace(/s$/, ''))) {
      const cueBefore = prev && CUE_BEFORE.has(prev.l);
      const cueAfter = t.poss || (next && CUE_AFTER.has(next.l) && tight(text, t.e, next.s));
      if (cueBefore || cueAfter) addPerson(w, t.s, t.e, 0.6);
    }
  }
}

/**
 * 3e. Name lines: a line of two to four capitalised words that are not ordinary words, right
 * above contact details (a CV or signature heading), or right after a sign-off.
 */
function nameLines(w: Work): void {
  const { toks, text } = w;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (!t.lineStart || !(t.cap || t.upper)) continue;
    let j = i;
    while (toks[j + 1] && tight(text, toks[j]!.e, toks[j + 1]!.s) && j - i < 4) j++;
    const n = j - i + 1;
    const lineEnd = text.indexOf('\n', toks[j]!.e);
    const restOfLine = text.slice(toks[j]!.e, lineEnd < 0 ? text.length : lineEnd);
    if (!/^[ \t]*(?:\r?$|\|)/.test(restOfLine)) continue;
    const line = toks.slice(i, j + 1);
    if (n > 4 || line.some((x) => !(x.cap || x.upper) || plainWord(x.l) || x.poss) || spanAt(w.spans, t.s) >= 0) continue;
    // contact details (EMAIL or PHONE spans) on the next two lines
    let contactBelow = false;
    if (lineEnd >= 0) {
      const n1 = text.indexOf('\n', lineEnd + 1);
      const n2 = n1 < 0 ? -1 : text.indexOf('\n', n1 + 1);
      const limit = Math.min(n2 < 0 ? text.length : n2, lineEnd + 200);
      for (let k = firstSpanFrom(w.spans, lineEnd); k < w.spans.length && w.spans[k]!.start < limit; k++) {
        if (w.spans[k]!.type === 'EMAIL' || w.spans[k]!.type === 'PHONE') contactBelow = true;
      }
    }
    const signOff = SIGN_OFF.test(text.slice(Math.max(0, t.s - 40), t.s));
    if ((n >= 2 && contactBelow) || (signOff && (n >= 2 || isFirstName(t.l)))) addPerson(w, t.s, toks[j]!.e, 0.7);
    i = j;
  }
}

/**
 * 3f. Names in scripts without capitals, by the honorific that follows them: 田中さん, 王先生,
 * 김민준 씨 / 님. Two to four Han or Katakana characters, two to four Hangul syllables.
 */
const HONORIFIC_NAME =
  /(?<![\p{Script=Han}\p{Script=Katakana}])([\p{Script=Han}\p{Script=Katakana}ー]{2,4})(?=さん|様|さま|君|くん|ちゃん|先生|氏)|(?<![\p{Script=Han}])(\p{Script=Han}{1,3})(?=先生|女士|小姐|老师|老師)|(?<![\p{Script=Hangul}])([\p{Script=Hangul}]{2,4})(?=\s?(?:씨|님|선생님))/gu;
function honorificNames(w: Work): void {
  if (!/[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]/.test(w.text)) return;
  for (const m of w.text.matchAll(HONORIFIC_NAME)) {
    const v = m[1] ?? m[2] ?? m[3]!;
    addPerson(w, m.index!, m.index! + v.length, 0.7);
  }
}

/**
 * 3g. SQL: `INSERT INTO t (first_name, last_name, …) VALUES ('…', '…', …), (…)` — the values
 * of name-like columns. Column lists up to 2,000 characters; every row of the statement.
 */
function sqlNames(w: Work): void {
  const { text } = w;
  const re = /insert\s+into\s+[\w."`\[\]]{1,80}\s*\(([^()]{1,2000})\)\s*values\s*/giy;
  const find = /insert\s+into/gi;
  const nextAt = (from: number) => {
    find.lastIndex = from;
    const f = find.exec(text);
    return f ? f.index : -1;
  };
  for (let at = nextAt(0); at >= 0; ) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) {
      at = nextAt(at + 6);
      continue;
    }
    const cols = m[1]!.split(',').map((c) => c.trim().replace(/^["`[]|["`\]]$/g, ''));
    const nameCols = new Set(cols.map((c, i) => (isNameKey(c) ? i : -1)).filter((i) => i >= 0));
    let p = re.lastIndex;
    // rows: ( v, v, … ) separated by commas
    while (nameCols.size > 0 && text[p] === '(') {
      p++;
      let col = 0;
      while (p < text.length && text[p] !== ')') {
        while (text[p] === ' ' || text[p] === '\n' || text[p] === '\t') p++;
        let s0 = p;
        let e0 = p;
        if (text[p] === "'") {
          s0 = ++p;
          while (p < text.length && !(text[p] === "'" && text[p + 1] !== "'")) p += text[p] === "'" ? 2 : 1;
          e0 = p;
          p++;
        } else {
          while (p < text.length && text[p] !== ',' && text[p] !== ')') p++;
          e0 = p;
        }
        if (nameCols.has(col)) {
          const v = nameValue(w, s0, e0, true, EXPLICIT_NAME_KEY.test(cols[col]!));
          if (v) addPerson(w, v[0], v[1], 0.75);
        }
        while (p < text.length && text[p] !== ',' && text[p] !== ')') p++;
        if (text[p] === ',') p++;
        col++;
      }
      p++;
      while (text[p] === ' ' || text[p] === '\n' || text[p] === ',' || text[p] === '\t') p++;
    }
    at = nextAt(Math.max(p, at + 6));
  }
}

/** A nickname in quotes or brackets right after a name: `HARRINGTON, WILLIAM ("Will")`. */
function nicknames(w: Work): void {
  for (const sp of w.spans) {
    if (sp.type !== 'PERSON') continue;
    const m = /^[ \t]*\(?["“'‘]?([\p{Lu}][\p{L}'’-]{1,20})["”'’]?\)/u.exec(w.text.slice(sp.end, sp.end + 30));
    if (m && /["“'‘(]/.test(m[0].slice(0, m[0].indexOf(m[1]!)))) {
      const s = sp.end + m[0].indexOf(m[1]!);
      const l = m[1]!.toLowerCase();
      if (!labelWord(l) && (isFirstName(l) || !plainWord(l))) addPerson(w, s, s + m[1]!.length, 0.7);
    }
  }
}

/** Accepts a value as a name: 1–5 words, no digits; returns its trimmed offsets or null. */
function nameValue(w: Work, start: number, end: number, lowerOk: boolean, explicit = lowerOk): [number, number] | null {
  const v = w.text.slice(start, end);
  if (v.length === 0 || v.length > MAX_KV_VALUE || /[\d@/\\<>{}[\]=]/.test(v)) return null;
  let idx = spanTokens(w, { start, end, type: 'PERSON', score: 0, source: 'ner' });
  while (idx.length && (TITLES.has(w.toks[idx[0]!]!.l) || CONTEXT_WORDS.has(w.toks[idx[0]!]!.l))) idx = idx.slice(1);
  while (idx.length && (CREDENTIALS.has(w.toks[idx.at(-1)!]!.l) || TITLES.has(w.toks[idx.at(-1)!]!.l))) idx = idx.slice(0, -1);
  const toks = idx.map((i) => w.toks[i]!);
  if (toks.length === 0 || toks.length > 5) return null;
  if (!toks.every((t) => t.cap || t.upper || (lowerOk && t.lower) || PARTICLES.has(t.l))) return null;
  const words = toks.filter((t) => !PARTICLES.has(t.l) && !/^\p{Lu}$/u.test(t.w));
  if (words.length === 0) return null;
  if (words.some((t) => CONTEXT_WORDS.has(t.l) || ((looksMedical(t.l) || isMonthOrDay(t.l)) && !isNameWord(t.l)))) return null;
  // a column that can only hold a name (last_name, Nachname) takes "de Wit" and "Baker" too
  if (!explicit && words.every((t) => isCommonWord(t.l) && !isNameWord(t.l))) return null;
  // a generic key (`name:` also names jobs, plans, products): a known name, or proper words only
  if (!explicit && !words.some((t) => isNameWord(t.l)) && words.some((t) => isCommonWord(t.l) || (t.upper && t.w.length <= 3))) return null;
  // commas: only "SURNAME, GIVEN" (one word before the comma)
  const comma = w.text.slice(toks[0]!.s, toks.at(-1)!.e).split(',').length - 1;
  if (comma > 1 || (comma === 1 && w.text.slice(toks[0]!.s, toks.at(-1)!.e).indexOf(',') !== toks[0]!.e - toks[0]!.s)) return null;
  return [toks[0]!.s, rangeEnd(w, idx.at(-1)!)];
}

/** Keys whose values are people (normalized: lowercase, `_`/`-`/`.` read as spaces). */
const NAME_KEY_WORDS =
  /(?:^|\s)(?:name|names|full name|fullname|first name|firstname|given name|given names|forename|forenames|last name|lastname|surname|family name|middle name|maiden name|display name|patient|patient name|customer|customer name|client|client name|employee|employee name|member|member name|insured|policyholder|policy holder|account holder|account name|cardholder|card holder|beneficiary|guarantor|emergency contact|next of kin|nok|contact|contact name|contact person|spouse|partner|parent|guardian|mother|father|child|attn|attention|recipient|sender|applicant|candidate|tenant|landlord|student|pupil|driver|passenger|traveller|traveler|guest|owner|author|reviewer|assignee|reporter|requester|requestor|approver|signed by|signature|witness|physician|doctor|provider|ordering provider|referring physician|attending|nurse|caller|agent|user name|holder|from|to|cc|bcc|reply to|authored by|co authored by|signed off by|reviewed by|reported by|tested by|acked by|suggested by|committer|maintainer|volunteer|volunteers|staff|host|speaker|presenter|coach|teacher|tutor|on call|lead|organiser|organizer|chair|helper|interviewer|interviewee|borrower|co borrower|applicant|claimant|insured name|resident|occupant|victim|suspect|officer|pharmacist|therapist|dentist|surgeon|consultant|clinician|gp|vorname|nachname|familienname|patientin|nom|prénom|prenom|nom de famille|nombre|apellido|apellidos|paciente|naam|voornaam|achternaam|patiënt|név|vezetéknév|keresztnév|beteg)$/;

/** Keys that can only hold a person's name (not `name` alone, which also names products and plans). */
const EXPLICIT_NAME_KEY = /first|last|given|family|surname|forename|middle|maiden|full ?name|patient|customer|employee|client ?name|member ?name|vorname|nachname|familienname|prénom|prenom|nom de famille|apellido|nombre|voornaam|achternaam|vezetéknév|keresztnév/i;

function isNameKey(raw: string): boolean {
  const k = raw
    .replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2')
    .toLowerCase()
    .replace(/[_.\-]+/g, ' ')
    .replace(/["'`*#\s]+/g, ' ')
    .trim();
  if (k.length === 0 || k.length > MAX_KEY) return false;
  const lastWord = k.slice(k.lastIndexOf(' ') + 1);
  return (NAME_KEY_WORDS.test(k) || RELATION.has(lastWord) || ROLE_WORDS.has(lastWord)) && !/\b(?:id|number|no|nr|code|type|date|email|phone|url|file|host|server|model|app|product|company|org|organization|organisation|street|city|town|country|place|event|field|column|table|tool|function|role|plan)\b/.test(k);
}

/** 3b. Values of name-like keys: `Name: …`, `"patient": "…"`, `first_name=…`. */
function keyValueNames(w: Work): void {
  const { text } = w;
  for (let p = text.indexOf(':'), q = text.indexOf('='); p >= 0 || q >= 0; ) {
    const sep = p >= 0 && (q < 0 || p < q) ? p : q;
    if (sep === p) p = text.indexOf(':', p + 1);
    else q = text.indexOf('=', q + 1);
    // the key: back to a delimiter
    const eq = text[sep] === '=';
    let k = sep - 1;
    while (k >= 0 && sep - k <= MAX_KEY && !'\n\r,;{|\t(&?=:'.includes(text[k]!) && !(eq && text[k] === ' ') && !(text[k] === '"' && k < sep - 1 && text[sep - 1] !== '"' && text[sep - 2] !== '"')) k--;
    let key = text.slice(k + 1, sep);
    if (sep - k > MAX_KEY) continue;
    // "…": key in quotes
    key = key.replace(/^\s*"|"\s*$/g, '');
    // prose "… with the patient: …" is not a form field: a key starts its line or follows a delimiter, and is short
    if (key.split(/\s+/).filter(Boolean).length > 4) continue;
    if (!isNameKey(key)) continue;
    // the value
    let s = sep + 1;
    while (s < text.length && (text[s] === ' ' || text[s] === '\t')) s++;
    let quote = '';
    if (text[s] === '"' || text[s] === "'") quote = text[s++]!;
    let e = s;
    while (e < text.length && e - s <= MAX_KV_VALUE) {
      const c = text[e]!;
      if (quote ? c === quote : c === '\n' || c === '\r' || c === ';' || c === '|' || c === '\t' || c === '(' || c === '&' || c === '"' || (c === ' ' && (eq || text[e + 1] === ' '))) break;
      if (!quote && c === ',' && /^,\s*\p{L}+\s*(?:[:=]|\p{Lu}{1,4}\b\.?\s*(?:$|[\n,;|(]))/u.test(text.slice(e, e + 20))) break;
      e++;
    }
    if (e - s > MAX_KV_VALUE) continue;
    const lowerOk = /name|nom|naam|név/.test(key.toLowerCase());
    const explicit = EXPLICIT_NAME_KEY.test(key);
    let v = nameValue(w, s, e, lowerOk, explicit);
    if (!v) {
      // "Ruairi Breathnach, NP": stop at the credential
      const c = text.slice(s, e).indexOf(',');
      if (c > 0) v = nameValue(w, s, s + c, lowerOk, explicit);
    }
    if (v) addPerson(w, v[0], v[1], 0.75);
  }
}

function splitRow(line: string, d: string): { s: number; e: number }[] {
  const cells: { s: number; e: number }[] = [];
  let s = 0;
  let inQ = false;
  for (let i = 0; i <= line.length; i++) {
    const c = line[i];
    if (c === '"') inQ = !inQ;
    if (i === line.length || (c === d && !inQ)) {
      cells.push({ s, e: i });
      s = i + 1;
    }
  }
  return cells;
}

/** 3c. Tables: CSV / TSV / semicolon / markdown rows under a header with name-like columns. */
function tableNames(w: Work): void {
  const { text } = w;
  let pos = 0;
  let header: { d: string; cols: Set<number>; n: number; lowerOk: Set<number>; explicit: Set<number> } | null = null;
  while (pos <= text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl).replace(/\r$/, '');
    if (line.length <= MAX_ROW && line.trim() !== '') {
      let matched = false;
      if (header) {
        const cells = splitRow(line, header.d);
        if (cells.length === header.n) {
          matched = true;
          for (const c of header.cols) {
            const cell = cells[c]!;
            let s = pos + cell.s;
            let e = pos + cell.e;
            while (s < e && (text[s] === ' ' || text[s] === '"' || text[s] === "'")) s++;
            while (e > s && (text[e - 1] === ' ' || text[e - 1] === '"' || text[e - 1] === "'")) e--;
            const v = nameValue(w, s, e, header.lowerOk.has(c), header.explicit.has(c));
            if (v) addPerson(w, v[0], v[1], 0.75);
          }
        } else if (!/^\s*\|?\s*:?-{3,}/.test(line)) header = null;
      }
      if (!matched && !header) {
        for (const d of [',', '\t', '|', ';']) {
          if (!line.includes(d)) continue;
          const cells = splitRow(line, d);
          if (cells.length < 2) continue;
          const cols = new Set<number>();
          const lowerOk = new Set<number>();
          const explicit = new Set<number>();
          cells.forEach((c, i) => {
            const h = line.slice(c.s, c.e).trim().replace(/^["']|["']$/g, '');
            if (h.length > 0 && h.length <= MAX_KEY && isNameKey(h) && !/[:=]/.test(h)) {
              cols.add(i);
              if (/name|nom|naam|név/i.test(h)) lowerOk.add(i);
              if (EXPLICIT_NAME_KEY.test(h)) explicit.add(i);
            }
          });
          // a header names its columns: no digits, mostly short cells
          if (cols.size > 0 && !/\d{3}/.test(line) && cells.every((c) => c.e - c.s <= MAX_KEY)) {
            header = { d, cols, n: cells.length, lowerOk, explicit };
            break;
          }
        }
      }
    } else if (line.trim() === '') header = null;
    pos = nl + 1;
  }
}

/**
 * 3c'. Columns without a header: in a run of at least three rows split the same way, a column
 * where at least half of the cells (two or more) are already PERSON spans holds names, so its
 * other cells that look like names are names too ("row 38: \"Cathal\",…").
 */
function columnNames(w: Work): void {
  const { text } = w;
  let pos = 0;
  let run: { d: string; n: number; rows: { at: number; cells: { s: number; e: number }[] }[] } | null = null;
  const close = () => {
    if (!run || run.rows.length < 3) return;
    for (let c = 0; c < run.n; c++) {
      const cells = run.rows.map((r) => {
        let s = r.at + r.cells[c]!.s;
        let e = r.at + r.cells[c]!.e;
        while (s < e && (text[s] === ' ' || text[s] === '"' || text[s] === "'")) s++;
        while (e > s && (text[e - 1] === ' ' || text[e - 1] === '"' || text[e - 1] === "'")) e--;
        return { s, e };
      });
      const named = cells.filter(({ s, e }) => {
        const k = spanAt(w.spans, s);
        return e > s && k >= 0 && w.spans[k]!.type === 'PERSON' && w.spans[k]!.end >= e;
      }).length;
      if (named < 2 || named * 2 < cells.length) continue;
      for (const { s, e } of cells) {
        if (e <= s || spanAt(w.spans, s) >= 0) continue;
        const v = nameValue(w, s, e, false, true);
        if (v) addPerson(w, v[0], v[1], 0.7);
      }
    }
  };
  while (pos <= text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl);
    let matched = false;
    if (line.length <= MAX_ROW) {
      for (const d of [',', '\t', '|', ';']) {
        if (!line.includes(d)) continue;
        const cells = splitRow(line, d);
        if (cells.length < 2) continue;
        if (run && run.d === d && run.n === cells.length) run.rows.push({ at: pos, cells });
        else {
          close();
          run = { d, n: cells.length, rows: [{ at: pos, cells }] };
        }
        matched = true;
        break;
      }
    }
    if (!matched) {
      close();
      run = null;
    }
    pos = nl + 1;
  }
  close();
}

/** 3d. `SURNAME/GIVEN` (airline), HL7 `FAMILY^GIVEN^MIDDLE`. */
function structuredNames(w: Work): void {
  const { toks, text } = w;
  for (let i = 0; i + 1 < toks.length; i++) {
    const a = toks[i]!;
    const b = toks[i + 1]!;
    const sep = text.slice(a.e, b.s);
    if (sep === '/' && a.upper && b.upper && !CONTEXT_WORDS.has(a.l) && !CONTEXT_WORDS.has(b.l) && (isNameWord(a.l) || isNameWord(b.l)) && !(isCommonWord(a.l) && isCommonWord(b.l))) {
      let j = i + 1;
      while (toks[j + 1] && tight(text, toks[j]!.e, toks[j + 1]!.s) && toks[j + 1]!.upper && !TITLES.has(toks[j + 1]!.l) && !plainWord(toks[j + 1]!.l) && j - i < 3) j++;
      addPerson(w, a.s, toks[j]!.e, 0.8);
      i = j;
    } else if (sep === '^' || (sep === '^^' && b.cap)) {
      if (!(a.cap || a.upper) || !(b.cap || b.upper) || labelWord(a.l) || labelWord(b.l)) continue;
      if (isCommonWord(a.l) && isCommonWord(b.l) && !isNameWord(a.l) && !isNameWord(b.l)) continue;
      let j = i + 1;
      while (toks[j + 1] && /^\^{1,2}$/.test(text.slice(toks[j]!.e, toks[j + 1]!.s)) && (toks[j + 1]!.cap || toks[j + 1]!.upper) && j - i < 4) j++;
      addPerson(w, a.s, toks[j]!.e, 0.8);
      i = j;
    }
  }
}

const SPELLED = /^\p{L}(?:-\p{L})+$/u;
const AFTER_VERBISH = new Set('is was has had said says will would can could should did does and wants needs asked called told thinks agreed signed sent'.split(' '));

/** 4. One decision per person: every part of every PERSON span, everywhere in the request. */
/** Lowercase name parts of every PERSON span of the request → ambiguous (also an ordinary word). */
function nameParts(works: readonly Work[]): Map<string, boolean> {
  const parts = new Map<string, boolean>();
  for (const w of works) {
    for (const sp of w.spans) {
      if (sp.type !== 'PERSON') continue;
      for (const i of spanTokens(w, sp)) {
        const t = w.toks[i]!;
        if (t.l.length < 2 || /^\p{Lu}$/u.test(t.w) || PARTICLES.has(t.l) || CONTEXT_WORDS.has(t.l) || TITLES.has(t.l) || CREDENTIALS.has(t.l)) continue;
        if (t.lower && isCommonWord(t.l)) continue;
        parts.set(t.l, ambiguousName(t.l));
        // each part of a double-barrelled name: "Okafor-Banks" → okafor, banks
        if (t.l.includes('-')) for (const p of t.l.split('-')) if (p.length >= 3 && !PARTICLES.has(p) && !parts.has(p)) parts.set(p, ambiguousName(p));
      }
    }
  }
  return parts;
}

function consistency(w: Work, parts: ReadonlyMap<string, boolean>): void {
  if (parts.size === 0) return;
  {
    const { toks, text } = w;
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i]!;
      // a name spelled out letter by letter: "W-O-J-C-I-E-C-H"
      const key = t.l.length >= 5 && SPELLED.test(t.l) ? t.l.replace(/-/g, '') : t.l;
      const amb = parts.get(key);
      if (amb === undefined) continue;
      const at = spanAt(w.spans, t.s);
      if (at >= 0) {
        const o = w.spans[at]!;
        // a part the model called a place or an organization on its own is the person
        if (o.type !== 'PERSON' && o.source === 'ner' && o.start === t.s && o.end === t.e) w.spans[at] = { ...o, type: 'PERSON' };
        continue;
      }
      if (amb) {
        const prev = toks[i - 1];
        const next = toks[i + 1];
        const nextPart = next && tight(text, t.e, next.s) && parts.has(next.l) && (next.cap || next.upper);
        const prevPart = prev && tight(text, prev.e, t.s) && (parts.has(prev.l) || TITLES.has(prev.l)) && (prev.cap || prev.upper);
        const afterPerson = prev && spanAt(w.spans, prev.s) >= 0 && w.spans[spanAt(w.spans, prev.s)]!.type === 'PERSON' && tight(text, prev.e, t.s);
        let use = false;
        if (!t.cap && !t.upper) use = false;
        else if (isMonthOrDay(t.l) && (/\d/.test(text.slice(Math.max(0, t.s - 6), t.s)) || /^[\s,.]*\d/.test(text.slice(t.e, t.e + 6)) || (prev && /^(?:in|on|of|since|until|till|by|from|last|next|this|early|late|mid|end|during|before|after)$/.test(prev.l))))
          use = false;
        else if ((t.poss && !eponym(next)) || nextPart || prevPart || afterPerson) use = true;
        else if (t.upper) use = toks.slice(Math.max(0, i - 3), i + 4).some((x) => !x.upper && x.cap) || parts.has(next?.l ?? '') || false;
        else if (!t.sentStart) use = true;
        else use = !!next && (AFTER_VERBISH.has(next.l) || /ed$/.test(next.l) || /^[,:]/.test(text.slice(t.e, t.e + 1)));
        if (!use) continue;
      }
      addPerson(w, t.s, t.e, 0.7);
    }
  }
}

/** Most distinct values {@link sameValues} looks for (multi-word ones cost one scan each). */
const MAX_VALUES = 256;
const VALUE_TOKEN = /[\p{L}\p{N}][\p{L}\p{N}@._+\-/#]*[\p{L}\p{N}]/gu;

/**
 * 5. One decision per value: an identifier, address, place or organization masked in one
 * text is masked wherever the same value appears in the request (whole tokens, same case for
 * words, any case for identifiers). Values that are ordinary words, or shorter than 4
 * characters, are left alone.
 */
interface ValueIndex {
  readonly single: Map<string, EntityType>;
  readonly multi: Map<string, EntityType>;
}

function valueIndex(works: readonly Work[]): ValueIndex {
  const single = new Map<string, EntityType>();
  const multi = new Map<string, EntityType>();
  for (const w of works) {
    for (const sp of w.spans) {
      if (sp.type === 'PERSON') continue;
      const v = w.text.slice(sp.start, sp.end).trim();
      if (v.length < 4 || v.length > 200 || v.includes('\n')) continue;
      if (!/\d/.test(v) && (isCommonWord(v.toLowerCase()) || plainWord(v.toLowerCase()) || isCountryOrLanguage(v.toLowerCase()))) continue;
      VALUE_TOKEN.lastIndex = 0;
      const m = VALUE_TOKEN.exec(v);
      const key = /\d/.test(v) ? v.toLowerCase() : v;
      if (m && m[0] === v) {
        if (single.size < MAX_VALUES) single.set(key, sp.type);
      } else if (multi.size < MAX_VALUES / 8) multi.set(v, sp.type);
    }
  }
  return { single, multi };
}

function sameValues(w: Work, { single, multi }: ValueIndex): void {
  if (single.size === 0 && multi.size === 0) return;
  {
    const add: Span[] = [];
    if (single.size > 0) {
      for (const m of w.text.matchAll(VALUE_TOKEN)) {
        const tok = m[0];
        const type = single.get(tok) ?? (/\d/.test(tok) ? single.get(tok.toLowerCase()) : undefined);
        if (type === undefined) continue;
        add.push({ start: m.index!, end: m.index! + tok.length, type, score: 0.7, source: 'ner' });
      }
    }
    for (const [v, type] of multi) {
      for (let at = w.text.indexOf(v); at >= 0; at = w.text.indexOf(v, at + v.length)) {
        const before = w.text[at - 1] ?? ' ';
        const after = w.text[at + v.length] ?? ' ';
        if (/[\p{L}\p{N}]/u.test(before) || /[\p{L}\p{N}]/u.test(after)) continue;
        add.push({ start: at, end: at + v.length, type, score: 0.7, source: 'ner' });
      }
    }
    if (add.length === 0) return;
    add.sort((a, b) => a.start - b.start);
    // only where nothing is masked yet
    const out: Span[] = [];
    let k = 0;
    let lastEnd = -1;
    for (const a of add) {
      if (a.start < lastEnd) continue;
      const at = firstSpanFrom(w.spans, a.start);
      if (at < w.spans.length && w.spans[at]!.start < a.end) continue;
      while (k < w.spans.length && w.spans[k]!.end <= a.start) out.push(w.spans[k++]!);
      out.push(a);
      lastEnd = a.end;
    }
    while (k < w.spans.length) out.push(w.spans[k++]!);
    w.spans = out;
  }
}

/** Joins PERSON spans separated only by spaces (or a hyphen) into one. */
function joinAdjacent(w: Work): void {
  w.spans = joinRuns(
    w.spans,
    (prev, sp) => sp.type === 'PERSON' && tight(w.text, prev.end, sp.start) && !/\n/.test(w.text.slice(prev.end, sp.start)),
    (prev, sp) => Math.max(prev.score, sp.score),
  );
}

/** Longest piece of text the passes handle in one go; larger texts are cut at line breaks. */
export const SEGMENT_CHARS = 32_768;

interface Segment {
  readonly text: number;
  readonly offset: number;
}

/**
 * Cuts texts into segments of at most {@link SEGMENT_CHARS} (at a line break, else a space,
 * never inside a span) so that each step of the passes is bounded: the async version yields to
 * the event loop between segments.
 */
function segmentWorks(texts: readonly string[], spans: readonly (readonly Span[])[], max: number): { works: Work[]; segs: Segment[] } {
  const works: Work[] = [];
  const segs: Segment[] = [];
  texts.forEach((text, ti) => {
    const list = [...(spans[ti] ?? [])].sort((a, b) => a.start - b.start);
    let from = 0;
    let k = 0;
    while (from < text.length || (from === 0 && text.length === 0)) {
      let to = text.length;
      if (to - from > max) {
        const lo = from + (max >> 1);
        to = text.lastIndexOf('\n', from + max);
        if (to <= lo) to = text.lastIndexOf(' ', from + max);
        if (to <= lo) to = from + max;
        // never inside a span
        for (let j = k; j < list.length && list[j]!.start < to; j++) if (list[j]!.end > to) to = list[j]!.end;
      }
      const own: Span[] = [];
      while (k < list.length && list[k]!.start < to) {
        const sp = list[k++]!;
        own.push({ ...sp, start: sp.start - from, end: Math.min(sp.end, to) - from });
      }
      const seg = text.slice(from, to);
      works.push({ text: seg, toks: [], pending: [], spans: own });
      segs.push({ text: ti, offset: from });
      if (to === from) break;
      from = to;
    }
  });
  return { works, segs };
}

/**
 * The per-segment passes, in groups: the PERSON spans a group queues are merged ({@link flush})
 * before the next group runs.
 */
const SEGMENT_PASSES: ReadonlyArray<ReadonlyArray<(w: Work) => void>> = [
  [precision, complete],
  [structuredNames, keyValueNames, tableNames],
  [columnNames],
  [sqlNames, honorificNames, lexiconNames, nameLines, nicknames],
];

/** Runs `step` on each segment, with a point for the async runner to yield after each. */
function* eachWork(works: readonly Work[], step: (w: Work) => void): Generator<void, void, void> {
  for (const w of works) {
    step(w);
    yield;
  }
}

/** A request-wide index over every segment, then `step` on each segment with it. */
function* withIndex<I>(works: readonly Work[], index: (works: readonly Work[]) => I, step: (w: Work, index: I) => void): Generator<void, void, void> {
  const i = index(works);
  yield;
  yield* eachWork(works, (w) => step(w, i));
}

/** The passes as steps; each `yield` is a point where the async runner gives the event loop a turn. */
function* pipeline(works: Work[]): Generator<void, void, void> {
  yield* eachWork(works, (w) => {
    w.toks = tokenize(w.text);
    for (const group of SEGMENT_PASSES) {
      for (const pass of group) pass(w);
      flush(w);
    }
  });
  yield* withIndex(works, nameParts, (w, parts) => {
    consistency(w, parts);
    flush(w);
  });
  yield* withIndex(works, valueIndex, (w, values) => {
    sameValues(w, values);
    flush(w);
    complete(w);
    flush(w);
    joinAdjacent(w);
  });
}

function join(texts: readonly string[], works: readonly Work[], segs: readonly Segment[]): Span[][] {
  const out: Span[][] = texts.map(() => []);
  works.forEach((w, i) => {
    const { text, offset } = segs[i]!;
    for (const sp of w.spans) out[text]!.push(offset === 0 ? sp : { ...sp, start: sp.start + offset, end: sp.end + offset });
  });
  return out;
}

/**
 * Runs the passes over one request's texts and their merged spans (sorted, disjoint) and
 * returns new span lists with the same guarantees. Synchronous: for tests and small inputs.
 */
export function refineNames(texts: readonly string[], spans: readonly (readonly Span[])[], segmentChars = SEGMENT_CHARS): Span[][] {
  const { works, segs } = segmentWorks(texts, spans, segmentChars);
  for (const _ of pipeline(works)) {
    /* run to the end */
  }
  return join(texts, works, segs);
}

const macrotask: () => Promise<void> = () =>
  new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/**
 * {@link refineNames} that gives the event loop a turn after every segment (at most
 * {@link SEGMENT_CHARS} characters of work at a time), and stops when `signal` aborts.
 */
export async function refineNamesAsync(
  texts: readonly string[],
  spans: readonly (readonly Span[])[],
  signal?: AbortSignal,
  segmentChars = SEGMENT_CHARS,
): Promise<Span[][]> {
  const { works, segs } = segmentWorks(texts, spans, segmentChars);
  // small requests run straight through; large ones yield after every step (≤ one segment of work)
  const large = texts.reduce((n, t) => n + t.length, 0) > segmentChars;
  for (const _ of pipeline(works)) {
    if (!large) continue;
    await macrotask();
    if (signal?.aborted) throw abortError(signal);
  }
  return join(texts, works, segs);
}
