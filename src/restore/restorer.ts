/**
 * Re-injection: placeholders in LLM output → the values this request may see.
 *
 * Only tokens in the request's own restoration map are touched; everything else (including
 * placeholder-looking text for tokens this request never sent) is left exactly as written.
 *
 * Mangled forms that still restore (case-insensitive throughout):
 *   [PERSON_7QX2M4AB]      strict
 *   [person_7qx2m4ab]      any case
 *   PERSON_7QX2M4AB        brackets dropped (also inside {…}, <…>, (…), quotes, which stay)
 *   PERSON_7QX2M4AB's      possessive / any suffix that is not a letter or digit
 *   [ PERSON_7QX2M4AB ]    up to two spaces inside the brackets
 *   [[PERSON_7QX2M4AB]]    doubled brackets
 *   [PERSON 7QX2M4AB], [PERSON-7QX2M4AB], PERSON\_7QX2M4AB   space, hyphen or markdown-escaped
 *                          underscore between the words of the type and before the id
 *   [PERSON_7QX2M4A8] vs I/L/O  Crockford aliases: I and L read as 1, O as 0
 * A lone bracket (`[PERSON_7QX2M4AB` without `]`) restores the token and keeps the bracket.
 */
import type { Token } from '../vault/types.js';
import { CROCKFORD } from '../core/ids.js';
import { TOKEN_ID_LENGTH } from '../core/token.js';

const SEPARATORS = ['\\_', '_', '-', ' '] as const;
const MAX_BRACKETS = 2;
const MAX_INNER_SPACES = 2;

export type Escape = (value: string) => string;
/** For values inserted into JSON text (tool-call arguments): escaped as inside a JSON string. */
export const jsonStringEscape: Escape = (v) => JSON.stringify(v).slice(1, -1);
const identity: Escape = (v) => v;

function isAlnum(ch: string | undefined): boolean {
  if (ch === undefined) return false;
  const c = ch.charCodeAt(0);
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function canonicalId(raw: string): string | null {
  let out = '';
  for (const ch of raw.toUpperCase()) {
    const c = ch === 'I' || ch === 'L' ? '1' : ch === 'O' ? '0' : ch;
    if (!CROCKFORD.includes(c)) return null;
    out += c;
  }
  return out;
}

/**
 * A compiled restorer for one request: the tokens it may restore and what each becomes.
 * Pure and reusable across choices; streaming state lives in {@link StreamRestorer}.
 */
export class Restorer {
  readonly size: number;
  private readonly values: Map<string, string>;
  /** Type names (upper case, words split on `_`) of the tokens in the map. */
  private readonly typeWords: string[][];
  private readonly re: RegExp | null;

  constructor(map: ReadonlyMap<Token, string>) {
    this.values = new Map();
    const types = new Set<string>();
    for (const [token, value] of map) {
      const type = token.slice(0, token.length - TOKEN_ID_LENGTH - 1);
      const id = token.slice(token.length - TOKEN_ID_LENGTH);
      this.values.set(`${type}_${id}`, value);
      types.add(type);
    }
    this.size = this.values.size;
    this.typeWords = [...types].sort((a, b) => b.length - a.length).map((t) => t.split('_'));
    if (this.size === 0) {
      this.re = null;
      return;
    }
    const sep = `(?:${SEPARATORS.map((s) => s.replace(/[\\\-]/g, '\\$&')).join('|')})`;
    const typeAlt = this.typeWords.map((words) => words.join(sep)).join('|');
    // group 1: opening brackets+spaces, 2: type, 3: id, 4: closing spaces+brackets
    this.re = new RegExp(
      `(\\[{1,${MAX_BRACKETS}} {0,${MAX_INNER_SPACES}})?(?<![A-Za-z0-9])(${typeAlt})${sep}([0-9A-Za-z]{${TOKEN_ID_LENGTH}})(?![A-Za-z0-9])( {0,${MAX_INNER_SPACES}}\\]{1,${MAX_BRACKETS}})?`,
      'gi',
    );
  }

  private lookup(type: string, id: string): string | undefined {
    const canon = canonicalId(id);
    if (canon === null) return undefined;
    const t = type.toUpperCase().replace(/\\_|[_\- ]/g, '_');
    return this.values.get(`${t}_${canon}`);
  }

  /** Restores every known token in `text` (a complete text). */
  restore(text: string, escape: Escape = identity): string {
    return this.restoreFrom(text, 0, escape);
  }

  /**
   * Restores `text.slice(from)`, with `text.slice(0, from)` as left context only (so the
   * word-boundary rule sees the character before `from`).
   */
  restoreFrom(text: string, from: number, escape: Escape = identity): string {
    const re = this.re;
    if (re === null) return from === 0 ? text : text.slice(from);
    let out = '';
    let last = from;
    re.lastIndex = from;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const [whole, open, type, id, close] = m as unknown as [string, string | undefined, string, string, string | undefined];
      const value = this.lookup(type, id);
      if (value === undefined) {
        // not ours: continue scanning right after the match start so inner tokens still count
        re.lastIndex = m.index + 1;
        continue;
      }
      const v = escape(value);
      out += text.slice(last, m.index);
      out += open !== undefined && close !== undefined ? v : (open ?? '') + v + (close ?? '');
      last = m.index + whole.length;
    }
    return out + text.slice(last);
  }

  /**
   * Whether the regex's verdict on a match starting at `i` could still change when more text
   * is appended to `s` — i.e. `s.slice(i)` could be the beginning of (or an extendable) match.
   * An over-approximation is safe (it only holds back more); an under-approximation breaks
   * the streaming invariant, which the StreamRestorer property tests (src/restore/restorer.test.ts) check.
   */
  couldMatchAt(s: string, i: number): boolean {
    const n = s.length;
    let j = i;
    // optional opening brackets and spaces
    let brackets = 0;
    while (j < n && s[j] === '[' && brackets < MAX_BRACKETS) {
      j++;
      brackets++;
    }
    if (brackets > 0) {
      let spaces = 0;
      while (j < n && s[j] === ' ' && spaces < MAX_INNER_SPACES) {
        j++;
        spaces++;
      }
    }
    if (j >= n) return true;
    if (brackets === 0 && i > 0 && isAlnum(s[i - 1])) return false;
    // the type, word by word, with any separator between words and before the id
    for (const words of this.typeWords) {
      const r = this.matchTypeFrom(s, j, words);
      if (r === 'prefix') return true;
      if (r !== -1 && this.afterType(s, r)) return true;
    }
    return false;
  }

  /** Matches a type (words + separators) at j: returns end index, 'prefix' if text ends inside, or -1. */
  private matchTypeFrom(s: string, j: number, words: string[]): number | 'prefix' | -1 {
    const n = s.length;
    let k = j;
    for (let w = 0; w < words.length; w++) {
      if (w > 0) {
        const r = this.matchSep(s, k);
        if (r === 'prefix') return 'prefix';
        if (r === -1) return -1;
        k = r;
      }
      const word = words[w]!;
      for (let c = 0; c < word.length; c++) {
        if (k >= n) return 'prefix';
        if (s[k]!.toUpperCase() !== word[c]) return -1;
        k++;
      }
    }
    return k;
  }

  private matchSep(s: string, k: number): number | 'prefix' | -1 {
    if (k >= s.length) return 'prefix';
    const ch = s[k];
    if (ch === '_' || ch === '-' || ch === ' ') return k + 1;
    if (ch === '\\') {
      if (k + 1 >= s.length) return 'prefix';
      return s[k + 1] === '_' ? k + 2 : -1;
    }
    return -1;
  }

  /** After a complete type at k: separator, id, lookahead, optional closing. */
  private afterType(s: string, k: number): boolean {
    const n = s.length;
    const r = this.matchSep(s, k);
    if (r === 'prefix') return true;
    if (r === -1) return false;
    let j = r;
    for (let c = 0; c < TOKEN_ID_LENGTH; c++) {
      if (j >= n) return true;
      if (!isAlnum(s[j])) return false;
      j++;
    }
    if (j >= n) return true; // the lookahead is still unknown
    if (isAlnum(s[j])) return false;
    // optional closing: spaces then brackets; still open while the text ends inside it
    let spaces = 0;
    while (j < n && s[j] === ' ' && spaces < MAX_INNER_SPACES) {
      j++;
      spaces++;
    }
    if (j >= n) return true;
    let brackets = 0;
    while (j < n && s[j] === ']' && brackets < MAX_BRACKETS) {
      j++;
      brackets++;
    }
    if (brackets > 0 && brackets < MAX_BRACKETS && j >= n) return true;
    return false;
  }

  /** A fresh streaming state machine over this restorer. */
  stream(escape: Escape = identity): StreamRestorer {
    return new StreamRestorer(this, escape);
  }
}

/**
 * Streaming restoration of one text (one choice's content, or one tool call's arguments).
 * `push(delta)` returns what can be emitted now; it holds back only a suffix that could still
 * become a placeholder (bounded by the longest mangled token). `flush()` returns the rest.
 * Invariant: push(a)+push(b)+…+flush() === restorer.restore(a+b+…) for any split.
 */
export class StreamRestorer {
  private pending = '';
  /** The last character already emitted from the input side (for the word-boundary rule). */
  private prev = '';

  constructor(
    private readonly restorer: Restorer,
    private readonly escape: Escape,
  ) {}

  get held(): number {
    return this.pending.length;
  }

  push(delta: string): string {
    if (this.restorer.size === 0) return delta;
    const s = this.prev + this.pending + delta;
    const offset = this.prev.length;
    let cut = s.length;
    for (let i = offset; i < s.length; i++) {
      if (this.restorer.couldMatchAt(s, i)) {
        cut = i;
        break;
      }
    }
    const ready = s.slice(offset, cut);
    this.pending = s.slice(cut);
    if (ready.length === 0) return '';
    this.prev = ready[ready.length - 1]!;
    // `ready` is restored with its left context so a match cannot start after an alnum.
    return this.restoreWithPrev(offset === 0 ? '' : s.slice(0, offset), ready);
  }

  flush(): string {
    const rest = this.pending;
    this.pending = '';
    if (rest.length === 0) return '';
    const out = this.restoreWithPrev(this.prev, rest);
    this.prev = rest[rest.length - 1]!;
    return out;
  }

  private restoreWithPrev(prev: string, text: string): string {
    if (prev === '') return this.restorer.restore(text, this.escape);
    // The previous character is context for the word-boundary rule, not output.
    return this.restorer.restoreFrom(prev + text, prev.length, this.escape);
  }
}
