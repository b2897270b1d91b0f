/**
 * Who someone is online, and what they drive:
 *  - URL: links that carry a person — profile URLs (linkedin.com/in/…, github.com/<user>,
 *    x.com/<user>, instagram, facebook, tiktok, medium/@…, mastodon-style /@user, calendly,
 *    about.me, …), links whose query names a person (`?email=`, `?user=`, `?username=`,
 *    `?login=`, `?uid=`), and any link right after a profile word ("profile:", "portfolio",
 *    "my website", "booking page") or on a short `|`/`·`-separated contact line that also
 *    holds an e-mail address or a phone number (signatures). Other links (docs, APIs) stay.
 *  - USERNAME: @handles (not e-mail addresses, npm scopes, decorators or @here/@channel);
 *    users in log lines: `IP - user [date]` (common log format), sshd "Accepted/Failed …
 *    for <user> from", "sudo: <user> :", `/home/<user>`, `/Users/<user>`, `C:\Users\<user>`.
 *  - VEHICLE: VINs with a valid check digit anywhere (17 characters without I/O/Q); VIN-shaped
 *    values ending in a 5-digit serial (European VINs carry no check digit); current UK plates
 *    (`AB12 CDE`, valid age identifier, upper case, with the space).
 *  - DRIVER_LICENSE: UK (DVLA) licence numbers, whose structure encodes a birth date.
 * Scanning is linear: bounded sticky reads from anchors found by simple global regexes.
 */
import { ukLicenceValid, vinShape, vinValid } from './checksums.js';
import type { TextContext } from './textctx.js';
import { type Candidate, CONTEXT_ONLY, VALIDATED, isWordChar } from './util.js';

const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"'`)\]]{1,2000}|(?<![\w.@/-])(?:[a-z]{2,3}\.)?(?:linkedin\.com\/in|github\.com|gitlab\.com|twitter\.com|x\.com|instagram\.com|facebook\.com|fb\.com|tiktok\.com\/@|medium\.com\/@|t\.me|about\.me|calendly\.com|keybase\.io)\/[^\s<>"'`)\]]{1,500}/giu;
const PROFILE_HOSTS =
  /^(?:https?:\/\/)?(?:[a-z0-9-]+\.)*(?:linkedin\.com\/(?:in|pub)\/[^/?#\s]+|(?:github|gitlab|bitbucket)\.(?:com|org)\/(?!(?:orgs|about|features|pricing|topics|marketplace|settings|login|join|explore|sponsors|enterprise|site|collections|trending|apps|search|notifications)(?:[/?#]|$))[^/?#\s]+\/?$|(?:twitter|x|instagram|facebook|fb|threads|tiktok|pinterest|flickr|soundcloud|behance|dribbble|vimeo|twitch|patreon|substack|keybase|about|linktr)\.(?:com|net|me|io|ee|tv)\/@?[^/?#\s]+\/?$|(?:medium\.com|youtube\.com|tiktok\.com)\/@[^/?#\s]+|(?:t\.me|wa\.me|calendly\.com|cal\.com)\/[^?#\s]+|(?:reddit\.com)\/(?:u|user)\/[^/?#\s]+|stackoverflow\.com\/users\/\d+\/[^/?#\s]+)/iu;
const FEDIVERSE = /^(?:https?:\/\/)?[^/\s]{3,100}\/@[A-Za-z0-9_.-]{1,64}\/?$/u;
const MAX_PROFILE_URL = 300;
const PERSON_QUERY = /[?&](?:user(?:name|_?id)?|login|uid|member|customer|patient|name|first_?name|last_?name|phone)=[^&#\s]+/iu;
const PROFILE_WORD = /(?:profile|portfolio|homepage|home page|personal (?:site|website|page)|my (?:site|website|page|blog)|booking (?:page|link)|calendar|calendly|linkedin|github|gitlab|twitter|instagram|mastodon|facebook|tiktok)(?:\s+[\p{L}'’-]+){0,4}\s*[:\-–—(]?\s*$/iu;
const CONTACT_LINE = /[\p{L}\p{N}._%+-]@[\p{L}\p{N}-]+\.\p{L}|\+?\d[\d ()-]{7,}\d/u;

function trimUrl(text: string, start: number, end: number): number {
  while (end > start && /[.,;:!?'"»)]/.test(text[end - 1]!)) end--;
  return end;
}

function findUrls(text: string, out: Candidate[], ctx: TextContext): void {
  if (text.indexOf('.') === -1) return;
  for (const m of text.matchAll(URL_RE)) {
    const start = m.index!;
    if (start > 0 && (text[start - 1] === '@' || text[start - 1] === '/' || text[start - 1] === '.')) continue;
    const end = trimUrl(text, start, start + m[0].length);
    const url = text.slice(start, end);
    const profile = url.length <= MAX_PROFILE_URL && (PROFILE_HOSTS.test(url) || FEDIVERSE.test(url));
    // (a query holding an e-mail address: the address itself is masked as EMAIL, the link stays readable)
    if (profile || (PERSON_QUERY.test(url) && !url.includes('@'))) {
      out.push({ start, end, type: 'URL', score: VALIDATED });
      continue;
    }
    if (!/\/[^/\s]/.test(url.replace(/^https?:\/\//i, ''))) continue; // a bare host names no one
    const line = ctx.lineOf(start);
    const lineText = text.slice(ctx.lineStart(line), ctx.lineEnd(line));
    const contactLine = lineText.length <= 200 && /[|·•]/.test(lineText) && CONTACT_LINE.test(lineText.replace(url, ' '));
    if (PROFILE_WORD.test(ctx.before(start)) || contactLine) {
      out.push({ start, end, type: 'URL', score: CONTEXT_ONLY });
    }
  }
}

/** @handle: not after a word character (e-mail) and not a code annotation or group mention. */
const HANDLE = /(?<![\p{L}\p{N}_.@/\\-])@[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,38}[A-Za-z0-9_])?/gu;
const NOT_HANDLE = new Set(
  'here channel everyone all team home work school office night noon least most once me you us them param returns return throws type types typedef see since author deprecated override interface implementation end property synthesize media import keyframes font-face supports charset namespace page layer tailwind apply extend mixin include if else each for while function component injectable input output module directive pipe test before after beforeeach aftereach entity column table get post put delete patch controller service transactional autowired bean value'.split(' '),
);

const LOG_USER: readonly RegExp[] = [
  // common / combined log format: 203.0.113.9 - alice [10/Oct/2024:13:55:36 +0000]
  /(?:^|\s)[0-9A-Fa-f.:]{3,45} - ([^\s\[\]"-][^\s\[\]"]{0,63}) \[/gmu,
  // sshd
  /\b(?:Accepted|Failed) (?:password|publickey|keyboard-interactive(?:\/pam)?|none|hostbased|gssapi-with-mic) for (?:invalid user )?([^\s]{1,64}) from /gu,
  /\bInvalid user ([^\s]{1,64}) from /gu,
  // sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=…
  /\bsudo(?:\[\d+\])?:\s+([^\s:]{1,64}) : /gu,
  // home directories
  /(?<![\w.:/-])(?:\/home\/|\/Users\/|[A-Za-z]:\\Users\\)([A-Za-z0-9._-]{1,64})(?![\w.-]*\.(?:html?|aspx?|php|jsp)\b)/gu,
];
const SYSTEM_USERS = new Set(['root', 'admin', 'administrator', 'nobody', 'daemon', 'www-data', 'ubuntu', 'ec2-user', 'postgres', 'git', 'jenkins', 'public', 'shared', 'default', 'guest', 'user', 'runner', 'node', 'app', 'oracle', 'test', 'ftp', 'mysql', 'pi', 'support', 'backup', 'deploy', 'ansible', 'centos', 'debian']);

function findUsernames(text: string, out: Candidate[]): void {
  if (text.indexOf('@') !== -1) {
    for (const m of text.matchAll(HANDLE)) {
      const start = m.index!;
      const end = start + m[0].length;
      const name = m[0].slice(1).toLowerCase();
      if (NOT_HANDLE.has(name)) continue;
      const after = text[end];
      if (after === '(' || after === '/' || after === '@' || (after === '.' && isWordChar(text, end + 1))) continue;
      if (!/[a-z]/.test(name)) continue; // "@2.975" (a price), "@5"
      out.push({ start, end, type: 'USERNAME', score: CONTEXT_ONLY });
    }
  }
  for (const re of LOG_USER) {
    for (const m of text.matchAll(re)) {
      const user = m[1]!;
      if (SYSTEM_USERS.has(user.toLowerCase())) continue;
      const start = m.index! + m[0].lastIndexOf(user);
      out.push({ start, end: start + user.length, type: 'USERNAME', score: CONTEXT_ONLY });
    }
  }
}

const VIN_RE = /[A-HJ-NPR-Z0-9]{17}/g;
const UK_PLATE = /[A-Z]{2}(?:0[2-9]|1\d|2[0-9]|5[1-9]|6\d|7[0-9]) [A-Z]{3}/g;
const DVLA = /[A-Z][A-Z9]{4}\d{6}[A-Z9]{2}\d[A-Z]{2}/g;

function findVehicles(text: string, out: Candidate[]): void {
  for (const m of text.matchAll(VIN_RE)) {
    const start = m.index!;
    const end = start + 17;
    if (isWordChar(text, start - 1) || isWordChar(text, end)) continue;
    const v = m[0];
    if (!vinShape(v)) continue;
    if (vinValid(v)) out.push({ start, end, type: 'VEHICLE', score: VALIDATED });
    else if (/^[1-9A-HJ-NPR-Z][A-HJ-NPR-Z0-9]{8}[1-9A-HJ-NPR-TV-Y][A-HJ-NPR-Z0-9]{2}\d{5}$/.test(v) && /[A-Z].*[A-Z].*[A-Z]/.test(v.slice(0, 11)) && !/^[0-9A-F]{17}$/.test(v))
      out.push({ start, end, type: 'VEHICLE', score: CONTEXT_ONLY });
  }
  for (const m of text.matchAll(UK_PLATE)) {
    const start = m.index!;
    const end = start + m[0].length;
    if (isWordChar(text, start - 1) || isWordChar(text, end)) continue;
    out.push({ start, end, type: 'VEHICLE', score: CONTEXT_ONLY });
  }
  for (const m of text.matchAll(DVLA)) {
    const start = m.index!;
    const end = start + m[0].length;
    if (isWordChar(text, start - 1) || isWordChar(text, end) || !ukLicenceValid(m[0])) continue;
    out.push({ start, end, type: 'DRIVER_LICENSE', score: VALIDATED });
  }
}

export function findHandlesAndVehicles(text: string, out: Candidate[], ctx: TextContext): void {
  findUrls(text, out, ctx);
  findUsernames(text, out);
  findVehicles(text, out);
}
