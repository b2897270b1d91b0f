/**
 * Token → character alignment. Tokenizers in transformers.js return token strings but no
 * offsets, so we find each token in the original text by scanning forward. Both sides are
 * compared after the same loose folding (NFD, combining marks removed, lower case), which
 * makes this work for cased WordPiece (every non-[UNK] token is an exact substring), uncased
 * / accent-stripping WordPiece and SentencePiece (`▁` word marker). Pure; Workers-safe.
 */

/** How word-continuation pieces are marked. */
export type SubwordScheme =
  /** WordPiece: continuation pieces start with `prefix` (default `##`). */
  | { readonly kind: 'wordpiece'; readonly prefix?: string }
  /** SentencePiece / Metaspace: word-initial pieces start with `marker` (default `▁`). */
  | { readonly kind: 'metaspace'; readonly marker?: string };

export interface AlignOptions {
  readonly scheme?: SubwordScheme;
  /** The unknown token string(s), e.g. `[UNK]` or `<unk>`. */
  readonly unkTokens?: readonly string[];
  /** BertNormalizer handle_chinese_chars: each CJK ideograph is its own word. */
  readonly cjkAsWords?: boolean;
}

export interface AlignedToken {
  /** UTF-16 offsets into the original text; `start === end` when the token could not be placed. */
  readonly start: number;
  readonly end: number;
  /** Index of the word this token belongs to (word pieces share it). */
  readonly word: number;
  /** False when the token could not be found in the text (it then carries no span). */
  readonly aligned: boolean;
}

const PUNCT_RE = /[\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]/u;
const SPACE_RE = /\s/u;
/** Characters BertNormalizer(clean_text) drops; also combining marks fold away. */
const DROPPED_RE = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\u0000\uFFFD]/u;
const MARK_RE = /\p{M}/gu;

export function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** The loose folding applied to text and tokens before comparison. */
export function fold(s: string): string {
  return s.normalize('NFD').replace(MARK_RE, '').toLowerCase();
}

function isSkippable(ch: string): boolean {
  return SPACE_RE.test(ch) || DROPPED_RE.test(ch);
}

interface Folded {
  /** folded text */
  readonly s: string;
  /** for each folded UTF-16 unit: original [start, end) of the code point that produced it */
  readonly from: Int32Array;
  readonly to: Int32Array;
  /** for each original offset 0..len: index of the first folded unit produced at or after it */
  readonly origToFolded: Int32Array;
}

function foldWithMap(text: string): Folded {
  const parts: string[] = [];
  const from: number[] = [];
  const to: number[] = [];
  const origToFolded = new Int32Array(text.length + 1);
  let flen = 0;
  let i = 0;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    const w = cp > 0xffff ? 2 : 1;
    const ch = text.slice(i, i + w);
    for (let k = 0; k < w; k++) origToFolded[i + k] = flen;
    const f = fold(ch);
    if (f.length > 0) {
      parts.push(f);
      for (let k = 0; k < f.length; k++) {
        from.push(i);
        to.push(i + w);
      }
      flen += f.length;
    }
    i += w;
  }
  origToFolded[text.length] = flen;
  return { s: parts.join(''), from: Int32Array.from(from), to: Int32Array.from(to), origToFolded };
}

/** Strips the subword marker and tells whether the piece continues the previous word. */
export function pieceText(raw: string, scheme: SubwordScheme): { text: string; continues: boolean } {
  if (scheme.kind === 'wordpiece') {
    const p = scheme.prefix ?? '##';
    if (p !== '' && raw.startsWith(p) && raw.length > p.length) return { text: raw.slice(p.length), continues: true };
    return { text: raw, continues: false };
  }
  const m = scheme.marker ?? '\u2581';
  if (raw.startsWith(m)) return { text: raw.slice(m.length), continues: false };
  return { text: raw, continues: true };
}

/**
 * Extent of an unknown token starting at or after `pos`: one pre-tokenizer word (a run of
 * non-space, non-punctuation characters, a single punctuation character, or one CJK ideograph).
 */
function unknownExtent(text: string, pos: number, cjkAsWords: boolean): [number, number] {
  let i = pos;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (!isSkippable(ch) && !/^\p{M}$/u.test(ch)) break;
    i += ch.length;
  }
  if (i >= text.length) return [text.length, text.length];
  const start = i;
  const first = text.codePointAt(i)!;
  const firstCh = String.fromCodePoint(first);
  if (PUNCT_RE.test(firstCh) || (cjkAsWords && isCjk(first))) return [start, start + firstCh.length];
  // a word; it must not end on dropped characters (e.g. a trailing zero-width joiner)
  let end = start;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (SPACE_RE.test(ch) || PUNCT_RE.test(ch) || (cjkAsWords && isCjk(cp))) break;
    i += ch.length;
    if (!DROPPED_RE.test(ch)) end = i;
  }
  return [start, end];
}

/**
 * Places every token of `tokens` (in order, as produced by the tokenizer for `text`, without
 * special tokens) on `text`. Never throws; tokens that cannot be found get `aligned: false`.
 */
export function alignTokens(text: string, tokens: readonly string[], opts: AlignOptions = {}): AlignedToken[] {
  const scheme = opts.scheme ?? { kind: 'wordpiece' };
  const unk = new Set(opts.unkTokens ?? ['[UNK]']);
  const cjk = opts.cjkAsWords ?? true;
  const f = foldWithMap(text);
  const out: AlignedToken[] = [];
  let fCursor = 0;
  let oCursor = 0;
  let word = -1;
  for (const raw of tokens) {
    const { text: piece, continues } = pieceText(raw, scheme);
    if (!continues || word < 0) word++;
    if (unk.has(raw)) {
      const [s, e] = unknownExtent(text, oCursor, cjk);
      if (e > s) {
        out.push({ start: s, end: e, word, aligned: true });
        oCursor = e;
        fCursor = f.origToFolded[e]!;
      } else out.push({ start: oCursor, end: oCursor, word, aligned: false });
      continue;
    }
    // pieces that are only spaces (a bare `▁`, a tab the vocabulary knows) carry no span
    const needle = fold(piece).trim();
    if (needle.length === 0) {
      out.push({ start: oCursor, end: oCursor, word, aligned: false });
      continue;
    }
    const p = f.s.indexOf(needle, fCursor);
    if (p < 0) {
      out.push({ start: oCursor, end: oCursor, word, aligned: false });
      continue;
    }
    const s = f.from[p]!;
    const e = f.to[p + needle.length - 1]!;
    out.push({ start: s, end: e, word, aligned: true });
    fCursor = p + needle.length;
    // a code point may fold to several units; never move the original cursor backwards
    oCursor = Math.max(oCursor, e);
    if (f.origToFolded[e]! > fCursor) fCursor = f.origToFolded[e]!;
  }
  return out;
}
