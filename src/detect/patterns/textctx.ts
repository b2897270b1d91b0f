/**
 * Where a value sits, for context-word decisions: `before(pos)` is the text shortly before a
 * position (its own line; plus the previous line when the value opens an answer such as
 * "A: …" or "Customer: …" under a question), `after(end)` the rest of its line, and
 * `header(pos)` the header cell of the table column holding the position (CSV, TSV,
 * `|`-separated markdown or psql output, `;`-separated exports), so a value in a column headed
 * `sort_code`, `DOB` or `username` gets that context. Everything is computed once per text in
 * linear time (lines, table blocks), then each lookup is O(log lines + cell width).
 * Pure; no Node APIs.
 */

const BEFORE = 48;
const AFTER = 40;
/** A short line prefix like "A: ", "Customer: ", "- " that opens an answer to the previous line. */
const ANSWER_PREFIX_MAX = 14;
const QUESTION_ANSWER_MAX = 40;
const DELIMS = ['|', ',', '\t', ';'] as const;
/** Lines longer than this are prose, not table rows (bounds the per-line work). */
const MAX_ROW = 2000;
const MAX_HEADER_CELLS = 64;

interface Block {
  readonly firstLine: number;
  readonly lastLine: number;
  readonly delim: string;
  readonly header: readonly string[];
}

/** Counts `delim` outside double quotes in text[from, to). */
function countDelims(text: string, from: number, to: number, delim: string): number {
  let n = 0;
  let quoted = false;
  for (let i = from; i < to; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (c === delim && !quoted) n++;
  }
  return n;
}

function splitCells(line: string, delim: string): string[] {
  const cells: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    if (c === delim && !quoted) {
      cells.push(cur);
      cur = '';
      if (cells.length >= MAX_HEADER_CELLS) return cells;
    } else cur += c;
  }
  cells.push(cur);
  return cells.map((c) => c.trim().replace(/^"|"$/g, ''));
}

const GLOBAL = new WeakMap<RegExp, RegExp>();
const SQL_INSERT = /\binsert\s+into\s+[\w."`\[\]]{1,128}\s*\(([^()]{1,2000})\)\s*values\s*/gi;
const SEPARATOR_LINE = /^[\s|+:=-]*$/;

export class TextContext {
  private readonly starts: number[] = [0];
  private blocks: Block[] | null = null;
  private blockOfLine: Int32Array | null = null;

  constructor(readonly text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  lineOf(pos: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  lineStart(line: number): number {
    return this.starts[line]!;
  }

  lineEnd(line: number): number {
    const next = this.starts[line + 1];
    return next === undefined ? this.text.length : next - 1;
  }

  /** Up to ~48 characters before `pos` on its line; with the previous line's tail after an answer prefix. */
  before(pos: number, max = BEFORE): string {
    const line = this.lineOf(pos);
    const ls = this.starts[line]!;
    const own = this.text.slice(Math.max(ls, pos - max), pos);
    if (line === 0 || pos - ls > QUESTION_ANSWER_MAX) return own;
    const prev = line - 1;
    const pe = this.lineEnd(prev);
    // a short prefix opens an answer; a longer one only under a question line
    if (pos - ls > ANSWER_PREFIX_MAX && !/\?\s*$/.test(this.text.slice(Math.max(this.starts[prev]!, pe - 8), pe))) return own;
    return this.text.slice(Math.max(this.starts[prev]!, pe - max), pe) + '\n' + own;
  }

  /**
   * Whether a context word (`re`) occurs shortly before `pos` with nothing numeric between
   * it and `pos` — so "SSN 123-45-6789, MRN 00123456" gives the SSN word to the first value only.
   */
  wordBefore(pos: number, re: RegExp, max = BEFORE): boolean {
    const w = this.before(pos, max);
    let g = GLOBAL.get(re);
    if (!g) {
      g = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
      GLOBAL.set(re, g);
    }
    let lastEnd = -1;
    for (const m of w.matchAll(g)) lastEnd = m.index! + m[0].length;
    return lastEnd >= 0 && !/\d/.test(w.slice(lastEnd));
  }

  /** Up to ~40 characters after `end`, on its line. */
  after(end: number, max = AFTER): string {
    const le = this.lineEnd(this.lineOf(end));
    return this.text.slice(end, Math.min(le, end + max));
  }

  /** The header cell of the table column containing `pos`, or '' when it is not in a table body. */
  header(pos: number): string {
    this.buildTables();
    const line = this.lineOf(pos);
    const b = this.blockOfLine![line]!;
    if (b < 0) return '';
    const block = this.blocks![b]!;
    if (line === block.firstLine) return '';
    const col = countDelims(this.text, this.starts[line]!, pos, block.delim);
    // markdown rows start with the delimiter: the header cells were split the same way
    return block.header[col] ?? '';
  }

  /**
   * Body cells of every table (header row and separator rows excluded) and the values of SQL
   * `INSERT INTO t (col, …) VALUES (…), (…)` statements under their column names; at most 20,000.
   */
  cells(): Array<{ start: number; end: number; header: string }> {
    this.buildTables();
    const out: Array<{ start: number; end: number; header: string }> = [];
    this.sqlCells(out);
    for (const b of this.blocks!) {
      for (let l = b.firstLine + 1; l <= b.lastLine; l++) {
        const s = this.starts[l]!;
        const e = this.lineEnd(l);
        if (SEPARATOR_LINE.test(this.text.slice(s, e))) continue;
        let col = 0;
        let cellStart = s;
        let quoted = false;
        for (let i = s; i <= e; i++) {
          const c = i < e ? this.text[i] : b.delim;
          if (c === '"') quoted = !quoted;
          else if (c === b.delim && !quoted) {
            const header = b.header[col] ?? '';
            if (header !== '' && i > cellStart) out.push({ start: cellStart, end: i, header });
            if (out.length >= 20000) return out;
            col++;
            cellStart = i + 1;
          }
        }
      }
    }
    return out;
  }

  private sqlCells(out: Array<{ start: number; end: number; header: string }>): void {
    const t = this.text;
    if (!/insert/i.test(t)) return;
    for (const m of t.matchAll(SQL_INSERT)) {
      const cols = m[1]!.split(',').map((c) => c.trim().replace(/^[`"'\[]|[`"'\]]$/g, ''));
      let i = m.index! + m[0].length;
      // tuples: ( v, 'v', … ) separated by commas, up to ';' or anything else
      for (let tuple = 0; tuple < 10000 && t[i] === '('; tuple++) {
        i++;
        let col = 0;
        for (;;) {
          while (t[i] === ' ' || t[i] === '\n' || t[i] === '\t') i++;
          let start: number;
          let end: number;
          if (t[i] === "'") {
            start = i + 1;
            let j = start;
            while (j < t.length && !(t[j] === "'" && t[j + 1] !== "'")) j += t[j] === "'" ? 2 : 1;
            end = j;
            i = j + 1;
          } else {
            start = i;
            while (i < t.length && t[i] !== ',' && t[i] !== ')' && t[i] !== '\n') i++;
            end = i;
            while (end > start && t[end - 1] === ' ') end--;
          }
          if (end > start && cols[col]) out.push({ start, end, header: cols[col]! });
          if (out.length >= 20000) return;
          while (t[i] === ' ') i++;
          if (t[i] === ',') {
            i++;
            col++;
            continue;
          }
          break;
        }
        if (t[i] !== ')') break;
        i++;
        while (t[i] === ' ' || t[i] === '\n' || t[i] === '\t') i++;
        if (t[i] !== ',') break;
        i++;
        while (t[i] === ' ' || t[i] === '\n' || t[i] === '\t') i++;
      }
    }
  }

  private buildTables(): void {
    if (this.blocks) return;
    const n = this.starts.length;
    this.blocks = [];
    this.blockOfLine = new Int32Array(n).fill(-1);
    const lineDelim: Array<[string, number] | null> = [];
    for (let l = 0; l < n; l++) {
      const s = this.starts[l]!;
      const e = this.lineEnd(l);
      if (e - s > MAX_ROW || e - s < 3) {
        lineDelim.push(null);
        continue;
      }
      let best: [string, number] | null = null;
      for (const d of DELIMS) {
        const c = countDelims(this.text, s, e, d);
        if (c >= 1 && (!best || c > best[1])) best = [d, c];
      }
      lineDelim.push(best);
    }
    let l = 0;
    while (l < n) {
      const d = lineDelim[l];
      if (!d) {
        l++;
        continue;
      }
      // a block: consecutive lines with the same delimiter and count (separator lines allowed)
      let last = l;
      let rows = 0;
      for (let k = l + 1; k < n; k++) {
        const line = this.text.slice(this.starts[k]!, this.lineEnd(k));
        const dk = lineDelim[k];
        if (SEPARATOR_LINE.test(line) && line.trim() !== '') {
          last = k;
          continue;
        }
        if (!dk || dk[0] !== d[0] || Math.abs(dk[1] - d[1]) > 1) break;
        last = k;
        rows++;
      }
      // two-cell comma lines are often prose; a table needs ≥ 3 columns or a non-comma delimiter
      if (rows >= 1 && (d[0] !== ',' || d[1] >= 2)) {
        const header = splitCells(this.text.slice(this.starts[l]!, this.lineEnd(l)), d[0]);
        const idx = this.blocks.length;
        this.blocks.push({ firstLine: l, lastLine: last, delim: d[0], header });
        for (let k = l; k <= last; k++) this.blockOfLine[k] = idx;
      }
      l = last + 1;
    }
  }
}
