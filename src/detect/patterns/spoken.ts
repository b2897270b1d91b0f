/**
 * Numbers read aloud, as call transcripts write them: "zero seven seven double-oh, nine
 * hundred, three four five" — digit words (zero/oh/nought … nine), "double"/"triple", and
 * "hundred"/"thousand" (two/three zeros), at least seven digits in all, separated by spaces,
 * commas or hyphens. Reported only after a phone word (PHONE) or an account word (BANK_ACCOUNT)
 * on the same line or the question line it answers; score 0.9. One regex with disjoint word
 * and separator classes: linear.
 */
import type { TextContext } from './textctx.js';
import { type Candidate, CONTEXT_ONLY } from './util.js';

const WORD = '(?:(?:double|triple)[ -]+)?(?:zero|oh|nought|one|two|three|four|five|six|seven|eight|nine|hundred|thousand)';
const RUN = new RegExp(`(?<![\\p{L}])${WORD}(?:[ ,-]+${WORD}){3,40}(?![\\p{L}])`, 'giu');
const DIGIT: Record<string, number> = { zero: 1, oh: 1, nought: 1, one: 1, two: 1, three: 1, four: 1, five: 1, six: 1, seven: 1, eight: 1, nine: 1, hundred: 2, thousand: 3 };
const PHONE_WORDS = /(?<![\p{L}])(?:phone|mobile|cell|telephone|tel|number to call|call(?: me| us)?(?: back)? on|call(?: me| us)? at|contact number|landline|whatsapp)(?![\p{L}])/iu;
const ACCOUNT_WORDS = /(?<![\p{L}])(?:account(?: number)?|acct|sort code)(?![\p{L}])/iu;

function digitCount(run: string): number {
  let n = 0;
  let mult = 1;
  for (const w of run.toLowerCase().split(/[ ,-]+/)) {
    if (w === 'double') mult = 2;
    else if (w === 'triple') mult = 3;
    else if (DIGIT[w] !== undefined) {
      // "nine hundred" is 900: the word "hundred" adds two zeros after its digit
      n += w === 'hundred' || w === 'thousand' ? DIGIT[w]! : DIGIT[w]! * mult;
      mult = 1;
    }
  }
  return n;
}

export function findSpokenNumbers(text: string, out: Candidate[], ctx: TextContext): void {
  for (const m of text.matchAll(RUN)) {
    if (digitCount(m[0]) < 7) continue;
    const start = m.index!;
    const before = ctx.before(start, 64);
    const type = PHONE_WORDS.test(before) ? 'PHONE' : ACCOUNT_WORDS.test(before) ? 'BANK_ACCOUNT' : null;
    if (type) out.push({ start, end: start + m[0].length, type, score: CONTEXT_ONLY });
  }
}
