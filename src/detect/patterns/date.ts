/**
 * Dates as written in DOB fields: 1985-03-14, 1985/03/14, 03/14/1985, 14.03.1985, 14-03-85,
 * March 14, 1985, March 14th 1985, 14 March 1985, 14th of March, 1985, Mar 14 1985, Mar. 14, 1985,
 * 14-Mar-1985, 14 Mar 85.
 * `matchDateAt` reads one date starting exactly at `pos` (sticky regexes) and returns its end,
 * or -1. Day and month are range-checked (either order for numeric day/month forms).
 */
const MONTHS =
  'jan(?:uary|\\.)?|feb(?:ruary|\\.)?|mar(?:ch|\\.)?|apr(?:il|\\.)?|may|june?|july?|aug(?:ust|\\.)?|sep(?:t(?:ember)?)?\\.?|oct(?:ober|\\.)?|nov(?:ember|\\.)?|dec(?:ember|\\.)?';
const ORD = '(?:st|nd|rd|th)?';

const ISO = /(\d{4})([-/.])(\d{1,2})\2(\d{1,2})/y;
const NUMERIC = /(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})/y;
const MONTH_FIRST = new RegExp(`(${MONTHS}) ?(\\d{1,2})${ORD},? (\\d{4})`, 'iy');
const DAY_FIRST = new RegExp(`(\\d{1,2})${ORD}[ -](?:of )?(${MONTHS})(?:,? |-)(\\d{4}|\\d{2})`, 'iy');

const dayOk = (d: number) => d >= 1 && d <= 31;
const monthOk = (m: number) => m >= 1 && m <= 12;

function endIfBoundary(text: string, end: number): number {
  const c = text.charCodeAt(end);
  // not followed by a letter or digit ("1985-03-145", "March 14, 19850")
  if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return -1;
  return end;
}

export function matchDateAt(text: string, pos: number): number {
  ISO.lastIndex = pos;
  let m = ISO.exec(text);
  if (m && monthOk(Number(m[3])) && dayOk(Number(m[4]))) return endIfBoundary(text, pos + m[0].length);
  NUMERIC.lastIndex = pos;
  m = NUMERIC.exec(text);
  if (m) {
    const a = Number(m[1]);
    const b = Number(m[3]);
    if ((monthOk(a) && dayOk(b)) || (dayOk(a) && monthOk(b))) return endIfBoundary(text, pos + m[0].length);
  }
  MONTH_FIRST.lastIndex = pos;
  m = MONTH_FIRST.exec(text);
  if (m && dayOk(Number(m[2]))) return endIfBoundary(text, pos + m[0].length);
  DAY_FIRST.lastIndex = pos;
  m = DAY_FIRST.exec(text);
  if (m && dayOk(Number(m[1]))) return endIfBoundary(text, pos + m[0].length);
  return -1;
}
