import { type Candidate, VALIDATED, isWordChar } from './util.js';

/**
 * IP: IPv4 dotted quads (octets 0–255, no leading zeros; exactly four parts, so "1.2.3" and
 * "1.2.3.4.5" are not addresses; "version 1.2.3.4" is skipped) and IPv6 (full, `::`-compressed,
 * IPv4-mapped / embedded). IPv6 candidates are read as maximal runs of hex digits, `:` and `.`
 * and then parsed, which keeps times ("12:30:45") and MAC addresses out.
 */
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`${OCTET}(?:\\.${OCTET}){3}`, 'g');
const IPV4_EXACT = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
// Maximal runs of hex digits, ':' and '.', starting where two colons follow within a few hex
// digits (bounded lookahead) and not inside a word: linear, no backtracking.
const V6_RUN = /(?<![0-9A-Za-z_:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:.]+/g;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const VERSION_WORD = /(?:\bv|\bversion|\bver\.?|\bbuild|\brelease|\bfirmware)\s*$/i;

export function isIPv4(s: string): boolean {
  return IPV4_EXACT.test(s);
}

export function isIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  let groups = 8;
  let body = s;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.') !== -1) {
    if (!isIPv4(s.slice(lastColon + 1))) return false;
    groups = 6;
    body = s.slice(0, lastColon + 1);
    if (body.endsWith('::')) {
      // "::ffff:1.2.3.4" style: keep the double colon
    } else body = body.slice(0, -1);
  }
  const dbl = body.indexOf('::');
  if (dbl !== -1) {
    if (body.indexOf('::', dbl + 1) !== -1) return false;
    const left = body.slice(0, dbl);
    const right = body.slice(dbl + 2);
    const l = left === '' ? [] : left.split(':');
    const r = right === '' ? [] : right.split(':');
    if (![...l, ...r].every((g) => HEX_GROUP.test(g))) return false;
    return l.length + r.length <= groups - 1;
  }
  const parts = body.split(':');
  return parts.length === groups && parts.every((g) => HEX_GROUP.test(g));
}

export function findIps(text: string, out: Candidate[]): void {
  for (const m of text.matchAll(IPV4)) {
    const start = m.index!;
    const end = start + m[0].length;
    if (isWordChar(text, start - 1) || isWordChar(text, end)) continue;
    if (text[start - 1] === '.' && isWordChar(text, start - 2)) continue; // "1.2.3.4.5" tail
    if (text[end] === '.' && isWordChar(text, end + 1)) continue; // "1.2.3.4.5" head
    if (text[start - 1] === ':' && /[0-9A-Fa-f:]/.test(text[start - 2] ?? '')) continue; // inside IPv6 ("::ffff:1.2.3.4")
    if (VERSION_WORD.test(text.slice(Math.max(0, start - 12), start))) continue;
    out.push({ start, end, type: 'IP', score: VALIDATED });
  }
  if (text.indexOf(':') === -1) return;
  for (const m of text.matchAll(V6_RUN)) {
    if (m[0].indexOf(':') === m[0].lastIndexOf(':')) continue; // fewer than two colons
    let start = m.index!;
    let end = start + m[0].length;
    if (isWordChar(text, start - 1) || isWordChar(text, end)) continue;
    // trailing sentence punctuation: "… fe80::1." / "at 2001:db8::1:"
    while (end > start && text[end - 1] === '.') end--;
    if (end - start > 2 && text[end - 1] === ':' && text[end - 2] !== ':') end--;
    // "[2001:db8::1]:443" and "ip=::1" need nothing special; a leading single ':' is not part of it
    if (text[start] === ':' && text[start + 1] !== ':') start++;
    const s = text.slice(start, end);
    if (!isIPv6(s)) continue;
    // "::1"-like addresses with less than two groups of content are too generic to flag
    if ((s.match(/[0-9A-Fa-f]+/g) ?? []).length < 2) continue;
    out.push({ start, end, type: 'IP', score: VALIDATED });
  }
}
